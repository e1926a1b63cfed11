"""Policy evaluation with a time limit: a slow policy is an error, never a hang.

Neither in-process engine can be interrupted from Python: regorus holds the
GIL for a whole evaluation, and OPA's bindings offer no cancellation. So the
evaluation runs where it can be abandoned:

* in a forked child process when the process has not started Go's runtime
  (regorus, and the regorus half of ``differential``): the child sends its
  answer back through a pipe, and a child past the limit is killed. A
  :class:`ForkedWorker` is such a child that stays: forked once after the
  policies are compiled, it answers every evaluation of a run over many
  bundles;
* in a daemon thread when OPA's library is loaded (a Go runtime does not
  survive ``fork``; ctypes releases the GIL, so the caller can wait with a
  timeout and walk away from a thread still inside OPA).

Either way the caller gets an EngineError naming the limit, and the pipeline
writes an error decision (exit 2) as for any other engine failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from gate import errors
from gate.errors import EngineError, GateError

T = TypeVar("T")


def _go_runtime_loaded() -> bool:
    engine = sys.modules.get("opa_bindings.engine")
    return getattr(engine, "_lib", None) is not None


def _timeout(seconds: float, what: str) -> EngineError:
    return EngineError(
        f"{what} took longer than {seconds:g} s and was stopped",
        hint="a policy that loops over large inputs (a comprehension over every pair of "
        "artifacts, say) needs rewriting; --eval-timeout raises the limit",
    )


def can_fork() -> bool:
    """Whether a child may be forked to evaluate: not once Go's runtime runs here."""
    return hasattr(os, "fork") and not _go_runtime_loaded()


def call_bounded(fn: Callable[[], T], seconds: float | None, what: str, *,
                 threadable: bool = True) -> T:
    """``fn()``, or an EngineError once ``seconds`` have passed (None or 0: no limit).

    ``threadable`` False says ``fn`` must run on this thread (regorus's engines are
    bound to the thread that made them): where it cannot fork either, because OPA's
    library is already loaded in this process, ``fn`` runs without a limit.
    """
    if not seconds:
        return fn()
    if can_fork():
        return _in_child(fn, seconds, what)
    if not threadable:
        return fn()
    return _in_thread(fn, seconds, what)


def _in_thread(fn: Callable[[], T], seconds: float, what: str) -> T:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            box["error"] = e

    worker = threading.Thread(target=run, name="gate-eval", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _timeout(seconds, what)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _encode_error(e: BaseException) -> dict[str, Any]:
    if isinstance(e, GateError):
        return {"class": type(e).__name__, "message": e.message, "path": e.path,
                "line": e.line, "col": e.col, "pointer": e.pointer, "hint": e.hint}
    return {"class": "EngineError", "message": f"the engine failed: {type(e).__name__}: {e}"}


def _decode_error(doc: dict[str, Any]) -> GateError:
    cls = getattr(errors, str(doc.pop("class")), EngineError)
    if not (isinstance(cls, type) and issubclass(cls, GateError)):
        cls = EngineError
    return cls(doc.pop("message"), **{k: v for k, v in doc.items() if v is not None})


def _in_child(fn: Callable[[], T], seconds: float, what: str) -> T:
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into the caller
        os.close(read_fd)
        try:
            payload: dict[str, Any]
            try:
                payload = {"value": fn()}
            except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
                payload = {"error": _encode_error(e)}
            data = json.dumps(payload).encode("utf-8")
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise _timeout(seconds, what)
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    if not chunks:
        raise EngineError(f"{what} ended without an answer (the evaluating process died)")
    payload = json.loads(b"".join(chunks))
    if "error" in payload:
        raise _decode_error(payload["error"])
    value: T = payload["value"]
    return value


class ForkedWorker:
    """A child process, forked with the compiled policies in its memory, that answers
    requests (JSON in, JSON out) one at a time; one that overruns its limit is killed."""

    def __init__(self, serve: Callable[[Any], Any]) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self._pid = os.fork()
        if self._pid == 0:
            os.close(self._to_child)
            os.close(self._from_child)
            try:
                _serve_forever(serve, to_child_r, from_child_w)
            finally:
                os._exit(0)
        os.close(to_child_r)
        os.close(from_child_w)

    @property
    def alive(self) -> bool:
        return self._pid > 0

    def call(self, request: Any, seconds: float, what: str) -> Any:
        if not self.alive:
            raise EngineError(f"{what}: the evaluating process is gone")
        _send(self._to_child, json.dumps(request).encode("utf-8"))
        try:
            data = _receive(self._from_child, time.monotonic() + seconds)
        except TimeoutError:
            self.close()
            raise _timeout(seconds, what) from None
        if data is None:
            self.close()
            raise EngineError(f"{what} ended without an answer (the evaluating process died)")
        payload = json.loads(data)
        if "error" in payload:
            raise _decode_error(payload["error"])
        return payload["value"]

    def close(self) -> None:
        if self._pid <= 0:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pid = 0


def _send(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None) -> bytes | None:
    head = _read_exactly(fd, 8, deadline)
    if head is None:
        return None
    return _read_exactly(fd, int.from_bytes(head, "little"), deadline)


def _serve_forever(serve: Callable[[Any], Any], requests: int, answers: int) -> None:
    while True:
        data = _receive(requests, None)
        if data is None:
            return
        payload: dict[str, Any]
        try:
            payload = {"value": serve(json.loads(data))}
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            payload = {"error": _encode_error(e)}
        _send(answers, json.dumps(payload).encode("utf-8"))
