"""A protocol fixture for OPA's REST API. It is NOT OPA.

No OPA binary can be fetched where these tests run, so this small threaded
HTTP server on 127.0.0.1 answers the documented endpoints that
opa-python-client, and so gate's OPA engine, calls:

* ``GET /health``
* ``GET /v1/policies``, ``GET|PUT|DELETE /v1/policies/{id}``
* ``GET|POST|PUT|PATCH|DELETE /v1/data[/{path}]`` (``If-None-Match: *`` on PUT,
  ``?provenance=true`` on reads, ``{"input": ...}`` on POST)

with OPA's status codes and error bodies (``code``, ``message`` and, for a
module that does not compile, ``errors`` with ``location``). Answers are
computed with regorus, and "compiling" is what regorus reports when it loads
the modules, so this tests the adapter's HTTP behaviour (calls, headers,
retries, error mapping, clean-up), not OPA's semantics; the test marked by
``GATE_TEST_OPA_URL`` does that against a real OPA.

Tests can make calls fail or stall (``fail``), require a bearer token, act
on each request (``on_request``), and read every request it saw (``seen``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")
import regorus  # after the environment tweak, as gate.engines.regorus does

VERSION = "0.0.0-protocol-fixture"
_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<row>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_MISSING = object()


@dataclass(frozen=True)
class Seen:
    """One request as the fixture received it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    """Answer ``times`` requests matching ``method`` and ``prefix`` with ``status``.

    With ``delay_s`` the answer comes that much later; ``status`` 0 then means
    the normal answer.
    """

    method: str
    prefix: str
    status: int
    times: int
    body: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0


class _Answer(Exception):
    def __init__(self, status: int, body: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, code: str, message: str, errors: list[Any] | None = None) -> _Answer:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return _Answer(status, body)


def _regorus_error(exc: BaseException, code: str) -> dict[str, Any]:
    text = str(exc).split("Stack backtrace:", maxsplit=1)[0]
    loc = _LOCATION.search(text)
    msg = _MESSAGE.search(text)
    out: dict[str, Any] = {"code": code, "message": msg.group("msg") if msg else text.strip()}
    if loc:
        out["location"] = {"file": loc.group("file"), "row": int(loc.group("row")),
                           "col": int(loc.group("col"))}
    return out


class OpaProtocolFixture:
    """A local server speaking the OPA REST API subset the gate uses (see the module doc)."""

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.seen: list[Seen] = []
        self.on_request: Callable[[OpaProtocolFixture, Seen], None] | None = None
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions expect

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the tests read `seen` instead

            def _any(self) -> None:
                fixture._handle(self)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a test may leave a delayed answer pending
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # shutdown() waits for the serving loop's next poll: 0.05 s, not the default 0.5 s
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    # --- lifecycle and test controls ------------------------------------------------------

    def start(self) -> OpaProtocolFixture:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OpaProtocolFixture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(self, method: str, prefix: str, status: int = 500, times: int = 1,
             body: dict[str, Any] | None = None, delay_s: float = 0.0) -> None:
        """Make the next ``times`` matching requests answer ``status`` (see Fault)."""
        body = body or {"code": "internal_error", "message": "injected by the test"}
        with self._lock:
            self._faults.append(Fault(method, prefix, status, times, body, delay_s))

    def calls(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen
                    if (method is None or s.method == method) and s.path.startswith(prefix)]

    # --- HTTP -------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        seen = Seen(req.command, req.path, dict(req.headers.items()), body)
        with self._lock:
            self.seen.append(seen)
            fault = self._fault(seen)
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        try:
            with self._lock:
                if fault is not None and fault.status:
                    raise _Answer(fault.status, fault.body)
                if self.token and seen.headers.get("Authorization") != f"Bearer {self.token}":
                    raise _error(401, "unauthorized", "request rejected by administrative policy")
                if self.on_request is not None:
                    self.on_request(self, seen)
                status, answer = self._route(seen)
        except _Answer as a:
            status, answer = a.status, a.body
        payload = b"" if answer is None else json.dumps(answer).encode()
        req.send_response(status)
        if status not in (204, 304):
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        if status not in (204, 304):
            req.wfile.write(payload)

    def _fault(self, seen: Seen) -> Fault | None:
        path = urlsplit(seen.path).path
        for fault in self._faults:
            if fault.times > 0 and fault.method == seen.method and path.startswith(fault.prefix):
                fault.times -= 1
                return fault
        return None

    def _route(self, seen: Seen) -> tuple[int, Any]:
        url = urlsplit(seen.path)
        query = parse_qs(url.query)
        if url.path == "/health" and seen.method == "GET":
            return 200, {}
        if url.path.rstrip("/") == "/v1/policies" and seen.method == "GET":
            return 200, {"result": [self._policy(i) for i in sorted(self.policies)]}
        if url.path.startswith("/v1/policies/"):
            return self._policies(seen.method, unquote(url.path[len("/v1/policies/"):]), seen)
        if url.path == "/v1/data" or url.path.startswith("/v1/data/"):
            segments = [unquote(s) for s in url.path[len("/v1/data"):].split("/") if s]
            return self._data(seen, segments, query)
        raise _error(404, "resource_not_found", f"no such endpoint: {seen.method} {url.path}")

    # --- policies ---------------------------------------------------------------------------

    def _policy(self, pid: str) -> dict[str, Any]:
        raw = self.policies[pid]
        m = _PACKAGE.search(raw)
        path = [{"type": "var", "value": "data"}] + [
            {"type": "string", "value": p} for p in (m.group(1).split(".") if m else [])]
        return {"id": pid, "raw": raw, "ast": {"package": {"path": path}}}

    def _compile(self, policies: dict[str, str]) -> None:
        engine = regorus.Engine()
        for pid, text in policies.items():
            try:
                engine.add_policy(pid, text)
            except BaseException as e:  # regorus panics derive from BaseException
                raise _error(400, "invalid_parameter", "error(s) occurred while compiling "
                             "module(s)", [_regorus_error(e, "rego_parse_error")]) from e
        try:
            engine.eval_query_as_json("true")  # regorus analyses the modules on first use
        except BaseException as e:
            code = "rego_unsafe_var_error" if "unsafe" in str(e) else "rego_compile_error"
            raise _error(400, "invalid_parameter", "error(s) occurred while compiling "
                         "module(s)", [_regorus_error(e, code)]) from e

    def _policies(self, method: str, pid: str, seen: Seen) -> tuple[int, Any]:
        if method == "PUT":
            text = seen.body.decode("utf-8")
            self._compile({**self.policies, pid: text})
            self.policies[pid] = text
            return 200, {}
        if pid not in self.policies:
            raise _error(404, "resource_not_found", f'storage_not_found_error: policy id "{pid}"')
        if method == "GET":
            return 200, {"result": self._policy(pid)}
        if method == "DELETE":
            self._compile({k: v for k, v in self.policies.items() if k != pid})
            del self.policies[pid]
            return 200, {}
        raise _error(405, "invalid_parameter", f"method {method} not allowed")

    # --- data -------------------------------------------------------------------------------

    def _data(self, seen: Seen, segs: list[str], query: dict[str, list[str]]) -> tuple[int, Any]:
        method = seen.method
        if method in ("GET", "POST"):
            return 200, self._read(seen, segs, query)
        if method == "PUT":
            if seen.headers.get("If-None-Match") == "*" and self._exists(segs):
                return 304, None
            self._write(segs, seen.json())
            return 204, None
        if method == "PATCH":
            self._patch(segs, seen.json() or [])
            return 204, None
        if method == "DELETE":
            self._delete(segs)
            return 204, None
        raise _error(405, "invalid_parameter", f"method {method} not allowed")

    def _read(self, seen: Seen, segs: list[str], query: dict[str, list[str]]) -> dict[str, Any]:
        input_doc: Any = _MISSING
        if seen.method == "POST" and seen.body:
            request = seen.json()
            if isinstance(request, dict) and "input" in request:
                input_doc = request["input"]
        answer: dict[str, Any] = {}
        defined, value = self._eval(segs, input_doc)
        if defined:
            answer["result"] = value
        if query.get("provenance", [""])[0].lower() == "true":
            answer["provenance"] = {"version": VERSION, "build_commit": "", "bundles": {}}
        return answer

    def _patch(self, segs: list[str], ops: list[dict[str, Any]]) -> None:
        for op in ops:
            extra = [unquote(p).replace("~1", "/").replace("~0", "~")
                     for p in str(op.get("path", "")).split("/") if p]
            if op.get("op") in ("add", "replace"):
                self._write(segs + extra, op.get("value"))
            elif op.get("op") == "remove":
                self._delete(segs + extra)
            else:
                raise _error(400, "invalid_parameter", f"bad patch operation: {op.get('op')}")

    def _exists(self, segs: list[str]) -> bool:
        node: Any = self.data
        for s in segs:
            if not isinstance(node, dict) or s not in node:
                return False
            node = node[s]
        return True

    def _write(self, segs: list[str], value: Any) -> None:
        if not segs:
            if not isinstance(value, dict):
                raise _error(400, "invalid_parameter", "the root document must be an object")
            self.data = value
            return
        node = self.data
        for s in segs[:-1]:
            node = node.setdefault(s, {})
            if not isinstance(node, dict):
                raise _error(400, "invalid_parameter", f"write conflict at /{'/'.join(segs)}")
        node[segs[-1]] = value

    def _delete(self, segs: list[str]) -> None:
        if not segs or not self._exists(segs):
            raise _error(404, "resource_not_found",
                         f"storage_not_found_error: /{'/'.join(segs)}: document does not exist")
        node = self.data
        for s in segs[:-1]:
            node = node[s]
        del node[segs[-1]]

    def _eval(self, segs: list[str], input_doc: Any) -> tuple[bool, Any]:
        engine = regorus.Engine()
        try:
            for pid, text in self.policies.items():
                engine.add_policy(pid, text)
            engine.add_data_json(json.dumps(self.data))
            if input_doc is not _MISSING:
                engine.set_input_json(json.dumps(input_doc))
            ref = "data" + "".join(f"[{json.dumps(s)}]" for s in segs)
            answer = json.loads(engine.eval_query_as_json(ref))
        except BaseException as e:  # evaluation errors are OPA's 500s
            code = "eval_conflict_error" if "conflict" in str(e) else "eval_builtin_error"
            raise _error(500, "internal_error", "error(s) occurred while evaluating query",
                         [_regorus_error(e, code)]) from e
        results = answer.get("result") or []
        if not results:
            return False, None
        return True, results[0]["expressions"][0]["value"]
