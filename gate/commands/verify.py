"""`gate verify`: run the policies' unit tests; exit 0 all pass, 1 a test fails, 2 error."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gate.commands.common import debug_option
from gate.reports import EmitContext, emit_all, format_help, parse_format, with_summary
from gate.verify import VerifyOptions, run_verify


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option("-p", "--policy", "policies", multiple=True, metavar="PATH",
              help="A policy file or folder to test, as conftest's --policy (repeatable; "
              "the same as naming it in PATHS).")
@click.option("--engine", type=click.Choice(["auto", "opa-go", "regorus"]), default="auto",
              show_default=True, help="The engine that runs the tests (auto: OPA's Go engine "
              "when installed, else regorus).")
@click.option("-c", "--config", metavar="PATH",
              help="The manifest whose policies and data to test (default: gate.yaml in the "
              "working directory, else the folder policies/).")
@click.option("-d", "--data", "data", multiple=True, metavar="PATH",
              help="JSON/YAML data document or folder for the tests (repeatable).")
@click.option("--library", is_flag=True,
              help="Test the built-in policy library (with its default data).")
@click.option("--coverage", is_flag=True,
              help="Print the line coverage of each policy file (test files excluded).")
@click.option("--coverage-min", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail (exit 1) when total coverage is below PCT percent; implies --coverage.")
@click.option("-f", "--format", "formats", multiple=True, metavar="NAME[=PATH]",
              help=format_help("verify"))
@debug_option
def verify(
    paths: tuple[str, ...],
    policies: tuple[str, ...],
    engine: str,
    config: str | None,
    data: tuple[str, ...],
    library: bool,
    coverage: bool,
    coverage_min: float | None,
    formats: tuple[str, ...],
) -> None:
    """Run every test_* rule in PATHS (files or folders), as `opa test` does.

    Without PATHS: the policies of gate.yaml (or of --config) with the library
    packages it enables, else policies/; with --library alone: the built-in
    library and its own tests.

    A test passes when it is defined and true. Exit 0 all pass, 1 a test fails
    or errors (or coverage is below --coverage-min), 2 a policy does not compile.
    """
    cwd = Path.cwd()
    wanted = with_summary("verify", [parse_format("verify", f, cwd) for f in formats])
    report = run_verify(VerifyOptions(
        paths=(*paths, *policies), config=config, data_paths=data, library=library,
        coverage=coverage, coverage_min=coverage_min, engine=engine, cwd=cwd))
    emit_all("verify", report, wanted,
             EmitContext(out_dir=cwd, stdout=sys.stdout, color=False, env=os.environ))
    click.get_current_context().exit(report.exit_code)
