"""One poll of a staged rollout: options in, a RolloutReport out (``run_rollout``).

Reads the monitoring samples, runs the stage's analysis and the Rego policies
(which see ``input.rollout.stage`` and ``input.rollout.monitoring``), keeps the
sequential tests (and the artifacts' digests) in rollout-state.json, and writes
rollout-decision.json (and rollback-plan.json on rollback) into the output
folder. `gate rollout` (gate.commands.rollout) is the click shell around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate import __version__
from gate.durations import iso_time, seconds
from gate.engines import EngineOptions, choose_engine
from gate.errors import ManifestError, RolloutError, UsageError
from gate.fsutil import exclusive_lock, write_json
from gate.manifest import Manifest, find_manifest, load_manifest
from gate.names import PLAN_FILE, ROLLOUT_DECISION_FILE, ROLLOUT_STATE_FILE
from gate.rollout.judge import RolloutDecision, find_stage, judge_stage, monitoring_summary
from gate.rollout.monitoring import Monitoring, check_ranges, read_monitoring
from gate.rollout.state import RolloutState, load_state, save_state
from gate.rollout.stats import SequentialMismatch

KIND = "gate.rollout-decision"
VERSION = 1


def parse_time(value: str) -> datetime:
    """An ISO-8601 time ('Z' accepted); naive times are UTC."""
    try:
        return iso_time(value)
    except ValueError as e:
        raise UsageError(f"--started-at '{value}' is not an ISO-8601 time",
                         hint="write e.g. 2026-11-25T14:00:00Z") from e


def _elapsed(elapsed: str | None, started_at: str | None, first_poll: str | None,
             now: datetime) -> float:
    if elapsed is not None and started_at is not None:
        raise UsageError("give --elapsed or --started-at, not both")
    if elapsed is not None:
        try:
            return seconds(elapsed, 0.0)
        except ManifestError as e:
            raise UsageError(f"--elapsed: {e.message}", hint=e.hint) from e
    start = parse_time(started_at) if started_at else (  # the state's times carry an offset
        iso_time(first_poll) if first_poll else now)
    return max(0.0, (now - start).total_seconds())


def _policies(manifest: Manifest, stage: Mapping[str, Any], index: int, elapsed_s: float,
              data: Monitoring, opts: Mapping[str, Any]) -> Any:
    from gate import ci as ci_mod  # the policy machinery loads only here
    from gate.bundle.artifacts import known_digests
    from gate.pipeline import build_input, evaluate_policies

    ci = ci_mod.detect(opts["env"])
    with known_digests(opts["digests"]):  # an unchanged artifact is not hashed again
        input_doc = build_input(manifest, ci=ci)
    input_doc["rollout"] = {
        **(manifest.rollout or {}),
        "stage": {**stage, "index": index, "bake_s": seconds(stage.get("bake"), 0.0),
                  "elapsed_s": elapsed_s},
        "monitoring": monitoring_summary(data),
    }
    run = evaluate_policies(
        manifest, input_doc, policy_paths_cli=opts["policies"], data_paths_cli=opts["data"],
        namespaces=opts["namespaces"], engine=choose_engine(opts["engine"] or manifest.engine),
        engine_options=opts["engine_options"], cwd=opts["cwd"])
    return run, ci


def _write_plan(manifest: Manifest, decision: RolloutDecision, ci: Mapping[str, Any],
                out_dir: Path, output_dir: str, notes: list[str]) -> dict[str, str] | None:
    path = out_dir / PLAN_FILE
    if decision.verdict != "rollback":
        path.unlink(missing_ok=True)  # a plan from an earlier poll must not be executed by mistake
        return None
    plan = _build_plan(manifest, decision.rollback_reasons(), ci)
    if not plan["steps"]:
        notes.append("gate.yaml has no rollback.steps: the rollback plan has nothing to run")
    return {"path": f"{output_dir}/{PLAN_FILE}", "sha256": write_json(path, plan)}


def _build_plan(manifest: Manifest, reasons: Any, ci: Mapping[str, Any]) -> dict[str, Any]:
    from gate.rollback.plan import build_plan

    return build_plan(model_name=manifest.model_name, model_version=manifest.model_version,
                      rollback=manifest.rollback, reasons=reasons, trigger="rollout", ci=ci,
                      source=manifest.path)


@dataclass(frozen=True)
class RolloutOptions:
    """Everything one poll was asked to do, parsed once by the CLI."""

    stage_name: str
    metrics: Sequence[str]
    config: str | None = None
    output_dir: str = "gate-report"
    elapsed: str | None = None
    started_at: str | None = None
    reset_state: bool = False
    policies: Sequence[str] = ()
    data: Sequence[str] = ()
    namespaces: Sequence[str] = ()
    engine: str | None = None
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    cwd: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict)
    now: datetime | None = None  # tests freeze it


@dataclass(frozen=True)
class RolloutReport:
    """What one poll decided, and what it wrote (rollout-decision.json is ``doc``)."""

    doc: dict[str, Any]
    decision: RolloutDecision
    decision_sha256: str
    inputs: Sequence[Mapping[str, Any]]

    @property
    def exit_code(self) -> int:
        return self.decision.exit_code

    def to_json(self) -> dict[str, Any]:
        return self.doc


def run_rollout(opts: RolloutOptions, *,
                on_wait: Callable[[], None] | None = None) -> RolloutReport:
    """Judge one stage; errors are raised (GateError), as the CLI reports them."""
    cwd, env = opts.cwd, dict(opts.env)
    now = opts.now or datetime.now(timezone.utc)
    stage_name, output_dir = opts.stage_name, opts.output_dir
    manifest = load_manifest(find_manifest(opts.config, cwd))
    shown = manifest.path.name
    if not manifest.rollout:
        raise ManifestError("the manifest has no rollout: section", path=shown,
                            pointer="$.rollout", hint="add rollout: {stages: [{name, weight, "
                            "bake, analysis}]} (see `gate schema manifest`)")
    stages = manifest.rollout["stages"]
    try:
        index, stage = find_stage(stages, stage_name)
    except ManifestError as e:
        e.path = shown
        raise
    # Every poll builds the plan (nothing runs): a broken rollback section is an error now,
    # not when this stage has to roll back.
    _build_plan(manifest, [], {})
    monitoring = read_monitoring([cwd / m for m in opts.metrics], shown=opts.metrics)
    check_ranges(monitoring, manifest.rollout.get("ranges") or {}, shown)
    out_dir = cwd / output_dir
    # One poll at a time per output folder: the sequential tests' state is read,
    # continued and written back, and two overlapping polls must not lose an update.
    lock = out_dir / f".{ROLLOUT_STATE_FILE}.lock"
    with exclusive_lock(lock, f"{output_dir}/{lock.name}", error=RolloutError,
                        on_wait=on_wait or (lambda: None)):
        state_shown = f"{output_dir}/{ROLLOUT_STATE_FILE}"
        notes: list[str] = []
        if opts.reset_state:  # the way out of a damaged state file, so it is not read at all
            state, note = RolloutState(manifest.model_name, manifest.model_version), None
        else:
            state, note = load_state(out_dir / ROLLOUT_STATE_FILE, state_shown,
                                     model_name=manifest.model_name,
                                     model_version=manifest.model_version)
        if note:
            notes.append(note)
        elapsed_s = _elapsed(opts.elapsed, opts.started_at, state.first_poll_at(stage_name), now)
        digests = {k: dict(v) for k, v in state.artifacts.items()}
        run, ci = _policies(manifest, stage, index, elapsed_s, monitoring, {
            "env": env, "policies": opts.policies, "data": opts.data,
            "namespaces": opts.namespaces, "engine": opts.engine,
            "engine_options": opts.engine_options, "cwd": cwd, "digests": digests})
        try:
            decision, tests = judge_stage(stages, stage_name, monitoring, elapsed_s=elapsed_s,
                                          states=state.tests(stage_name), findings=run.findings)
        except ManifestError as e:
            e.path = e.path or shown
            raise
        except SequentialMismatch as e:
            raise RolloutError(f"stage {stage_name}: {e}", path=state_shown,
                               hint="give the monitoring data since the stage began and keep the "
                               "analysis settings, or pass --reset-state to start the sequential "
                               "tests over") from e
        if not stage.get("analysis") and not run.modules:
            notes.append(f"stage {stage_name} has no analysis and no policies were found: "
                         "nothing but the bake time was checked")
        notes += [f"dropped {n} NaN/Inf sample(s) of {k}" for k, n in monitoring.dropped.items()]
        plan_ref = _write_plan(manifest, decision, ci, out_dir, output_dir, notes)
        state_sha = save_state(out_dir / ROLLOUT_STATE_FILE,
                               replace(state.polled(stage_name, now, tests, decision.verdict),
                                       artifacts=digests))
        doc = {
            "kind": KIND, "version": VERSION, "gate_version": __version__,
            "created_at": now.isoformat(timespec="seconds"),
            "model": {"name": manifest.model_name, "version": manifest.model_version},
            "manifest": shown,
            **decision.to_json(),
            "monitoring": {"files": monitoring.files, "dropped": monitoring.dropped,
                           "metrics": monitoring_summary(monitoring)},
            "policies": {"engine": run.engine, "modules": len(run.modules),
                         "rules": sum(1 for s in run.sites if s.name != "exception")},
            "state": {"path": state_shown, "sha256": state_sha},
            "rollback_plan": plan_ref,
            "notes": notes,
            "ci": ci,
            "output_dir": output_dir,
        }
        decision_sha = write_json(out_dir / ROLLOUT_DECISION_FILE, doc)
    inputs = [*(vars(r) for r in manifest.files.records.values()),
              *({**f, "role": "monitoring"} for f in monitoring.files)]
    return RolloutReport(doc, decision, decision_sha, inputs)
