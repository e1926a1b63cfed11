"""Drift findings -> the recalibration plan for the retraining pipeline (pure, schema-checked).

The counterpart of the rollback plan: gate.yaml's ``recalibration:`` section
names the steps (``run`` and ``http``, with timeouts, retries and verify, the
same placeholders ``${model.name}``, ``${model.version}``, ``${target.KEY}``
and ``${env.NAME}``), and ``gate drift`` writes them, substituted, with what
drifted: per check the reference and current data and windows, and per
drifted feature the findings that named it and since when it has drifted.
``gate rollback PLAN`` shows it (dry run) and with ``--execute`` runs it with
the rollback executor: in order, journaled, resumable.

Every ``gate drift`` run builds the plan, drifting or not, so a broken
``recalibration:`` section is an error on the run that introduced it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate.decision import Finding
from gate.errors import ManifestError
from gate.rollback.plan import build_steps, check_plan_steps
from gate.schemas import validate

PLAN_KIND = "gate.recalibration-plan"
PLAN_VERSION = 1


def drifted_features(findings: Iterable[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """(check, feature) -> the findings naming it (their details carry check and feature)."""
    out: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        check, feature = f.details.get("check"), f.details.get("feature")
        if isinstance(check, str) and isinstance(feature, str):
            out.setdefault((check, feature), []).append(f)
    return out


def build_recalibration_plan(
    *,
    model_name: str,
    model_version: str,
    recalibration: Mapping[str, Any],
    reasons: Sequence[Finding],
    findings: Sequence[Finding],
    checks: Sequence[Mapping[str, Any]],
    since: Mapping[str, str],
    ci: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    source: Path | None = None,
) -> dict[str, Any]:
    """The plan: ``reasons`` are the blocking findings, ``findings`` every drift finding (they
    say which features drifted), ``checks`` is input.drift, ``since`` maps "check/feature" to
    when it began drifting."""
    created = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    target = dict(recalibration.get("target") or {})
    steps = build_steps(recalibration.get("steps") or [], model_name=model_name,
                        model_version=model_version, target=target, source=source,
                        section="recalibration")
    named = drifted_features(findings)
    kinds = {(c["name"], f["name"]): f["kind"] for c in checks for f in c["features"]}
    drift = []
    for check in checks:
        drifted = [
            {"feature": feature, "kind": kinds.get((check["name"], feature), "numeric"),
             "since": since.get(f"{check['name']}/{feature}", created),
             "findings": [_finding(f) for f in fs]}
            for (name, feature), fs in named.items() if name == check["name"]
        ]
        if drifted:
            drift.append({"check": check["name"],
                          "reference": _side(check["reference"]),
                          "current": _side(check["current"]), "drifted": drifted})
    plan: dict[str, Any] = {
        "kind": PLAN_KIND,
        "version": PLAN_VERSION,
        "created_at": created,
        "trigger": "drift",
        "model": {"name": model_name, "version": model_version},
        "target": target,
        "reasons": [{"id": f.id, "message": f.message, "severity": f.severity}
                    for f in reasons],
        "drift": drift,
        "steps": steps,
    }
    if ci:
        plan["ci"] = dict(ci)
    validate(plan, "recalibration-plan", path=source.name if source else None,
             what="the recalibration plan gate built from the recalibration section",
             error=ManifestError)
    check_plan_steps(plan["steps"], source, "recalibration")
    return plan


def _side(side: Mapping[str, Any]) -> dict[str, Any]:
    return {"data": side["data"], "rows": side["rows"], "window": side.get("window")}


def _finding(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.id}
    statistic = f.details.get("statistic")
    if isinstance(statistic, str):
        out["statistic"] = statistic
    for key in ("value", "threshold"):
        value = f.details.get(key)
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            out[key] = value
    return out
