"""Everything one `gate check` produced: the Decision plus where it came from.

Reporters render a CheckReport and never re-evaluate; ``to_json`` is the
content of decision.json, the one document every other format is derived from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate import __version__
from gate.decision import Decision, Finding
from gate.documents import FileRecord
from gate.errors import GateError

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


def _plural(n: int, one: str) -> str:
    return f"{n} {one if n == 1 else one + 's'}"


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
        phrase = f"{_plural(s['rules'], 'rule')}: {sep.join(rules)}"
        if findings:
            phrase += f"; {_plural(s['total'], 'finding')}: {sep.join(findings)}"
        if s["validations"]:
            phrase += f"; {_plural(s['validations'], 'validation suite')}"
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
