"""`gate rollback PLAN`: a dry run (exit 0); with --execute, run it (0 done, 1 a step failed).

A plan that is missing, not the expected digest, or invalid is an error
(exit 2) naming the file and the JSON path. In CI, --execute is refused on an
event that carries unreviewed code (a pull request, a merge request, a fork:
see ``gate.rollback.trust``) unless --allow-untrusted-execute is given.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from gate.audit.hooks import (
    attestation_options,
    ledger_option,
    require_plan_attestation,
    rollback_hook,
)
from gate.commands.common import debug_option
from gate.errors import RollbackError, UsageError
from gate.rollback.executor import describe, execute, load_plan, plan_journal
from gate.rollback.journal import JOURNAL_DIR_ENV, Progress, journal_dir
from gate.rollback.trust import judge, warning

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
@click.option("--journal-dir", "journal_dir_opt", metavar="DIR",
              help=f"Where journals are kept, one per plan digest (default: ${JOURNAL_DIR_ENV}, "
              "else the plan's folder). Keep it between CI jobs (a cache) so that a fresh copy "
              "of the same plan resumes instead of running its steps again.")
@click.option("--allow-untrusted-execute", is_flag=True,
              help="Execute even on a CI event that runs unreviewed code (a pull request, a "
              "merge request, a fork); gate warns loudly. See docs/security.md.")
@attestation_options
@ledger_option
@debug_option
def rollback(plan: str, do_execute: bool, restart: bool, expect_sha256: str | None,
             journal_dir_opt: str | None, allow_untrusted_execute: bool) -> None:
    """Show (or with --execute, run) a rollback plan; re-runs resume after completed steps."""
    if expect_sha256 is not None and not _SHA256.match(expect_sha256):
        raise UsageError(f"--expect-sha256 '{expect_sha256}' is not a sha256 hex digest",
                         hint="pass the 64 hex digits recorded as rollback_plan.sha256")
    if restart and not do_execute:
        raise UsageError("--restart only applies with --execute",
                         hint="add --execute to run the plan from its first step")
    env = dict(os.environ)
    if do_execute:
        verdict = judge(env)
        if not verdict.trusted and not allow_untrusted_execute:
            raise RollbackError(
                f"refusing to execute a rollback plan in this job: {verdict.reason}; the plan "
                "and the commands it runs would come from code nobody has reviewed",
                hint="execute plans only on a push to the default branch or a protected ref "
                "(a pull request gets a dry run: drop --execute); see docs/security.md. "
                "--allow-untrusted-execute overrides this",
            )
        if not verdict.trusted:
            for line in warning(verdict):
                click.echo(line, err=not line.startswith("::"))
    path = Path(plan)
    loaded = load_plan(path, plan, expect_sha256=expect_sha256)
    require_plan_attestation(loaded.sha256, plan)  # --require-attestation (gate.audit)
    folder = journal_dir(path, journal_dir_opt, env)
    journal = plan_journal(loaded, Path(folder), folder)
    ctx = click.get_current_context()
    if not do_execute:
        progress = Progress.of(journal.records(len(loaded.steps)))
        click.echo("\n".join(describe(loaded, progress, journal)))
        ctx.exit(0)
    audit = rollback_hook(loaded.doc, loaded.sha256, cwd=Path.cwd(), env=env)  # --ledger
    code = execute(loaded, restart=restart, echo=click.echo, journal=journal, audit=audit)
    if audit is not None:
        audit.finish()
    ctx.exit(code)
