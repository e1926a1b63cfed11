"""Findings and the verdict over them: plain immutable data, pure functions.

Nothing here reads a file or calls an engine; reports and the rollback plan
are built from these objects only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Kind = Literal["failure", "warning"]
Effect = Literal["fail", "warn", "waived"]
Outcome = Literal["pass", "warn", "fail"]

SEVERITIES = ("critical", "high", "medium", "low", "info")
ENFORCEMENTS = ("advisory", "soft-mandatory", "hard-mandatory")
DEFAULT_SEVERITY: dict[Kind, str] = {"failure": "high", "warning": "medium"}
DEFAULT_ENFORCEMENT: dict[Kind, str] = {"failure": "soft-mandatory", "warning": "advisory"}


@dataclass(frozen=True)
class Waiver:
    """Why a finding does not block: who approved it, until when, and from where."""

    reason: str
    approved_by: str | None = None
    expires: str | None = None
    source: str = "exceptions"  # "exceptions" (exceptions.yaml) or "rego" (an exception rule)
    rule: str | None = None  # the waiver's own rule pattern
    signoff: tuple[Mapping[str, str], ...] = ()  # verified signatures: role, signer, key, day
    ticket: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires,
            "source": self.source,
            "rule": self.rule,
            "ticket": self.ticket,
            "signoff": [dict(v) for v in self.signoff],
        }


@dataclass(frozen=True)
class Finding:
    """One result of one rule (or one failed expectation) about the release bundle."""

    id: str
    kind: Kind
    message: str
    rule: str  # <package>.<rule>, or gx.<validation>.<expectation> for suites
    title: str = ""
    description: str = ""
    severity: str = ""
    enforcement: str = ""
    remediation: str = ""
    file: str | None = None  # the policy (or suite) that produced it
    line: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    waiver: Waiver | None = None
    waiver_refused: Waiver | None = None  # a waiver that may not apply (hard-mandatory)

    def __post_init__(self) -> None:
        if not self.severity:
            object.__setattr__(self, "severity", DEFAULT_SEVERITY[self.kind])
        if not self.enforcement:
            object.__setattr__(self, "enforcement", DEFAULT_ENFORCEMENT[self.kind])

    @property
    def effect(self) -> Effect:
        """What this finding does to the verdict.

        advisory -> warn; waived (and not hard-mandatory) -> waived;
        soft- or hard-mandatory -> fail.
        """
        if self.enforcement == "advisory":
            return "warn"
        if self.waiver is not None:
            return "waived"
        return "fail"

    def waived(self, waiver: Waiver) -> Finding:
        """This finding under ``waiver``; a hard-mandatory finding records it as refused."""
        if self.enforcement == "hard-mandatory":
            return replace(self, waiver_refused=waiver)
        return replace(self, waiver=waiver)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "kind": self.kind,
            "effect": self.effect,
            "severity": self.severity,
            "enforcement": self.enforcement,
            "title": self.title,
            "description": self.description,
            "message": self.message,
            "remediation": self.remediation,
            "file": self.file,
            "line": self.line,
            "details": dict(self.details),
            "waiver": self.waiver.to_json() if self.waiver else None,
            "waiver_refused": self.waiver_refused.to_json() if self.waiver_refused else None,
        }


def _severity_rank(f: Finding) -> int:
    return SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True)
class Decision:
    """The verdict over a set of findings.

    Exit codes (the README): 0 pass (warnings allowed unless ``fail_on_warn``),
    1 fail. Errors never reach a Decision: they are GateErrors, exit 2.
    """

    findings: tuple[Finding, ...]
    fail_on_warn: bool = False

    @classmethod
    def of(cls, findings: Iterable[Finding], *, fail_on_warn: bool = False) -> Decision:
        """A decision with findings in report order: blocking first, then by severity and id."""
        order = {"fail": 0, "warn": 1, "waived": 2}
        ranked = sorted(
            findings, key=lambda f: (order[f.effect], _severity_rank(f), f.id, f.message)
        )
        return cls(tuple(ranked), fail_on_warn)

    @property
    def outcome(self) -> Outcome:
        effects = {f.effect for f in self.findings}
        if "fail" in effects:
            return "fail"
        if "warn" in effects:
            return "warn"
        return "pass"

    @property
    def blocks(self) -> bool:
        """Whether the deploy must stop."""
        return self.outcome == "fail" or (self.outcome == "warn" and self.fail_on_warn)

    @property
    def blocking(self) -> list[Finding]:
        """The findings that stop the deploy (a warning, under --fail-on-warn): the plan's
        reasons."""
        return [f for f in self.findings
                if f.effect == "fail" or (f.effect == "warn" and self.fail_on_warn)]

    @property
    def exit_code(self) -> int:
        return 1 if self.blocks else 0

    def counts(self) -> dict[str, int]:
        """How many findings fail, warn, are waived, and how many there are."""
        out = {"fail": 0, "warn": 0, "waived": 0}
        for f in self.findings:
            out[f.effect] += 1
        out["total"] = len(self.findings)
        return out
