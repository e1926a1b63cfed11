"""Rollback step kinds: one Protocol, one flat registry. A new kind is one module and one line.

A plan step names its kind (``"kind": "run"``) and carries the kind's settings
under the same key (``"run": [...]``); a step's ``verify`` carries exactly one
kind key too. The executor owns retries, backoff, the journal and the
timeout's budget; a kind only knows how to describe and attempt its action once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gate.rollback.steps.attempt import Attempt
from gate.rollback.steps.http import HttpStep
from gate.rollback.steps.run import RunStep
from gate.rollback.template import Place


class StepKind(Protocol):
    """How to check, show and attempt one kind of step."""

    name: str

    def problem(self, spec: Any) -> tuple[str, str] | None:
        """(JSON path suffix, what is wrong) if ``spec`` cannot run, else None."""
        ...

    def render(self, spec: Any, variables: Mapping[str, str], env: dict[str, str]) -> Any:
        """The spec as the plan writes it: gate.yaml's placeholders substituted (a value a
        shell command needs goes into ``env`` instead); TemplateError if one is wrong."""
        ...

    def strings(self, spec: Any, pointer: str) -> list[Place]:
        """Every string of ``spec`` the step runner expands, with its path and whether it
        is shell code (where ``${env.NAME}`` may not stand)."""
        ...

    def describe(self, spec: Any) -> str:
        """The substituted command or request, as the dry run prints it."""
        ...

    def attempt(self, spec: Any, *, timeout_s: float, env: Mapping[str, str]) -> Attempt:
        """Run the action once; never raises for the action's own failure."""
        ...


STEP_KINDS: dict[str, StepKind] = {"run": RunStep(), "http": HttpStep()}

__all__ = ["STEP_KINDS", "Attempt", "StepKind", "kind_of"]


def kind_of(block: Mapping[str, Any]) -> str | None:
    """The one registered kind whose key ``block`` (a step's verify) carries, if exactly one."""
    found = [k for k in STEP_KINDS if k in block]
    return found[0] if len(found) == 1 else None
