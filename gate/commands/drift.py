"""`gate drift`: measure data drift on a schedule, without a release; 0 no drift, 1 drift, 2 error.

Runs the manifest's drift checks (``drift:``), evaluates the drift rules
(``gate.drift`` by default, ``--namespace`` for others) on ``input.drift``, and
writes into ``--output-dir``: drift-report.json (every statistic, the
findings, the decision), drift-state.json (since when each feature has
drifted), and, when the rules fail, recalibration-plan.json for the retraining
pipeline (``gate rollback PLAN --execute`` runs it). ``--format github`` and
``--format gitlab`` hand the plan to a later CI job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from gate import __version__
from gate.commands.common import debug_option
from gate.commands.options import engine_options, engine_settings
from gate.decision import Decision, Finding
from gate.errors import DriftError, GateError, ManifestError
from gate.fsutil import exclusive_lock, write_json
from gate.manifest import Manifest, find_manifest, load_manifest
from gate.names import DRIFT_REPORT_FILE, DRIFT_STATE_FILE, RECALIBRATION_PLAN_FILE
from gate.reports import EmitContext, emit_all, format_help, parse_format, use_color, with_summary
from gate.reports import drift as report

DEFAULT_NAMESPACE = "gate.drift"


def _plan(manifest: Manifest, reasons: Sequence[Finding], findings: Sequence[Finding],
          checks: Sequence[Mapping[str, Any]], since: Mapping[str, str],
          ci: Mapping[str, Any]) -> dict[str, Any]:
    from gate.drift.plan import build_recalibration_plan

    return build_recalibration_plan(
        model_name=manifest.model_name, model_version=manifest.model_version,
        recalibration=manifest.recalibration, reasons=reasons, findings=findings,
        checks=checks, since=since, ci=ci, source=manifest.path)


def _judge(manifest: Manifest, checks: list[dict[str, Any]], opts: Mapping[str, Any]
           ) -> tuple[Decision, Any, dict[str, Any], list[str]]:
    """The drift rules' decision on input.drift (with enforcement and waivers)."""
    from gate import ci as ci_mod
    from gate.engines import choose_engine
    from gate.pipeline import build_input, evaluate_policies
    from gate.waivers import apply_enforcement, apply_waivers, load_signoff, load_waivers

    ci = ci_mod.detect(opts["env"])
    input_doc = build_input(manifest, ci=ci, drift=checks)
    run = evaluate_policies(
        manifest, input_doc, policy_paths_cli=opts["policies"], data_paths_cli=opts["data"],
        namespaces=opts["namespaces"], engine=choose_engine(opts["engine"] or manifest.engine),
        engine_options=opts["engine_options"], cwd=opts["cwd"])
    if not any(s.name != "exception" for s in run.sites):
        raise DriftError(
            f"no drift rule was evaluated (namespaces {', '.join(opts['namespaces'])})",
            path=manifest.path.name,
            hint="turn on the library's drift package (`library: true`, or list drift) or "
                 "name your own packages with --namespace; a drift run with no rules never "
                 "passes")
    findings = apply_enforcement(run.findings, manifest.enforcement, manifest.path.name)
    findings, notes = apply_waivers(
        findings, load_waivers(manifest), signoff=load_signoff(manifest),
        model=manifest.model_name, version=manifest.model_version,
        today=datetime.now(timezone.utc).date())
    return Decision.of(findings, fail_on_warn=opts["fail_on_warn"]), run, ci, notes


@click.command()
@click.option("-c", "--config", metavar="PATH",
              help="The manifest (default: gate.yaml in the working directory).")
@click.option("--check", "names", multiple=True, metavar="NAME",
              help="Run only this drift check (repeatable; default: every check).")
@click.option("-o", "--output-dir", default="gate-report", show_default=True, metavar="DIR",
              help="Where drift-report.json, drift-state.json and the recalibration plan go.")
@click.option("-f", "--format", "formats", multiple=True, metavar="NAME[=PATH]",
              help=format_help("drift") + " github appends to $GITHUB_OUTPUT and gitlab "
              "writes gate-drift.env, for a later CI job.")
@click.option("-p", "--policy", "policies", multiple=True, metavar="PATH",
              help="Rego file or folder; replaces the manifest's `policies:` (repeatable).")
@click.option("-d", "--data", "data", multiple=True, metavar="PATH",
              help="JSON/YAML data document or folder, added to the manifest's `data:`.")
@click.option("-n", "--namespace", "namespaces", multiple=True, metavar="PKG",
              help=f"The Rego packages that judge drift (repeatable; default: "
              f"{DEFAULT_NAMESPACE}).")
@click.option("--fail-on-warn", is_flag=True,
              help="Drifting features that only warn (GATE-DRIFT-001) fail the run too.")
@click.option("--reset-state", is_flag=True,
              help="Forget since when features have drifted (drift-state.json) and start over.")
@engine_options
@debug_option
def drift(config: str | None, names: tuple[str, ...], output_dir: str, formats: tuple[str, ...],
          policies: tuple[str, ...], data: tuple[str, ...], namespaces: tuple[str, ...],
          fail_on_warn: bool, reset_state: bool, engine: str | None,
          **engine_flags: Any) -> None:
    """Measure drift between reference and current data; write a recalibration plan on drift."""
    cwd, env = Path.cwd(), dict(os.environ)
    wanted = with_summary("drift", [parse_format("drift", f, cwd) for f in formats])
    out_dir = cwd / output_dir
    now = datetime.now(timezone.utc)
    doc: dict[str, Any] = {
        "kind": report.KIND, "version": report.VERSION, "gate_version": __version__,
        "created_at": now.isoformat(timespec="seconds"), "model": {}, "manifest": None,
        "decision": "error", "exit_code": 2, "checks": [], "drifted": [], "findings": [],
        "recalibration_plan": None, "state": None, "policies": None, "engine": {},
        "notes": [], "ci": {}, "output_dir": output_dir, "error": None,
    }
    try:
        settings = engine_settings(engine=engine, env=env, **engine_flags)
        manifest = load_manifest(find_manifest(config, cwd))
        doc["manifest"] = manifest.path.name
        doc["model"] = {"name": manifest.model_name, "version": manifest.model_version}
        if not manifest.drift:
            raise ManifestError("the manifest has no drift: section", path=manifest.path.name,
                                pointer="$.drift",
                                hint="add drift: [{name, reference, current, features}] "
                                     "(docs/drift.md, `gate schema manifest`)")
        # Every run builds the plan (nothing runs): a broken recalibration section is an
        # error now, not on the day the data drifts.
        _plan(manifest, [], [], [], {}, {})
        from gate.drift import run_drift

        checks = run_drift(manifest, names)
        doc["checks"] = checks
        judged_by = list(namespaces or (DEFAULT_NAMESPACE,))
        opts: dict[str, Any] = {
            "env": env, "policies": policies, "data": data, "namespaces": judged_by,
            "engine": engine, "engine_options": settings, "cwd": cwd,
            "fail_on_warn": fail_on_warn}
        decision, run, ci, notes = _judge(manifest, checks, opts)
        doc.update(_written(manifest, decision, checks, ci, out_dir, output_dir, reset_state))
        doc.update({
            "decision": decision.outcome, "exit_code": decision.exit_code,
            "findings": [f.to_json() for f in decision.findings], "engine": run.engine,
            "policies": {"namespaces": judged_by, "modules": len(run.modules),
                         "rules": sum(1 for s in run.sites if s.name != "exception")},
            "notes": notes, "ci": ci,
        })
    except GateError as e:
        doc["error"] = e.to_json()
        _emit(doc, wanted, out_dir, env, None)
        raise
    _emit(doc, wanted, out_dir, env, decision)
    click.get_current_context().exit(decision.exit_code)


def _written(manifest: Manifest, decision: Decision, checks: list[dict[str, Any]],
             ci: Mapping[str, Any], out_dir: Path, output_dir: str,
             reset_state: bool) -> dict[str, Any]:
    """Update drift-state.json and write (or remove) the plan, under the folder's lock."""
    from gate.drift.plan import drifted_features
    from gate.drift.state import advance, load_state, save_state

    model = {"name": manifest.model_name, "version": manifest.model_version}
    drift_findings = [f for f in decision.findings if f.effect != "waived"]
    drifting = [f"{c}/{f}" for c, f in drifted_features(drift_findings)]
    lock = out_dir / f".{DRIFT_STATE_FILE}.lock"
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock, f"{output_dir}/{lock.name}", error=DriftError,
                        on_wait=lambda: click.echo("waiting for another gate drift run on "
                                                   "this output folder", err=True)):
        state_shown = f"{output_dir}/{DRIFT_STATE_FILE}"
        before = {} if reset_state else load_state(out_dir / DRIFT_STATE_FILE, state_shown,
                                                   model=model)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        features = advance(before, drifting, now)
        plan_ref = None
        path = out_dir / RECALIBRATION_PLAN_FILE
        if decision.blocks:
            plan = _plan(manifest, decision.blocking, drift_findings, checks,
                         {k: v["since"] for k, v in features.items()}, ci)
            plan_ref = {"path": f"{output_dir}/{RECALIBRATION_PLAN_FILE}",
                        "sha256": write_json(path, plan)}
        elif path.exists():  # a plan from an earlier run must not start a retraining by mistake
            path.unlink()
        state_sha = save_state(out_dir / DRIFT_STATE_FILE, model, features)
    return {"drifted": drifting, "recalibration_plan": plan_ref,
            "state": {"path": state_shown, "sha256": state_sha, "features": features}}


def _emit(doc: dict[str, Any], wanted: Sequence[tuple[str, Path | None]], out_dir: Path,
          env: Mapping[str, str], decision: Decision | None) -> None:
    try:
        write_json(out_dir / DRIFT_REPORT_FILE, doc)
        emit_all("drift", report.DriftReport(doc, decision), wanted, EmitContext(
            out_dir=out_dir, stdout=sys.stdout, color=use_color(sys.stdout, env), env=env))
    except GateError:
        if decision is not None:
            raise
        return  # already failing: the first error is the one to report
    sys.stdout.flush()
