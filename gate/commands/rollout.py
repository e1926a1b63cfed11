"""`gate rollout --stage NAME --metrics FILE`: 0 promote, 1 rollback, 3 hold, 2 error.

The click shell: options in, gate.rollout.runner.run_rollout, the summary or the
JSON on stdout, and the audit ledger's record (--ledger) of the judgement.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from gate.audit.hooks import ledger_option, rollout_hook
from gate.commands.common import debug_option
from gate.commands.options import engine_options, engine_settings, policy_options
from gate.reports import EmitContext, emit_all, format_help, parse_format, use_color, with_summary
from gate.rollout.runner import RolloutOptions, run_rollout


@click.command()
@click.option("-c", "--config", metavar="PATH",
              help="The manifest (default: gate.yaml in the working directory).")
@click.option("-s", "--stage", "stage_name", required=True, metavar="NAME",
              help="The rollout stage to judge (a name from rollout.stages).")
@click.option("-m", "--metrics", "metrics", multiple=True, required=True, metavar="FILE",
              help="Monitoring samples: native JSON/YAML, or Prometheus API responses "
              "(repeatable; every sample since the stage began).")
@click.option("-o", "--output-dir", default="gate-report", show_default=True, metavar="DIR",
              help="Where rollout-decision.json, rollout-state.json and the plan go.")
@click.option("--elapsed", metavar="DURATION",
              help="Time the canary has spent at this stage (30s, 5m, 1h).")
@click.option("--started-at", metavar="TIME",
              help="When this stage began (ISO-8601). Default: the stage's first poll.")
@click.option("--reset-state", is_flag=True,
              help="Forget earlier polls: the sequential tests and the bake clock start over.")
@policy_options
@engine_options
@click.option("-f", "--format", "formats", multiple=True, metavar="NAME[=PATH]",
              help=format_help("rollout"))
@ledger_option
@debug_option
def rollout(
    config: str | None, stage_name: str, metrics: tuple[str, ...], output_dir: str,
    elapsed: str | None, started_at: str | None, reset_state: bool, policies: tuple[str, ...],
    data: tuple[str, ...], namespaces: tuple[str, ...], engine: str,
    formats: tuple[str, ...],
    **engine_flags: Any,
) -> None:
    """Judge a canary stage from monitoring data: promote (0), rollback (1) or hold (3)."""
    env, cwd = dict(os.environ), Path.cwd()
    wanted = with_summary("rollout", [parse_format("rollout", f, cwd) for f in formats])
    opts = RolloutOptions(
        stage_name=stage_name, metrics=metrics, config=config, output_dir=output_dir,
        elapsed=elapsed, started_at=started_at, reset_state=reset_state, policies=policies,
        data=data, namespaces=namespaces, engine=engine,
        engine_options=engine_settings(engine=engine, env=env, **engine_flags), env=env,
        cwd=cwd)
    report = run_rollout(opts, on_wait=lambda: click.echo(
        "waiting for another poll of this output folder to finish", err=True))
    emit_all("rollout", report, wanted, EmitContext(
        out_dir=cwd / output_dir, stdout=sys.stdout, color=use_color(sys.stdout, env), env=env))
    # The audit ledger (--ledger; off by default): a failed append is exit 2.
    rollout_hook(report.doc, report.decision_sha256, list(report.inputs), cwd=opts.cwd, env=env)
    click.get_current_context().exit(report.exit_code)
