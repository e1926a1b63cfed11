"""One `gate drift` run: options in, a DriftReport out (``judge_drift``), never raising.

Runs the manifest's drift checks (gate.drift.run_drift), evaluates the drift
rules on ``input.drift`` with the manifest's enforcement and waivers, keeps
since when each feature has drifted (drift-state.json, under the output
folder's lock), and writes or removes recalibration-plan.json. The report's
``doc`` is drift-report.json; on an error it says so (decision ``error``) and
``error`` holds the GateError, as `gate check`'s report does.
`gate drift` (gate.commands.drift) is the click shell around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate import __version__
from gate.decision import Decision, Finding
from gate.engines import EngineOptions
from gate.errors import DriftError, GateError, ManifestError
from gate.fsutil import exclusive_lock, write_json
from gate.manifest import Manifest, find_manifest, load_manifest
from gate.names import DRIFT_STATE_FILE, RECALIBRATION_PLAN_FILE

KIND = "gate.drift-report"
VERSION = 1
DEFAULT_NAMESPACE = "gate.drift"


@dataclass(frozen=True)
class DriftOptions:
    """What `gate drift` was asked."""

    config: str | None = None
    names: tuple[str, ...] = ()  # the checks to run (default: all)
    output_dir: str = "gate-report"
    policies: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    fail_on_warn: bool = False
    reset_state: bool = False
    engine: str | None = None
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    cwd: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftReport:
    """What one run decided and wrote: ``doc`` is drift-report.json; ``decision`` is None
    when the run failed before a verdict, and ``error`` is then the reason."""

    doc: Mapping[str, Any]
    decision: Decision | None
    error: GateError | None = None

    @property
    def exit_code(self) -> int:
        return 2 if self.decision is None else self.decision.exit_code


def _skeleton(output_dir: str) -> dict[str, Any]:
    """drift-report.json before anything is known: an error until a verdict replaces it."""
    return {
        "kind": KIND, "version": VERSION, "gate_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "model": {},
        "manifest": None, "decision": "error", "exit_code": 2, "checks": [], "drifted": [],
        "findings": [], "recalibration_plan": None, "state": None, "policies": None,
        "engine": {}, "notes": [], "ci": {}, "output_dir": output_dir, "error": None,
    }


def refused(output_dir: str, error: GateError) -> DriftReport:
    """The report of a run refused before it started (bad options)."""
    return DriftReport({**_skeleton(output_dir), "error": error.to_json()}, None, error)


def judge_drift(opts: DriftOptions, *, on_wait: Callable[[], None] | None = None
                ) -> DriftReport:
    """Run the drift checks and judge them; errors come back inside the report."""
    doc = _skeleton(opts.output_dir)
    try:
        manifest = load_manifest(find_manifest(opts.config, opts.cwd))
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

        checks = run_drift(manifest, opts.names)
        doc["checks"] = checks
        judged_by = list(opts.namespaces or (DEFAULT_NAMESPACE,))
        decision, run, ci, notes = _judge(manifest, checks, opts, judged_by)
        doc.update(_written(manifest, decision, checks, ci, opts.cwd / opts.output_dir,
                            opts.output_dir, opts.reset_state, on_wait or (lambda: None)))
        doc.update({
            "decision": decision.outcome, "exit_code": decision.exit_code,
            "findings": [f.to_json() for f in decision.findings], "engine": run.engine,
            "policies": {"namespaces": judged_by, "modules": len(run.modules),
                         "rules": sum(1 for s in run.sites if s.name != "exception")},
            "notes": notes, "ci": ci,
        })
    except GateError as e:
        return DriftReport({**doc, "error": e.to_json()}, None, e)
    return DriftReport(doc, decision)


def _plan(manifest: Manifest, reasons: Sequence[Finding], findings: Sequence[Finding],
          checks: Sequence[Mapping[str, Any]], since: Mapping[str, str],
          ci: Mapping[str, Any]) -> dict[str, Any]:
    from gate.drift.plan import build_recalibration_plan

    return build_recalibration_plan(
        model_name=manifest.model_name, model_version=manifest.model_version,
        recalibration=manifest.recalibration, reasons=reasons, findings=findings,
        checks=checks, since=since, ci=ci, source=manifest.path)


def _judge(manifest: Manifest, checks: list[dict[str, Any]], opts: DriftOptions,
           judged_by: Sequence[str]) -> tuple[Decision, Any, dict[str, Any], list[str]]:
    """The drift rules' decision on input.drift (with enforcement and waivers)."""
    from gate import ci as ci_mod
    from gate.engines import choose_engine
    from gate.pipeline import build_input, evaluate_policies
    from gate.waivers import apply_waivers, load_signoff, load_waivers

    ci = ci_mod.detect(opts.env)
    input_doc = build_input(manifest, ci=ci, drift=checks)
    run = evaluate_policies(
        manifest, input_doc, policy_paths_cli=opts.policies, data_paths_cli=opts.data,
        namespaces=judged_by, engine=choose_engine(opts.engine or manifest.engine),
        engine_options=opts.engine_options, cwd=opts.cwd)
    if not any(s.name != "exception" for s in run.sites):
        raise DriftError(
            f"no drift rule was evaluated (namespaces {', '.join(judged_by)})",
            path=manifest.path.name,
            hint="turn on the library's drift package (`library: true`, or list drift) or "
                 "name your own packages with --namespace; a drift run with no rules never "
                 "passes")
    # evaluate_policies already settled the manifest's enforcement levels (before the Rego
    # exceptions); applying them again would read a level a glob raised as one an exact
    # entry lowers, and refuse the manifest.
    findings, notes = apply_waivers(
        run.findings, load_waivers(manifest), signoff=load_signoff(manifest),
        model=manifest.model_name, version=manifest.model_version,
        today=datetime.now(timezone.utc).date())
    return Decision.of(findings, fail_on_warn=opts.fail_on_warn), run, ci, notes


def _written(manifest: Manifest, decision: Decision, checks: list[dict[str, Any]],
             ci: Mapping[str, Any], out_dir: Path, output_dir: str,
             reset_state: bool, on_wait: Callable[[], None]) -> dict[str, Any]:
    """Update drift-state.json and write (or remove) the plan, under the folder's lock."""
    from gate.drift.plan import drifted_features
    from gate.drift.state import advance, load_state, save_state

    model = {"name": manifest.model_name, "version": manifest.model_version}
    drift_findings = [f for f in decision.findings if f.effect != "waived"]
    drifting = [f"{c}/{f}" for c, f in drifted_features(drift_findings)]
    lock = out_dir / f".{DRIFT_STATE_FILE}.lock"
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock, f"{output_dir}/{lock.name}", error=DriftError,
                        on_wait=on_wait):
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
