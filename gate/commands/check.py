"""`gate check`: judge a release bundle; exit 0 pass, 1 fail, 2 error."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from gate.audit.hooks import audit_options, check_hook
from gate.commands.common import debug_option
from gate.commands.options import engine_options, engine_settings, policy_options
from gate.errors import UsageError
from gate.pipeline import CheckOptions, run_check
from gate.reports import format_help, parse_format, with_summary
from gate.reports.write import write_outputs


@click.command()
@click.argument("paths", nargs=-1, metavar="[BUNDLE]...")
@click.option("--all", "all_bundles", is_flag=True,
              help="Judge every bundle (every gate.yaml) under the repository.")
@click.option("--changed-since", metavar="REF",
              help="Keep only the bundles with a file that differs from git REF "
              "(all of them when a --policy or --data path changed).")
@click.option("--files", "as_files", is_flag=True,
              help="The arguments are changed files (as pre-commit passes them): judge the "
              "bundles that hold them.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Worker processes for many bundles (default: the number of cores).")
@click.option("-c", "--config", metavar="PATH",
              help="The manifest (default: gate.yaml in the working directory).")
@policy_options
@click.option("-o", "--output-dir", default="gate-report", show_default=True, metavar="DIR",
              help="Where decision.json, the rollback plan and file reports go.")
@click.option("-f", "--format", "formats", multiple=True, metavar="NAME[=PATH]",
              help=format_help("check"))
@click.option("--fail-on-warn", is_flag=True, help="Block the deploy on warnings too.")
@click.option("--trusted-ref", metavar="REF", envvar="GATE_TRUSTED_REF",
              help="Read policies, data, waivers, sign-off rules and gate.yaml's governance "
              "keys from this git ref (the merge request's target branch), not from the "
              "change. [env: GATE_TRUSTED_REF]")
@click.option("--trusted-bundle", metavar="PATH", envvar="GATE_TRUSTED_BUNDLE",
              help="Read them from this folder or .tar(.gz) instead; needs --trusted-sha256. "
              "[env: GATE_TRUSTED_BUNDLE]")
@click.option("--trusted-sha256", metavar="HEX", envvar="GATE_TRUSTED_SHA256",
              help="The pinned sha256 of --trusted-bundle (`gate trust digest DIR` for a "
              "folder). [env: GATE_TRUSTED_SHA256]")
@engine_options
@audit_options
@debug_option
def check(
    paths: tuple[str, ...],
    all_bundles: bool,
    changed_since: str | None,
    as_files: bool,
    jobs: int | None,
    config: str | None,
    policies: tuple[str, ...],
    data: tuple[str, ...],
    namespaces: tuple[str, ...],
    output_dir: str,
    formats: tuple[str, ...],
    fail_on_warn: bool,
    trusted_ref: str | None,
    trusted_bundle: str | None,
    trusted_sha256: str | None,
    engine: str | None,
    **engine_flags: Any,
) -> None:
    """Judge the release bundle described by gate.yaml: pass, warn or fail.

    BUNDLE is a bundle's folder or its manifest (the same as --config). Several
    BUNDLEs, globs (models/*) or --all judge many bundles in one run: each into
    OUTPUT_DIR/<its path>/, with OUTPUT_DIR/index.json and combined reports; the
    exit code is the worst bundle's.
    """
    cwd = Path.cwd()
    if paths and config:
        raise UsageError("name the bundle once: as BUNDLE or with --config, not both")
    env = dict(os.environ)
    # The verdict and where the reports went stay on stdout unless a document goes there.
    wanted = with_summary("check", [parse_format("check", f, cwd) for f in formats])
    opts = CheckOptions(
        config=config or (paths[0] if paths else None), policy_paths=policies,
        data_paths=data, namespaces=namespaces,
        output_dir=output_dir, fail_on_warn=fail_on_warn, engine=engine,
        engine_options=engine_settings(engine=engine, env=env, **engine_flags),
        cwd=cwd, env=env, trusted_ref=trusted_ref or None,
        trusted_bundle=trusted_bundle or None, trusted_sha256=trusted_sha256 or None,
    )
    if as_files or all_bundles or changed_since or len(paths) > 1 or any(
            set("*?[") & set(p) for p in paths):
        code = _check_many(paths, opts, all_bundles=all_bundles, changed_since=changed_since,
                           as_files=as_files, jobs=jobs, wanted=wanted,
                           governing=(*policies, *data))
        click.get_current_context().exit(code)
    report = run_check(opts)
    out_dir = cwd / output_dir
    # The audit trail (--ledger, --attest-key; off by default): signs and appends before
    # decision.json is written, and fails the run closed (exit 2) once it is.
    audit = check_hook(cwd=cwd, out_dir=out_dir, output_dir=output_dir, env=env)
    if report.error is not None:
        # Fail closed, but still leave decision.json and the file reports (decision
        # "error") for the CI job; the error itself goes to stderr through the handler.
        files = [(name, target) for name, target in wanted if name != "text"]
        write_outputs(report, out_dir, files, stdout=sys.stdout, env=env, before_decision=audit)
        if audit is not None:
            audit.finish()
        raise report.error
    report = write_outputs(report, out_dir, wanted, stdout=sys.stdout, env=env,
                           before_decision=audit)
    if audit is not None:
        audit.finish()
    click.get_current_context().exit(report.exit_code)


def _check_many(paths: tuple[str, ...], template: CheckOptions, *, all_bundles: bool,
                changed_since: str | None, as_files: bool, jobs: int | None,
                wanted: list[tuple[str, Path | None]], governing: tuple[str, ...]) -> int:
    """Many bundles in one run (gate.batch); the worst exit code."""
    from gate.batch import (
        bundles_of_files,
        changed_bundles,
        find_manifests,
        run_batch,
        worst_exit,
    )
    from gate.reports import use_color
    from gate.reports.batch import write_batch_outputs

    if check_hook(cwd=template.cwd, out_dir=template.cwd, output_dir="", env={}) is not None:
        raise UsageError("--ledger and --attest-key record one bundle per run",
                         hint="judge each bundle with its own `gate check` to audit it")
    out_dir = template.cwd / template.output_dir
    def candidates() -> list[Path]:
        if as_files:
            return bundles_of_files(paths, template.cwd)
        return find_manifests(paths, all_bundles=all_bundles, cwd=template.cwd,
                              skip=[out_dir])

    if changed_since:
        manifests = changed_bundles(candidates, changed_since, template.cwd, governing,
                                    every_bundle=all_bundles and not as_files,
                                    skip=[out_dir])
    else:
        manifests = candidates()
    results = run_batch(manifests, template, jobs=jobs)
    write_batch_outputs(results, out_dir, wanted, stdout=sys.stdout, env=template.env,
                        color=use_color(sys.stdout, template.env), cwd=template.cwd)
    if not results:
        since = f" changed since {changed_since}" if changed_since else ""
        click.echo(f"gate: no bundle to judge{since}", err=True)
    return worst_exit(results)
