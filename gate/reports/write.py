"""Writing what `gate check` decided: decision.json, the rollback plan, and the reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from gate.decision import CheckReport
from gate.fsutil import write_json
from gate.names import DECISION_FILE, PLAN_FILE
from gate.reports import EmitContext, emit_all, use_color


def write_outputs(
    report: CheckReport,
    out_dir: Path,
    formats: Sequence[tuple[str, Path | None]],
    *,
    stdout: TextIO,
    env: Mapping[str, str],
    before_decision: Callable[[CheckReport], CheckReport] | None = None,
) -> CheckReport:
    """Write the plan (if any), then decision.json, then every requested format.

    The plan comes first so decision.json can record its path and sha256: the
    deploy job can then refuse any other plan (`gate rollback --expect-sha256`).
    ``before_decision`` (the audit trail's hook) sees the report once the plan's
    digest is known and may add to it before decision.json is written.
    """
    if report.rollback_plan is not None:
        plan = report.rollback_plan["plan"]
        path = out_dir / PLAN_FILE
        digest = write_json(path, plan)
        shown = str(Path(report.output_dir) / PLAN_FILE)  # as the user named the folder
        report = replace(report, rollback_plan={"plan": plan, "path": shown, "sha256": digest})
    else:
        stale = out_dir / PLAN_FILE
        if stale.exists():  # a plan from an earlier failed run must not be executed by mistake
            stale.unlink()
    if before_decision is not None:
        report = before_decision(report)
    write_json(out_dir / DECISION_FILE, report.to_json())
    ctx = EmitContext(out_dir=out_dir, stdout=stdout, color=use_color(stdout, env), env=env)
    emit_all("check", report, formats, ctx)
    return report

