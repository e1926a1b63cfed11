"""The ``http`` step kind: one request with urllib (standard library), checked by its status.

``{url, method?, headers?, body?, expect_status?}``: the method defaults to
POST with a body and GET without; a body that is not a string is sent as JSON.
Success is a status in ``expect_status`` (an integer or a list), else any 2xx.
Redirects are not followed (a 3xx is the answer the status is checked
against), only http and https URLs are accepted, and the timeout bounds the
whole exchange (name lookup, connect, TLS, the headers and the body), not each
socket read alone: a server that drips one byte a second is cut off at the
deadline. At most MAX_BODY bytes of the response are read.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from gate import __version__
from gate.rollback.steps.attempt import Attempt, tail
from gate.rollback.template import Place, render_http, string_places

MAX_BODY = 64 * 1024  # bytes of the response read (its tail goes to the journal)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def _opener(sockets: list[socket.socket]) -> Any:
    """An opener that follows no redirect and hands every socket it opens to ``sockets``."""
    # urllib.request costs ~20 ms to import: only a step runner that sends a request pays it.
    import http.client
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the 3xx surfaces as an HTTPError and is checked like any status

    def tracked(base: type[http.client.HTTPConnection]) -> Any:
        class Tracked(base):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                connect = getattr(self, "_create_connection")  # noqa: B009  # untyped in stubs

                def create(*a: Any, **k: Any) -> socket.socket:
                    sock: socket.socket = connect(*a, **k)
                    sockets.append(sock.dup())  # TLS wraps (and detaches) the original
                    return sock

                self._create_connection = create
        return Tracked

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(tracked(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            settings = {"context": getattr(self, "_context")}  # noqa: B009  # as https_open
            if hasattr(self, "_check_hostname"):  # Python < 3.12
                settings["check_hostname"] = self._check_hostname
            return self.do_open(tracked(http.client.HTTPSConnection), req, **settings)

    return urllib.request.build_opener(NoRedirect, Http, Https)


def _expected(spec: Mapping[str, Any]) -> list[int] | None:
    expect = spec.get("expect_status")
    if expect is None:
        return None
    return [expect] if isinstance(expect, int) else list(expect)


def _method(spec: Mapping[str, Any]) -> str:
    return str(spec.get("method") or ("POST" if "body" in spec else "GET")).upper()


def _read(resp: Any, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = resp.read(min(8192, MAX_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class HttpStep:
    """Send one HTTP request; the status decides."""

    name = "http"

    def problem(self, spec: Any) -> tuple[str, str] | None:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
            return "", "an http step needs an object with a url"
        parts = urlsplit(spec["url"])
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return ".url", f"'{spec['url']}' is not an http(s) URL with a host"
        if _method(spec) not in METHODS:
            return ".method", f"method must be one of {', '.join(METHODS)}"
        headers = spec.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
                isinstance(v, str) for v in headers.values()):
            return ".headers", "headers must map names to strings"
        expected = _expected(spec)
        if expected is not None and not all(
                isinstance(s, int) and 100 <= s <= 599 for s in expected):
            return ".expect_status", "expect_status is a status code or a list of them"
        return None

    def render(self, spec: Any, variables: Mapping[str, str], env: dict[str, str]) -> Any:
        return render_http(spec, variables)

    def strings(self, spec: Any, pointer: str) -> list[Place]:
        return string_places(spec, pointer)

    def describe(self, spec: Any) -> str:
        text = f"{_method(spec)} {spec['url']}"
        if "body" in spec:
            body = spec["body"]
            text += "  " + (body if isinstance(body, str) else json.dumps(body))
        expected = _expected(spec)
        if expected:
            text += f"  (expect {', '.join(map(str, expected))})"
        return text

    def attempt(self, spec: Any, *, timeout_s: float, env: Mapping[str, str]) -> Attempt:
        """One request, bounded as a whole by ``timeout_s``: connect, headers and body.

        The exchange runs in a worker thread; at the deadline every socket it
        opened is shut down (which ends any read, however slowly a server drips
        bytes) and the attempt is over, whatever the worker still does (a DNS
        lookup cannot be interrupted; it is left to finish on its own).
        """
        sockets: list[socket.socket] = []
        result: dict[str, Any] = {}
        deadline = time.monotonic() + timeout_s

        def exchange() -> None:
            try:
                result["answer"] = self._exchange(spec, timeout_s, deadline, sockets)
            except Exception as e:  # noqa: BLE001  # handed to the waiting thread
                result["error"] = e

        worker = threading.Thread(target=exchange, name="gate-http-step", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            _shut(sockets)
            worker.join(1.0)
            return Attempt(False, f"timed out after {timeout_s:g}s", timed_out=True)
        _shut(sockets)
        error = result.get("error")
        if error is not None:
            return self._failure(spec, error, timeout_s)
        status, payload = result["answer"]
        expected = _expected(spec)
        ok = status in expected if expected is not None else 200 <= status < 300
        return Attempt(ok, f"HTTP {status}", tail(payload), status=status)

    @staticmethod
    def _exchange(spec: Any, timeout_s: float, deadline: float,
                  sockets: list[socket.socket]) -> tuple[int, bytes]:
        import urllib.error  # see _opener
        import urllib.request

        headers = {"User-Agent": f"gate/{__version__}", **spec.get("headers", {})}
        data = None
        if "body" in spec:
            body = spec["body"]
            if isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body).encode("utf-8")
                headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(spec["url"], data=data, headers=headers,
                                         method=_method(spec))
        try:
            with _opener(sockets).open(request, timeout=timeout_s) as resp:
                return int(resp.status), _read(resp, deadline)
        except urllib.error.HTTPError as e:  # a status outside 2xx: still an answer
            try:
                return e.code, _read(e, deadline)
            finally:
                e.close()

    @staticmethod
    def _failure(spec: Any, error: BaseException, timeout_s: float) -> Attempt:
        import urllib.error

        timed_out = Attempt(False, f"timed out after {timeout_s:g}s", timed_out=True)
        if isinstance(error, TimeoutError):
            return timed_out
        if isinstance(error, urllib.error.URLError):
            if isinstance(error.reason, TimeoutError):
                return timed_out
            return Attempt(False, f"cannot reach {spec['url']}: {error.reason}")
        if isinstance(error, (OSError, ValueError)) or type(error).__module__ == "http.client":
            # connection reset mid-body, a malformed response, a header that cannot be sent
            return Attempt(False, f"request to {spec['url']} failed: {error}")
        raise error


def _shut(sockets: list[socket.socket]) -> None:
    """End every connection of an attempt (a blocked read returns at once)."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
    sockets.clear()
