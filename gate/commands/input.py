"""`gate input`: print the input document policies would see (for writing policies)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gate import ci
from gate.commands.common import debug_option, emit_json
from gate.manifest import find_manifest, load_manifest
from gate.pipeline import build_input


@click.command(name="input")
@click.option("-c", "--config", metavar="PATH", help="The manifest (default: ./gate.yaml).")
@click.option("--with-validations", is_flag=True,
              help="Also run the Great Expectations suites to fill input.validations.")
@click.option("--with-drift", is_flag=True,
              help="Also run the drift checks (gate.yaml `drift:`) to fill input.drift.")
@debug_option
def input_command(config: str | None, with_validations: bool, with_drift: bool) -> None:
    """Print the input document of this bundle, as Rego sees it at `input`."""
    manifest = load_manifest(find_manifest(config, Path.cwd()))
    validations: list[dict[str, Any]] = []
    if with_validations and manifest.validations:
        from gate.validations import run_validations  # heavy, opt-in

        validations, _ = run_validations(manifest)
    drift: list[dict[str, Any]] = []
    if with_drift:
        from gate.drift import run_drift  # reads the data: opt-in

        drift = run_drift(manifest)
    emit_json(build_input(manifest, ci=ci.detect(dict(os.environ)), validations=validations,
                          drift=drift))
