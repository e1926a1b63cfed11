"""Policy evaluation with a time limit: a slow policy is an error, never a hang.

Neither in-process engine can be interrupted from Python: regorus holds the
GIL for a whole evaluation, and OPA's bindings offer no cancellation. So the
evaluation runs where it can be abandoned:

* in a forked child process when the process has not started Go's runtime
  (regorus, and the regorus half of ``differential``): the child sends its
  answer back through a pipe, and a child past the limit is killed;
* in a daemon thread when OPA's library is loaded (a Go runtime does not
  survive ``fork``; ctypes releases the GIL, so the caller can wait with a
  timeout and walk away from a thread still inside OPA).

Either way the caller gets an EngineError naming the limit, and the pipeline
writes an error decision (exit 2) as for any other engine failure.
"""

from __future__ import annotations

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
DEFAULT_SECONDS = 120.0


def _go_runtime_loaded() -> bool:
    engine = sys.modules.get("opa_bindings.engine")
    return getattr(engine, "_lib", None) is not None


def _timeout(seconds: float, what: str) -> EngineError:
    return EngineError(
        f"{what} took longer than {seconds:g} s and was stopped",
        hint="a policy that loops over large inputs (a comprehension over every pair of "
        "artifacts, say) needs rewriting; --eval-timeout raises the limit",
    )


def call_bounded(fn: Callable[[], T], seconds: float | None, what: str, *,
                 threadable: bool = True) -> T:
    """``fn()``, or an EngineError once ``seconds`` have passed (None or 0: no limit).

    ``threadable`` False says ``fn`` must run on this thread (regorus's engines are
    bound to the thread that made them): where it cannot fork either, because OPA's
    library is already loaded in this process, ``fn`` runs without a limit.
    """
    if not seconds:
        return fn()
    if hasattr(os, "fork") and not _go_runtime_loaded():
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
