"""The click shell: parse options, call the pipeline, render, return the exit code.

No policy logic lives here. Every GateError ends in the one handler below
(exit 2, one paragraph); anything else is a bug, still exit 2 (fail closed),
with the traceback only under ``--debug``.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gate import __version__
from gate.commands.common import debug_option
from gate.errors import GateError

F = TypeVar("F", bound=Callable[..., Any])

# Subcommands live beside the code they drive and are imported only when run,
# so `gate check` never pays for the rollout statistics or the GX adapter.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("gate.commands.check", "check"),
    "schema": ("gate.commands.schema", "schema"),
    "input": ("gate.commands.input", "input_command"),
    "verify": ("gate.commands.verify", "verify"),
    "rollout": ("gate.commands.rollout", "rollout"),
    "rollback": ("gate.commands.rollback", "rollback"),
    "drift": ("gate.commands.drift", "drift"),
    "doc": ("gate.commands.doc", "doc"),
    "init": ("gate.commands.init", "init"),
    "signoff": ("gate.commands.signoff", "signoff"),
    "trust": ("gate.commands.signoff", "trust"),
    "audit": ("gate.commands.audit", "audit"),
    "attest": ("gate.commands.audit", "attest"),
}


class GateGroup(click.Group):
    """A group whose subcommands load lazily and whose errors all end in one handler."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return None
        try:
            module = importlib.import_module(target[0])
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("gate."):
                return None  # not built yet in this version
            raise
        command: click.Command = getattr(module, target[1])
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GateError as e:
            if ctx.meta.get("gate.debug"):
                traceback.print_exc()
            click.echo(e.render(), err=True)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:  # noqa: BLE001  # fail closed on bugs too, never exit 0
            if ctx.meta.get("gate.debug"):
                traceback.print_exc()
            click.echo(
                f"gate: internal error: {type(e).__name__}: {e}\n"
                "  -> this is a bug in gate, not a verdict on the model; "
                "re-run with --debug and report the traceback",
                err=True,
            )
            ctx.exit(2)


@click.group(cls=GateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gate")
@debug_option
def cli() -> None:
    """gate: a policy-as-code release gate for machine-learning models.

    \b
    Exit codes: 0 pass, 1 fail (the deploy is blocked), 2 error (fail closed).
    `gate rollout`: 0 promote, 1 rollback, 3 hold, 2 error.
    """


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="gate", standalone_mode=True))
