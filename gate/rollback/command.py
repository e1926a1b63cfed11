"""`gate rollback PLAN`: a dry run (exit 0); with --execute, run it (0 done, 1 a step failed).

A plan that is missing, not the expected digest, or invalid is an error
(exit 2) naming the file and the JSON path.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from gate.cli import debug_option
from gate.errors import UsageError
from gate.rollback.executor import describe, execute, load_plan
from gate.rollback.journal import Journal, Progress, journal_path

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@click.command()
@click.argument("plan", metavar="PLAN", default="gate-report/rollback-plan.json")
@click.option("--execute", "do_execute", is_flag=True,
              help="Run the steps (default: print what would run, and exit 0).")
@click.option("--restart", is_flag=True,
              help="With --execute: start from the first step, ignoring earlier runs "
              "(the journal keeps their history).")
@click.option("--expect-sha256", metavar="HEX",
              help="Refuse the plan unless its sha256 is this (rollback_plan.sha256 in "
              "decision.json or rollout-decision.json).")
@debug_option
def rollback(plan: str, do_execute: bool, restart: bool, expect_sha256: str | None) -> None:
    """Show (or with --execute, run) a rollback plan; re-runs resume after completed steps."""
    if expect_sha256 is not None and not _SHA256.match(expect_sha256):
        raise UsageError(f"--expect-sha256 '{expect_sha256}' is not a sha256 hex digest",
                         hint="pass the 64 hex digits recorded as rollback_plan.sha256")
    if restart and not do_execute:
        raise UsageError("--restart only applies with --execute",
                         hint="add --execute to run the plan from its first step")
    path = Path(plan)
    loaded = load_plan(path, plan, expect_sha256=expect_sha256)
    ctx = click.get_current_context()
    if not do_execute:
        progress = Progress.of(Journal(journal_path(path)).records())
        click.echo("\n".join(describe(loaded, progress)))
        ctx.exit(0)
    ctx.exit(execute(loaded, restart=restart, echo=click.echo))
