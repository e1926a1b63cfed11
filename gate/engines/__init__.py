"""Policy engines: one Protocol, a flat registry, adapters imported only when chosen.

An engine compiles the run's Rego modules and data, then evaluates rule
references against an input document. It knows nothing of findings: turning
values into findings is ``gate.engines.results``, shared by every engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gate.errors import UsageError
from gate.policy.source import Module


@dataclass(frozen=True)
class EngineOptions:
    """Settings an engine may use; each adapter reads the ones it knows."""

    opa_url: str | None = None
    opa_token: str | None = None
    opa_mode: str = "upload"
    timeout_s: float = 10.0
    retries: int = 2
    extra: Mapping[str, Any] = field(default_factory=dict)


class PolicyEngine(Protocol):
    """Compile once, then evaluate rule references (``data.<package>.<rule>``)."""

    name: str

    def version(self) -> str:
        """The engine's own version string, recorded in decision.json."""
        ...

    def prepare(self, modules: Sequence[Module], data: Mapping[str, Any]) -> None:
        """Load and compile; PolicyError (with file:line) if a module does not compile."""
        ...

    def evaluate(self, refs: Sequence[str], input_doc: Any | None) -> dict[str, Any]:
        """The value of each ref that is defined; undefined refs are left out.

        ``input_doc`` None means no input at all (as in policy unit tests).
        """
        ...

    def close(self) -> None:
        """Release whatever the engine holds (server-side policies, handles)."""
        ...


# name -> "module:Class"; a new engine is one module and one line here.
ENGINES: dict[str, str] = {
    "regorus": "gate.engines.regorus:RegorusEngine",
    "opa": "gate.engines.opa_server:OpaServerEngine",
}


def get_engine(name: str, options: EngineOptions | None = None) -> PolicyEngine:
    """Instantiate the engine called ``name``."""
    target = ENGINES.get(name)
    if target is None:
        raise UsageError(
            f"unknown engine '{name}'", hint=f"choose one of: {', '.join(sorted(ENGINES))}"
        )
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    engine: PolicyEngine = cls(options or EngineOptions())
    return engine
