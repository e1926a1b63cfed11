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
    eval_timeout_s: float = 120.0  # an in-process evaluation past this is an EngineError
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
    "opa-go": "gate.engines.opa_go:OpaGoEngine",
    "regorus": "gate.engines.regorus:RegorusEngine",
    "opa": "gate.engines.opa_server:OpaServerEngine",
    "differential": "gate.engines.differential:DifferentialEngine",
}
AUTO = "auto"
# What `auto` picks: the first of these that can run here.
PREFERENCE = ("opa-go", "regorus")
CHOICES = (AUTO, *ENGINES)


@dataclass(frozen=True)
class EngineChoice:
    """The engine a run uses, and why: asked for by name, or picked by ``auto``.

    ``fallback`` says why a preferred engine was passed over (None when it was not).
    """

    name: str
    requested: str
    fallback: str | None = None


def choose_engine(requested: str | None) -> EngineChoice:
    """Resolve ``auto`` (or nothing) to the best engine that can run here."""
    requested = requested or AUTO
    if requested != AUTO:
        if requested not in ENGINES:
            raise UsageError(f"unknown engine '{requested}'",
                             hint=f"choose one of: {', '.join(CHOICES)}")
        return EngineChoice(requested, requested)
    from gate.engines.opa_go import unavailable_reason  # cheap: no library is loaded yet

    reason = unavailable_reason()
    if reason is None:
        return EngineChoice(PREFERENCE[0], AUTO)
    return EngineChoice(PREFERENCE[1], AUTO, f"opa-go was not used: {reason}")


def get_engine(name: str, options: EngineOptions | None = None) -> PolicyEngine:
    """Instantiate the engine called ``name``."""
    target = ENGINES.get(name)
    if target is None:
        raise UsageError(
            f"unknown engine '{name}'", hint=f"choose one of: {', '.join(CHOICES)}"
        )
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    engine: PolicyEngine = cls(options or EngineOptions())
    return engine
