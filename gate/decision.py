"""Findings, the verdict over them, and the CheckReport that decision.json is written from.

Plain immutable data and pure functions: nothing here reads a file or calls an
engine. Reporters render a CheckReport and never re-evaluate; its ``to_json``
is the content of decision.json, the one document every other format is
derived from; the rollback plan is built from the blocking findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from gate import __version__
from gate.errors import GateError

if TYPE_CHECKING:
    from gate.documents import FileRecord

Kind = Literal["failure", "warning"]
Effect = Literal["fail", "warn", "waived"]
Outcome = Literal["pass", "warn", "fail"]  # the verdict of a gate check (or of gate drift)

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


DECISION_KIND = "gate.decision"
DECISION_VERSION = 1


@dataclass(frozen=True)
class RuleResult:
    """One evaluated rule: passed when it produced no finding."""

    id: str
    rule: str
    kind: str
    title: str
    file: str | None
    line: int | None
    findings: tuple[Finding, ...] = ()
    description: str = ""  # from the rule's METADATA, for reports that describe every rule
    remediation: str = ""

    @property
    def status(self) -> str:
        """passed, failed, warned or waived: the worst effect among its findings."""
        effects = {f.effect for f in self.findings}
        for effect, status in (("fail", "failed"), ("warn", "warned"), ("waived", "waived")):
            if effect in effects:
                return status
        return "passed"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "kind": self.kind, "title": self.title,
                "file": self.file, "line": self.line, "status": self.status,
                "findings": len(self.findings)}


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 rule``, ``2 rules``; ``many`` where adding an s is wrong (``retries``)."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class CheckReport:
    """The result of one run of `gate check` (decision or error), ready to render."""

    model: Mapping[str, str]
    decision: Decision | None
    error: GateError | None = None
    rules: Sequence[RuleResult] = ()
    validations: Sequence[Mapping[str, Any]] = ()
    inputs: Sequence[FileRecord] = ()
    engine: Mapping[str, str] = field(default_factory=dict)
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    ci: Mapping[str, Any] = field(default_factory=dict)
    created_at: str = ""
    manifest: str | None = None
    output_dir: str = "gate-report"
    rollback_plan: Mapping[str, Any] | None = None  # {"path", "sha256", "plan"}
    notes: Sequence[str] = ()  # things the user should know that are not findings
    governance: Mapping[str, Any] = field(default_factory=dict)  # where the policies came from
    root: str | None = None  # the manifest's folder (absolute); not part of decision.json
    # The audit trail (gate.audit): {"ledger": {...}, "attestation": {...}}, when configured.
    audit: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """pass, warn, fail, or error."""
        return "error" if self.decision is None else self.decision.outcome

    @property
    def exit_code(self) -> int:
        if self.decision is None:
            return self.error.exit_code if self.error else 2
        return self.decision.exit_code

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.decision.findings if self.decision else ()

    def summary(self) -> dict[str, int]:
        counts = self.decision.counts() if self.decision else {
            "fail": 0, "warn": 0, "waived": 0, "total": 0}
        counts["rules"] = len(self.rules)
        for status in ("passed", "failed", "warned", "waived"):
            counts[f"rules_{status}"] = sum(1 for r in self.rules if r.status == status)
        counts["validations"] = len(self.validations)
        return counts

    def counts_phrase(self, sep: str = ", ") -> str:
        """The summary in words, rules and findings counted apart (one rule may report
        several findings): ``32 rules: 27 passed, 4 failed, 1 waived; 6 findings: …``."""
        s = self.summary()
        rules = [f"{s['rules_passed']} passed"] + [
            f"{s[f'rules_{k}']} {k}" for k in ("failed", "warned", "waived") if s[f"rules_{k}"]]
        findings = [f"{s[k]} {word}" for k, word in
                    (("fail", "failing"), ("warn", "warning"), ("waived", "waived")) if s[k]]
        phrase = f"{plural(s['rules'], 'rule')}: {sep.join(rules)}"
        if findings:
            phrase += f"; {plural(s['total'], 'finding')}: {sep.join(findings)}"
        if s["validations"]:
            phrase += f"; {plural(s['validations'], 'validation suite')}"
        return phrase

    def to_json(self) -> dict[str, Any]:
        """decision.json."""
        inputs = [r for r in self.inputs if r.role != "policy"]
        policies = [r for r in self.inputs if r.role == "policy"]
        plan = self.rollback_plan
        return {
            "kind": DECISION_KIND,
            "version": DECISION_VERSION,
            "gate_version": __version__,
            "created_at": self.created_at,
            "decision": self.outcome,
            "exit_code": self.exit_code,
            "fail_on_warn": self.decision.fail_on_warn if self.decision else False,
            "model": dict(self.model),
            "manifest": self.manifest,
            "summary": self.summary(),
            "findings": [f.to_json() for f in self.findings],
            "rules": [r.to_json() for r in self.rules],
            "validations": [dict(v) for v in self.validations],
            "inputs": [vars(r) for r in inputs],
            "policies": [vars(r) for r in policies],
            "engine": dict(self.engine),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "ci": dict(self.ci),
            "rollback_plan": {"path": plan["path"], "sha256": plan["sha256"]} if plan else None,
            "notes": list(self.notes),
            "governance": dict(self.governance),
            "error": self.error.to_json() if self.error else None,
            **{k: dict(v) for k, v in self.audit.items()},
        }
