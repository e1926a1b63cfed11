"""What every command shares and the root group too: --debug, and JSON on stdout.

Kept apart from gate.cli so that no command imports the root of the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta["gate.debug"] = True
    return value


def debug_option(f: F) -> F:
    """``--debug``: show tracebacks (accepted before or after the subcommand)."""
    return click.option(
        "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
        help="Show Python tracebacks for errors (for bug reports).",
    )(f)


def emit_json(value: Any) -> None:
    """Print a JSON document the way every command does."""
    click.echo(json.dumps(value, indent=2, sort_keys=False))
