"""The ``http`` step kind: one request with urllib (standard library), checked by its status.

``{url, method?, headers?, body?, expect_status?}``: the method defaults to
POST with a body and GET without; a body that is not a string is sent as JSON.
Success is a status in ``expect_status`` (an integer or a list), else any 2xx.
Redirects are not followed (a 3xx is the answer the status is checked
against), only http and https URLs are accepted, and the timeout bounds the
whole exchange, not each socket read alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from gate import __version__
from gate.rollback.steps.attempt import Attempt, tail

MAX_BODY = 64 * 1024  # bytes of the response read (its tail goes to the journal)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


@cache
def _opener() -> Any:
    # urllib.request costs ~20 ms to import: only a step runner that sends a request pays it.
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the 3xx surfaces as an HTTPError and is checked like any status

    return urllib.request.build_opener(NoRedirect)


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
        deadline = time.monotonic() + timeout_s
        try:
            try:
                with _opener().open(request, timeout=timeout_s) as resp:
                    status, payload = int(resp.status), _read(resp, deadline)
            except urllib.error.HTTPError as e:  # a status outside 2xx: still an answer
                status, payload = e.code, _read(e, deadline)
                e.close()
        except TimeoutError:
            return Attempt(False, f"timed out after {timeout_s:g}s", timed_out=True)
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError):
                return Attempt(False, f"timed out after {timeout_s:g}s", timed_out=True)
            return Attempt(False, f"cannot reach {spec['url']}: {reason}")
        except (OSError, ValueError) as e:  # connection reset mid-body, malformed response
            return Attempt(False, f"request to {spec['url']} failed: {e}")
        expected = _expected(spec)
        ok = status in expected if expected is not None else 200 <= status < 300
        return Attempt(ok, f"HTTP {status}", tail(payload), status=status)
