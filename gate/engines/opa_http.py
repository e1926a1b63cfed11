"""The HTTP side of the OPA engine: a client that never rewrites policies, and OPA paths.

opa-python-client, as used by ``gate.engines.opa_server``: ``StrictClient``
removes the client's ``rego_compat`` rewriting at its root (no call path can
produce a rewritten policy), retries every call the gate makes, and keeps the
last response so errors can name the call. The helpers turn module paths and
rule refs into OPA's policy ids and Data API paths, and order uploads so each
module finds the names it uses already on the server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from opa_client import OpaClient
from opa_client.errors import (
    ConnectionsError,
    DeleteDataError,
    DeletePolicyError,
    PatchDataError,
    PathNotFoundError,
    PolicyNotFoundError,
    QueryExecuteError,
    RegoParseError,
    TypeException,
)
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gate.errors import EngineError, UsageError
from gate.policy.source import Module

CLAIMS = "gate_claims"  # data.gate_claims.<name>: which run holds a top-level name
POLICY_PREFIX = "gate"  # policy ids: gate/<run-id>/<nnn>/<module path>
RETRY_STATUSES = (500, 502, 503, 504)
# Every call the gate makes is safe to repeat: queries do not write, PUT and
# DELETE are idempotent, and the one PATCH only adds whole top-level values.
RETRY_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"})
# OPA compiles each uploaded module together with those already there; these
# errors can mean a sibling module the gate has not uploaded yet.
MISSING_NAME = re.compile(r"unsafe|undefined function|undefined ref", re.IGNORECASE)
CLIENT_ERRORS = (
    ConnectionsError, DeleteDataError, DeletePolicyError, PatchDataError, PathNotFoundError,
    PolicyNotFoundError, QueryExecuteError, RegoParseError, TypeException, ValueError,
    requests.RequestException,
)


class StrictClient(OpaClient):  # type: ignore[misc]  # opa_client ships no type hints
    """OpaClient that never rewrites a policy, retries every call, and keeps the last response."""

    def __init__(self, base: str, *, backoff: float, **kwargs: Any) -> None:
        self._backoff = backoff
        self.last: requests.Response | None = None
        super().__init__(**kwargs)
        self.root_url = f"{base}/v1"  # keeps a path prefix (OPA behind a proxy) the client drops

    def _prepare_policy_for_upload(self, policy: str, error: Any, rego_compat: bool) -> list[str]:
        # The client's only source of rewritten candidates; the gate wants none, ever.
        return []

    def _init_session(self) -> requests.Session:
        session: requests.Session = super()._init_session()
        retry = Retry(total=self.retries, backoff_factor=self._backoff,
                      status_forcelist=RETRY_STATUSES, allowed_methods=RETRY_METHODS,
                      raise_on_status=False)  # give back OPA's own error body at the end
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(self._record)
        return session

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last = response

    def create_data_if_absent(self, path: str, value: Any) -> bool:
        """PUT data only where none is (``If-None-Match: *``): True if created, False if there."""
        response = self._session.put(f"{self.root_url}/data/{path}", json=value,
                                     headers={"If-None-Match": "*"}, timeout=self.timeout)
        if response.status_code in (204, 304):
            return bool(response.status_code == 204)
        raise requests.HTTPError(f"HTTP {response.status_code}", response=response)

    def server_version(self) -> str:
        """OPA's version, from the provenance of a small Data API read."""
        response = self._session.get(f"{self.root_url}/data/{CLAIMS}",
                                     params={"provenance": "true"}, timeout=self.timeout)
        response.raise_for_status()
        body = response.json()
        provenance = body.get("provenance") if isinstance(body, dict) else None
        version = provenance.get("version") if isinstance(provenance, dict) else None
        return str(version or "unknown")


@dataclass(frozen=True)
class Server:
    base: str  # scheme://netloc[/prefix], no trailing slash
    shown: str  # the same without credentials, for messages
    host: str
    port: int
    tls: bool


def server_address(url: str) -> Server:
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError as e:
        raise UsageError(f"--opa-url {url!r}: {e}") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--opa-url {url!r} is not an http(s) URL",
                         hint="pass the server's base URL, e.g. --opa-url http://localhost:8181")
    path = parts.path.rstrip("/").removesuffix("/v1")
    host = parts.netloc.rpartition("@")[2]
    return Server(f"{parts.scheme}://{parts.netloc}{path}", f"{parts.scheme}://{host}{path}",
                   parts.hostname, port or (443 if parts.scheme == "https" else 80),
                   parts.scheme == "https")


def segment(name: str) -> str:
    return quote(name, safe="")


def ref_path(ref: str) -> str:
    parts = ref.split(".")
    if parts[0] != "data" or len(parts) < 2 or not all(
        re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) for p in parts[1:]
    ):
        raise EngineError(f"the OPA engine asks only for plain rule references, not {ref!r}")
    return "/".join(parts[1:])


def policy_id(run: str, index: int, path: str) -> str:
    shown = re.sub(r"[^A-Za-z0-9._/-]", "_", path).strip("/")
    shown = "/".join(p for p in shown.split("/") if p not in ("", ".", ".."))
    return f"{POLICY_PREFIX}/{run}/{index:03d}/{shown}"


def upload_order(modules: Sequence[Module]) -> list[Module]:
    """Modules ordered so each follows those it names (``data.<pkg>``, or a sibling's rule).

    OPA compiles every upload with what is already on the server, so a module
    calling another's function must come after it. A textual heuristic: the
    upload retries what still misses a name, and reports what never resolves.
    """
    deps: dict[int, set[int]] = {i: set() for i in range(len(modules))}
    for i, m in enumerate(modules):
        own = set(m.rule_names())
        for j, n in enumerate(modules):
            if i == j:
                continue
            if n.package != m.package:
                named = re.search(rf"\bdata\.{re.escape(n.package)}\b", m.text) is not None
            else:
                named = any(re.search(rf"(?<![\w.]){re.escape(r)}\b", m.text)
                            for r in set(n.rule_names()) - own)
            if named:
                deps[i].add(j)
    order: list[int] = []
    while len(order) < len(modules):
        ready = [i for i in range(len(modules)) if i not in order and deps[i] <= set(order)]
        # A cycle: take the first remaining module and let the upload sort it out.
        order.append(ready[0] if ready else next(i for i in range(len(modules))
                                                 if i not in order))
    return [modules[i] for i in order]


