"""The OPA server engine: a running OPA answers, through opa-python-client.

Two modes (``EngineOptions.opa_mode``):

``server``
    The policies are already on the server (an OPA bundle, say). The gate
    only asks the Data API for each rule it reads, ``POST /v1/data/<pkg>/<rule>``
    with ``{"input": ...}``; the run's own data documents are not sent.

``upload`` (default)
    The run's modules are uploaded as policies under a per-run id prefix
    (``gate/<run-id>/...``), its data at its real paths, every rule is asked
    for as above, and everything is deleted again in ``close()``, also after
    a failure. Nothing is rewritten: OPA places a module's rules at its
    *package*, whatever the policy id, and policies read ``data.release.x``;
    putting data under a per-run path would mean rewriting every reference,
    which is evaluating a policy other than the repository's. So a run
    needs the top-level names its packages and data use (``release``,
    ``gate``, ...) to itself, and takes them with *claims*: a document per
    name at ``data.gate_claims.<name>``, created with ``If-None-Match: *``
    (atomic in OPA: a second creator gets 304). A run waits for a name
    another run holds, takes over a claim whose lease has run out (after
    deleting what that run left), refuses a name already used by policies
    or data that no claim covers, and checks after evaluating that its
    claims are still its own. Two runs over the same names are serialised;
    a run stalled past its lease fails closed rather than report a verdict
    another run may have disturbed.

Never a rewritten policy: when OPA rejects a module for v0 syntax,
opa-python-client rewrites it with regexes and uploads it again
(``rego_compat``). ``StrictClient`` (``gate.engines.opa_http``) removes that at its root, so no call
path can produce a rewritten candidate; a refused module is reported with
OPA's file, line and column. Every failure (unreachable, timeout, 4xx, 5xx
after the retries, compile refusal, an undefined package) is a GateError
naming the server and the HTTP call, so ``gate check`` exits 2.

Options beyond EngineOptions' own live in ``EngineOptions.extra``:
``lease_s`` (claim lease, default 900), ``wait_s`` (longest wait for a
claimed name, default 120), ``poll_s`` (0.5) and ``backoff_s`` (retry
backoff factor, 0.3).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError

from gate.engines import EngineOptions
from gate.engines.opa_http import (
    CLAIMS,
    CLIENT_ERRORS,
    MISSING_NAME,
    StrictClient,
    policy_id,
    ref_path,
    segment,
    server_address,
    upload_order,
)
from gate.errors import EngineError, GateError, PolicyError, UsageError
from gate.policy.source import Module

T = TypeVar("T")


class OpaServerEngine:
    """PolicyEngine over a running OPA server's REST API (see the module docstring)."""

    name = "opa"

    def __init__(self, options: EngineOptions | None = None) -> None:
        self._options = options or EngineOptions()
        if not self._options.opa_url:
            raise UsageError("the OPA engine needs the server's URL",
                             hint="pass --opa-url, e.g. --opa-url http://localhost:8181")
        if self._options.opa_mode not in ("upload", "server"):
            raise UsageError(f"unknown OPA mode '{self._options.opa_mode}'",
                             hint="choose --opa-mode upload or --opa-mode server")
        self._server = server_address(self._options.opa_url)
        extra = self._options.extra
        self._lease_s = float(extra.get("lease_s", 900.0))
        self._wait_s = float(extra.get("wait_s", 120.0))
        self._poll_s = float(extra.get("poll_s", 0.5))
        self._backoff_s = float(extra.get("backoff_s", 0.3))
        self._client: StrictClient | None = None
        self._version = "unknown"
        self._run = ""
        self._paths: dict[str, str] = {}  # policy id -> module path, to place OPA's errors
        self._uploaded: list[str] = []  # policy ids in upload order (tried ones included)
        self._data_roots: list[str] = []
        self._claims: list[str] = []
        self._error: GateError | None = None  # raised by this engine, still on its way up
        self._refusal: list[dict[str, Any]] = []  # OPA's errors for the last refused module

    # --- the PolicyEngine Protocol ----------------------------------------------------

    def version(self) -> str:
        return f"{self._version} ({self._options.opa_mode} mode)"

    def prepare(self, modules: Sequence[Module], data: Mapping[str, Any]) -> None:
        try:
            client = self._connect()
            self._version = self._call("read the server's version", "GET",
                                       f"/v1/data/{CLAIMS}?provenance=true",
                                       client.server_version)
            if self._options.opa_mode == "upload":
                self._upload(modules, data)
        except GateError as e:
            self._error = e
            raise

    def evaluate(self, refs: Sequence[str], input_doc: Any | None) -> dict[str, Any]:
        try:
            values: dict[str, Any] = {}
            for ref in refs:
                defined, value = self._query(ref_path(ref), input_doc)
                if defined:
                    values[ref] = value
            self._check_packages(refs, values, input_doc)
            if self._claims:
                self._check_claims()
            return values
        except GateError as e:
            self._error = e
            raise

    def close(self) -> None:
        if self._client is None:
            return
        problems: list[str] = []
        for pid in reversed(self._uploaded):  # dependants first, as OPA recompiles on delete
            self._forget("delete policy", "DELETE", f"/v1/policies/{pid}",
                         self._client.delete_policy, pid, problems=problems)
        for root in self._data_roots:
            self._forget("delete data", "DELETE", f"/v1/data/{segment(root)}",
                         self._client.delete_data, segment(root), problems=problems)
        for root in reversed(self._claims):
            path = f"{CLAIMS}/{segment(root)}"
            self._forget("release a claim", "DELETE", f"/v1/data/{path}",
                         self._client.delete_data, path, problems=problems)
        self._uploaded, self._data_roots, self._claims = [], [], []
        self._client.close_connection()
        self._client = None
        if problems:
            message = (f"cleaning up on OPA at {self._server.shown} failed: "
                       + "; ".join(problems))
            if self._error is not None:  # do not hide the error already on its way up
                self._error.message += f"\n  also: {message}"
                return
            raise EngineError(message, hint=f"delete what gate run {self._run} left on the "
                              "server (policies gate/<run-id>/..., data.gate_claims.<name>)")

    # --- HTTP, and failures as GateErrors ----------------------------------------------

    def _connect(self) -> StrictClient:
        if self._client is None:
            s = self._server
            self._client = StrictClient(
                s.base, backoff=self._backoff_s, host=s.host, port=s.port, ssl=s.tls,
                token=self._options.opa_token, retries=max(0, self._options.retries),
                timeout=self._options.timeout_s,
            )
        return self._client

    def _call(self, purpose: str, method: str, path: str, fn: Callable[..., T],
              *args: Any, **kwargs: Any) -> T:
        client = self._connect()
        client.last = None
        try:
            return fn(*args, **kwargs)
        except CLIENT_ERRORS as e:
            raise self._failure(purpose, f"{method} {path}", e) from e

    def _failure(self, purpose: str, call: str, exc: BaseException) -> GateError:
        s, o = self._server, self._options
        tries = f"{o.retries} retr{'y' if o.retries == 1 else 'ies'}"
        response = self._client.last if self._client is not None else None
        if response is None and isinstance(exc, requests.RequestException):
            reason = exc.args[0] if exc.args else exc
            timed_out = isinstance(exc, requests.Timeout) or isinstance(
                getattr(reason, "reason", None), ReadTimeoutError)
            if timed_out:
                return EngineError(
                    f"OPA at {s.shown} did not answer {call} ({purpose}) within "
                    f"{o.timeout_s:g} s, after {tries}",
                    hint="check the server's load, or raise the timeout (--opa-timeout)")
            why = str(getattr(reason, "reason", None) or reason)
            return EngineError(f"OPA at {s.shown} is unreachable: {call} ({purpose}) failed "
                               f"after {tries}: {why}",
                               hint="check --opa-url and that the server is running")
        if response is None:
            return EngineError(f"OPA at {s.shown}: {call} ({purpose}) failed: {exc}")
        call = f"{response.request.method} {urlsplit(response.url).path}"
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:300]}
        body = body if isinstance(body, dict) else {}
        errors: list[Any] = body["errors"] if isinstance(body.get("errors"), list) else []
        located = [x for x in errors if isinstance(x, dict) and isinstance(x.get("location"), dict)]
        if response.status_code == 400 and located:
            return self._policy_error(call, located, "refused to compile the policy")
        if response.status_code == 500 and any(str(x.get("code")).startswith("eval_")
                                               for x in located):
            return self._policy_error(call, located, "could not evaluate the policy")
        status = response.status_code
        code = body.get("code") or ""
        text = f"{body.get('message') or response.reason}"
        hint = {401: "check the token (--opa-token-env) and OPA's authentication settings",
                403: "OPA's authorization policy refused the call; ask for the rights it needs",
                }.get(status, "fix the server set-up or the call named above, then run again")
        if status >= 500:
            text += f" (after {tries})"
        return EngineError(f"OPA at {s.shown} refused {call} ({purpose}): HTTP {status}"
                           f"{' ' + code if code else ''}: {text}", hint=hint)

    def _policy_error(self, call: str, located: list[dict[str, Any]], what: str) -> PolicyError:
        """OPA's first located error, placed in the repository's file (not the policy id)."""
        self._refusal = located
        first = located[0]
        loc = first["location"]
        file = str(loc.get("file") or "")
        more = "".join(f"; {x.get('message')}" for x in located[1:4])
        return PolicyError(
            f"OPA at {self._server.shown} {what} ({call}): "
            f"{first.get('code', 'error')}: {first.get('message')}{more}",
            path=self._paths.get(file, file) or None,
            line=loc.get("row"), col=loc.get("col"),
            hint="fix the policy at the place named above; gate uploads the repository's "
            "text unchanged, as OPA must evaluate exactly that",
        )

    def _forget(self, purpose: str, method: str, path: str, fn: Callable[..., Any],
                *args: Any, problems: list[str]) -> None:
        """A cleanup DELETE: what is already gone is fine, anything else is noted."""
        try:
            self._call(purpose, method, path, fn, *args)
        except GateError as e:
            last = self._client.last if self._client is not None else None
            if last is None or last.status_code != 404:
                problems.append(e.message)

    def _read(self, path: str, purpose: str) -> tuple[bool, Any]:
        """(defined, value) of ``data/<path>`` without input."""
        client = self._connect()
        try:
            body = self._call(purpose, "GET", f"/v1/data/{path}", client.get_data, path)
        except EngineError:
            if client.last is not None and client.last.status_code == 200:
                return False, None  # 200 without "result": undefined
            raise
        return True, body.get("result")

    def _query(self, path: str, input_doc: Any | None) -> tuple[bool, Any]:
        if input_doc is None:
            return self._read(path, "evaluate without input")
        client = self._connect()
        body = self._call("evaluate", "POST", f"/v1/data/{path}", client.query_rule,
                          input_doc, path.replace("/", "."))
        if not isinstance(body, dict):
            raise EngineError(f"OPA at {self._server.shown}: POST /v1/data/{path} answered "
                              f"{str(body)[:200]!r}, not a Data API response")
        return "result" in body, body.get("result")

    # --- upload mode --------------------------------------------------------------------

    def _upload(self, modules: Sequence[Module], data: Mapping[str, Any]) -> None:
        self._run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)
        ids = {m.path: policy_id(self._run, i, m.path) for i, m in enumerate(modules)}
        self._paths = {pid: path for path, pid in ids.items()}
        roots = sorted({m.package.split(".")[0] for m in modules} | set(data))
        for root in roots:
            mine = [ids[m.path] for m in modules if m.package.split(".")[0] == root]
            self._claim(root, mine, root in data)
        for root in roots:
            defined, _ = self._read(segment(root), f"check that data.{root} is free")
            if defined:
                raise EngineError(
                    f"OPA at {self._server.shown} already has data.{root} (policies or data "
                    "that no gate run claims); upload mode needs the top-level names of its "
                    "packages and data to itself",
                    hint="remove them from the server, point --opa-url at an OPA of its own, "
                    "or ask the policies already there with --opa-mode server")
        client = self._connect()
        for root, value in data.items():
            self._data_roots.append(root)
            path = segment(root)
            if isinstance(value, dict):
                self._call(f"upload data.{root}", "PUT", f"/v1/data/{path}",
                           client.update_or_create_data, value, path)
            else:  # the client PUTs only objects; a JSON Patch at the path takes any value
                self._call(f"upload data.{root}", "PATCH", f"/v1/data/{path}",
                           client.patch_data, path, [{"op": "add", "path": "", "value": value}])
        self._put_policies(upload_order(modules), ids)

    def _put_policies(self, order: list[Module], ids: Mapping[str, str]) -> None:
        """Upload each module once; one that misses a sibling's name waits for the others."""
        client = self._connect()
        pending = order
        while pending:
            waiting: list[tuple[Module, PolicyError]] = []
            for module in pending:
                pid = ids[module.path]
                if pid in self._uploaded:
                    self._uploaded.remove(pid)
                self._uploaded.append(pid)  # before the call: a timed-out PUT may have landed
                self._refusal = []
                try:
                    self._call(f"upload {module.path}", "PUT", f"/v1/policies/{pid}",
                               client.update_policy_from_string, module.text, pid,
                               rego_compat=False)
                except PolicyError as e:
                    if len(pending) > 1 and all(MISSING_NAME.search(str(x.get("message")))
                                                for x in self._refusal):
                        waiting.append((module, e))
                        continue
                    raise
            if len(waiting) == len(pending):
                error = waiting[0][1]
                if len(waiting) > 1:
                    error.message += (
                        f" (modules {', '.join(m.path for m, _ in waiting)} name each other "
                        "across files, which OPA's policy API cannot load one at a time)")
                raise error
            pending = [m for m, _ in waiting]

    def _claim(self, root: str, policies: list[str], has_data: bool) -> None:
        client = self._connect()
        path = f"{CLAIMS}/{segment(root)}"
        deadline = time.monotonic() + self._wait_s
        while True:
            doc = {"run": self._run, "expires": time.time() + self._lease_s,
                   "policies": policies, "data": has_data}
            if self._call(f"claim data.{root}", "PUT", f"/v1/data/{path}",
                          client.create_data_if_absent, path, doc):
                self._claims.append(root)
                return
            defined, held = self._read(path, f"read the claim on data.{root}")
            if not defined:
                continue  # released meanwhile
            expires = held.get("expires") if isinstance(held, dict) else None
            if not isinstance(expires, (int, float)):
                raise EngineError(f"OPA at {self._server.shown}: data.{path.replace('/', '.')} "
                                  f"is not a gate claim: {str(held)[:200]}",
                                  hint=f"remove data.{CLAIMS} from the server")
            if expires < time.time():
                self._take_over(root, held)
                continue
            if time.monotonic() >= deadline:
                raise EngineError(
                    f"OPA at {self._server.shown}: data.{root} is held by gate run "
                    f"{held.get('run')} and stayed busy for {self._wait_s:g} s",
                    hint="run again later; runs that share a top-level package or data name "
                    "take turns on one OPA server")
            time.sleep(self._poll_s)

    def _take_over(self, root: str, stale: Mapping[str, Any]) -> None:
        """Delete what a run whose lease ran out left under ``root``, then its claim."""
        client = self._connect()
        problems: list[str] = []
        for pid in reversed([str(p) for p in stale.get("policies") or []]):
            self._forget("delete a stale run's policy", "DELETE", f"/v1/policies/{pid}",
                         client.delete_policy, pid, problems=problems)
        if stale.get("data"):
            self._forget("delete a stale run's data", "DELETE", f"/v1/data/{segment(root)}",
                         client.delete_data, segment(root), problems=problems)
        if problems:
            raise EngineError(f"OPA at {self._server.shown}: cannot clear what gate run "
                              f"{stale.get('run')} left under data.{root}: "
                              + "; ".join(problems))
        path = f"{CLAIMS}/{segment(root)}"
        self._forget("delete a stale claim", "DELETE", f"/v1/data/{path}", client.delete_data,
                     path, problems=problems)
        if problems:
            raise EngineError("; ".join(problems))

    def _check_claims(self) -> None:
        for root in self._claims:
            path = f"{CLAIMS}/{segment(root)}"
            defined, held = self._read(path, f"confirm the claim on data.{root}")
            if not defined or not isinstance(held, dict) or held.get("run") != self._run:
                raise EngineError(
                    f"OPA at {self._server.shown}: this run's claim on data.{root} was taken "
                    "over while it ran, so another run may have changed what it evaluated",
                    hint="run again; raise the lease (extra lease_s) if runs take that long")

    def _check_packages(self, refs: Sequence[str], values: Mapping[str, Any],
                        input_doc: Any | None) -> None:
        """Fail closed when a package the gate reads is not on the server at all."""
        packages: dict[str, bool] = {}
        for ref in refs:
            pkg = ref.rpartition(".")[0]
            packages[pkg] = packages.get(pkg, False) or ref in values
        for pkg, seen in packages.items():
            if seen or pkg == "data":
                continue
            defined, _ = self._query(ref_path(pkg), input_doc)
            if not defined:
                where = ("the server does not have these policies: load them there (e.g. "
                         "from a bundle) or use --opa-mode upload"
                         if self._options.opa_mode == "server" else
                         "the server lost the policies this run uploaded (several OPA "
                         "instances behind one URL?)")
                raise EngineError(
                    f"OPA at {self._server.shown}: {pkg} is undefined, so none of its rules "
                    f"could be read (POST /v1/data/{ref_path(pkg)})", hint=where)
