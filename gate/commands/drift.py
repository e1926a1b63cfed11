"""`gate drift`: measure data drift on a schedule, without a release; 0 no drift, 1 drift, 2 error.

Runs the manifest's drift checks (``drift:``), evaluates the drift rules
(``gate.drift`` by default, ``--namespace`` for others) on ``input.drift``, and
writes into ``--output-dir``: drift-report.json (every statistic, the
findings, the decision), drift-state.json (since when each feature has
drifted), and, when the rules fail, recalibration-plan.json for the retraining
pipeline (``gate rollback PLAN --execute`` runs it). ``--format github`` and
``--format gitlab`` hand the plan to a later CI job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from gate.commands.common import debug_option
from gate.commands.options import engine_options, engine_settings
from gate.drift.judge import DEFAULT_NAMESPACE, DriftOptions, DriftReport, judge_drift, refused
from gate.errors import GateError
from gate.fsutil import write_json
from gate.names import DRIFT_REPORT_FILE
from gate.reports import EmitContext, emit_all, format_help, parse_format, use_color, with_summary


@click.command()
@click.option("-c", "--config", metavar="PATH",
              help="The manifest (default: gate.yaml in the working directory).")
@click.option("--check", "names", multiple=True, metavar="NAME",
              help="Run only this drift check (repeatable; default: every check).")
@click.option("-o", "--output-dir", default="gate-report", show_default=True, metavar="DIR",
              help="Where drift-report.json, drift-state.json and the recalibration plan go.")
@click.option("-f", "--format", "formats", multiple=True, metavar="NAME[=PATH]",
              help=format_help("drift") + " github appends to $GITHUB_OUTPUT and gitlab "
              "writes gate-drift.env, for a later CI job.")
@click.option("-p", "--policy", "policies", multiple=True, metavar="PATH",
              help="Rego file or folder; replaces the manifest's `policies:` (repeatable).")
@click.option("-d", "--data", "data", multiple=True, metavar="PATH",
              help="JSON/YAML data document or folder, added to the manifest's `data:`.")
@click.option("-n", "--namespace", "namespaces", multiple=True, metavar="PKG",
              help=f"The Rego packages that judge drift (repeatable; default: "
              f"{DEFAULT_NAMESPACE}).")
@click.option("--fail-on-warn", is_flag=True,
              help="Drifting features that only warn (GATE-DRIFT-001) fail the run too.")
@click.option("--reset-state", is_flag=True,
              help="Forget since when features have drifted (drift-state.json) and start over.")
@engine_options
@debug_option
def drift(config: str | None, names: tuple[str, ...], output_dir: str, formats: tuple[str, ...],
          policies: tuple[str, ...], data: tuple[str, ...], namespaces: tuple[str, ...],
          fail_on_warn: bool, reset_state: bool, engine: str | None,
          **engine_flags: Any) -> None:
    """Measure drift between reference and current data; write a recalibration plan on drift."""
    cwd, env = Path.cwd(), dict(os.environ)
    wanted = with_summary("drift", [parse_format("drift", f, cwd) for f in formats])
    try:
        settings = engine_settings(engine=engine, env=env, **engine_flags)
    except GateError as e:
        result = refused(output_dir, e)
    else:
        result = judge_drift(DriftOptions(
            config=config, names=names, output_dir=output_dir, policies=policies, data=data,
            namespaces=namespaces, fail_on_warn=fail_on_warn, reset_state=reset_state,
            engine=engine, engine_options=settings, cwd=cwd, env=env,
        ), on_wait=lambda: click.echo("waiting for another gate drift run on this output "
                                      "folder", err=True))
    _emit(result, wanted, cwd / output_dir, env)
    if result.error is not None:
        raise result.error
    click.get_current_context().exit(result.exit_code)


def _emit(result: DriftReport, wanted: Sequence[tuple[str, Path | None]], out_dir: Path,
          env: Mapping[str, str]) -> None:
    try:
        write_json(out_dir / DRIFT_REPORT_FILE, result.doc)
        emit_all("drift", result, wanted, EmitContext(
            out_dir=out_dir, stdout=sys.stdout, color=use_color(sys.stdout, env), env=env))
    except GateError:
        if result.error is None:
            raise
        return  # already failing: the first error is the one to report
    sys.stdout.flush()
