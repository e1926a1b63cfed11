"""`gate schema NAME`: print a published JSON Schema (for editors and other tools)."""

from __future__ import annotations

import click

from gate.commands.common import debug_option, emit_json
from gate.schemas import SCHEMAS, load_schema


@click.command()
@click.argument("name", type=click.Choice(SCHEMAS), default="manifest")
@debug_option
def schema(name: str) -> None:
    """Print the JSON Schema of NAME (manifest, input, decision, rollback-plan, ...)."""
    emit_json(load_schema(name))
