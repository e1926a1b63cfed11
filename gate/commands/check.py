"""`gate check`: judge a release bundle; exit 0 pass, 1 fail, 2 error."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gate.cli import debug_option
from gate.engines import ENGINES, EngineOptions
from gate.errors import UsageError
from gate.outputs import write_outputs
from gate.pipeline import CheckOptions, run_check
from gate.reports import parse_format


@click.command()
@click.option("-c", "--config", metavar="PATH",
              help="The manifest (default: gate.yaml in the working directory).")
@click.option("-p", "--policy", "policies", multiple=True, metavar="PATH",
              help="Rego file or folder; replaces the manifest's `policies:` (repeatable).")
@click.option("-d", "--data", "data", multiple=True, metavar="PATH",
              help="JSON/YAML data document or folder, added to the manifest's `data:`.")
@click.option("-n", "--namespace", "namespaces", multiple=True, metavar="PKG",
              help="Only evaluate this Rego package and those under it (repeatable).")
@click.option("-o", "--output-dir", default="gate-report", show_default=True, metavar="DIR",
              help="Where decision.json, the rollback plan and file reports go.")
@click.option("-f", "--format", "formats", multiple=True, metavar="NAME[=PATH]",
              help="text, json, sarif, junit, markdown, github, gitlab (repeatable). "
              "Default: text on stdout.")
@click.option("--fail-on-warn", is_flag=True, help="Block the deploy on warnings too.")
@click.option("--engine", type=click.Choice(sorted(ENGINES)), default="regorus",
              show_default=True, help="The Rego engine.")
@click.option("--opa-url", metavar="URL", help="OPA server URL (with --engine opa).")
@click.option("--opa-token-env", metavar="VAR",
              help="Environment variable holding the OPA bearer token.")
@click.option("--opa-mode", type=click.Choice(["upload", "server"]), default="upload",
              show_default=True, help="upload: send this run's policies; server: query "
              "policies already on the server.")
@debug_option
def check(
    config: str | None,
    policies: tuple[str, ...],
    data: tuple[str, ...],
    namespaces: tuple[str, ...],
    output_dir: str,
    formats: tuple[str, ...],
    fail_on_warn: bool,
    engine: str,
    opa_url: str | None,
    opa_token_env: str | None,
    opa_mode: str,
) -> None:
    """Judge the release bundle described by gate.yaml: pass, warn or fail."""
    cwd = Path.cwd()
    env = dict(os.environ)
    wanted = [parse_format(f, cwd) for f in formats] or [("text", None)]
    if engine == "opa" and not opa_url:
        raise UsageError("--engine opa needs --opa-url", hint="pass the OPA server's base URL")
    token = None
    if opa_token_env:
        token = env.get(opa_token_env)
        if not token:
            raise UsageError(f"--opa-token-env {opa_token_env}: the variable is not set")
    opts = CheckOptions(
        config=config, policy_paths=policies, data_paths=data, namespaces=namespaces,
        output_dir=output_dir, fail_on_warn=fail_on_warn, engine=engine,
        engine_options=EngineOptions(opa_url=opa_url, opa_token=token, opa_mode=opa_mode),
        cwd=cwd, env=env,
    )
    report = run_check(opts)
    out_dir = cwd / output_dir
    if report.error is not None:
        # Fail closed, but still leave decision.json (decision "error") for the CI job.
        write_outputs(report, out_dir, [], stdout=sys.stdout, env=env)
        raise report.error
    report = write_outputs(report, out_dir, wanted, stdout=sys.stdout, env=env)
    click.get_current_context().exit(report.exit_code)
