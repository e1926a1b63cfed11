"""`gate rollout`'s formats: the terminal summary of one poll, and rollout-decision.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.fsutil import dump_json
from gate.names import ROLLOUT_DECISION_FILE
from gate.reports import DocumentReporter, EmitContext
from gate.rollout.judge import Check, RolloutDecision
from gate.rollout.runner import RolloutReport


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _check_line(c: Check) -> str:
    obs = c.observed
    canary, baseline = obs.get("canary"), obs.get("baseline")
    compares = c.test or "max_increase" in c.analysis or "max_decrease" in c.analysis
    parts = []
    if canary:
        parts.append(f"canary mean {_fmt(canary['mean'])} (n={canary['n']})")
    if baseline and compares:
        parts.append(f"baseline {_fmt(baseline['mean'])} (n={baseline['n']})")
        if obs.get("relative_change") is not None:
            parts.append(f"{obs['relative_change'] * 100:+.1f}%")
    if c.test:
        p = c.test.get("p_value")
        label = "always-valid p" if c.test["name"] == "sequential" else "p"
        parts.append(f"{c.test['name']} {label}={_fmt(p)}")
    line = f"  {c.outcome.upper():<5} {c.metric:<14} {', '.join(parts)}".rstrip()
    return "\n".join([line, *(f"        {r}" for r in c.reasons if c.outcome != "pass")])


def render_text(doc: Mapping[str, Any], decision: RolloutDecision) -> str:
    """The terminal summary of one poll."""
    stage = doc["stage"]
    lines = [f"gate rollout: {doc['model']['name']} {doc['model']['version']}, stage "
             f"{stage['name']} ({stage['weight']:g}% of traffic)"]
    lines += [_check_line(c) for c in decision.checks]
    policies = doc["policies"]
    denials = sum(1 for f in decision.findings if f.effect == "fail")
    lines.append(f"  policies: {policies['rules']} rule(s), {denials} denial(s), "
                 f"{len(decision.findings) - denials} other finding(s)")
    verdict = decision.verdict
    nxt = doc["next_stage"]
    head = f"Decision: {verdict.upper()} (exit {decision.exit_code})"
    if verdict == "promote":
        head += (f": go to {nxt['name']} ({nxt['weight']:g}% of traffic)" if nxt
                 else ": the last stage passed; the rollout is complete")
    lines.append(head)
    lines += [f"  - {r}" for r in decision.reasons]
    if verdict == "hold":
        lines.append(f"  -> keep {stage['weight']:g}% of traffic and poll again")
    for note in doc["notes"]:
        lines.append(f"note: {note}")
    out = doc["output_dir"]
    lines.append(f"wrote {out}/{ROLLOUT_DECISION_FILE}")
    if doc["rollback_plan"]:
        lines.append(f"Rollback plan: {doc['rollback_plan']['path']} (sha256 "
                     f"{doc['rollback_plan']['sha256'][:12]}); review it with `gate rollback "
                     f"{doc['rollback_plan']['path']}`")
    return "\n".join(lines)


class TextReporter(DocumentReporter[RolloutReport]):
    name = "text"

    def render(self, report: RolloutReport, ctx: EmitContext) -> str:
        return render_text(report.doc, report.decision)


class JsonReporter(DocumentReporter[RolloutReport]):
    """rollout-decision.json, exactly as written to the output folder."""

    name = "json"

    def render(self, report: RolloutReport, ctx: EmitContext) -> str:
        return dump_json(report.to_json())
