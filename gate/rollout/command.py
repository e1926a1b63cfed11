"""`gate rollout --stage NAME --metrics FILE`: 0 promote, 1 rollback, 3 hold, 2 error.

Reads the monitoring samples, runs the stage's analysis and the Rego policies
(which see ``input.rollout.stage`` and ``input.rollout.monitoring``), keeps the
sequential tests in rollout-state.json, and writes rollout-decision.json (and
rollback-plan.json on rollback) into ``--output-dir``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from gate import __version__
from gate.audit.hooks import ledger_option, rollout_hook
from gate.cli import debug_option, emit_json
from gate.commands.options import engine_options, engine_settings, policy_options
from gate.durations import seconds
from gate.engines import choose_engine
from gate.errors import ManifestError, RolloutError, UsageError
from gate.fsutil import exclusive_lock, write_json
from gate.manifest import Manifest, find_manifest, load_manifest
from gate.names import PLAN_FILE
from gate.names import ROLLOUT_DECISION_FILE as DECISION_FILE
from gate.rollout.judge import Check, RolloutDecision, find_stage, judge_stage, monitoring_summary
from gate.rollout.monitoring import Monitoring, check_ranges, read_monitoring
from gate.rollout.state import STATE_FILE, RolloutState, load_state, save_state
from gate.rollout.stats import SequentialMismatch

KIND = "gate.rollout-decision"
VERSION = 1


def parse_time(value: str) -> datetime:
    """An ISO-8601 time ('Z' accepted); naive times are UTC."""
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(f"--started-at '{value}' is not an ISO-8601 time",
                         hint="write e.g. 2026-11-25T14:00:00Z") from e
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


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
        datetime.fromisoformat(first_poll.replace("Z", "+00:00")) if first_poll else now)
    return max(0.0, (now - start).total_seconds())


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _check_line(c: Check) -> str:
    obs = c.observed
    canary, baseline = obs.get("canary"), obs.get("baseline")
    compares = c.test or "max_increase" in c.analysis or "max_decrease" in c.analysis
    parts = []
    if canary:
        parts.append(f"canary mean {_fmt(canary['mean'])} (n={canary['n']})")
    if baseline and compares:
        parts.append(f"baseline {_fmt(baseline['mean'])} (n={baseline['n']})")
        if obs.get("relative_change") is not None:
            parts.append(f"{obs['relative_change'] * 100:+.1f}%")
    if c.test:
        p = c.test.get("p_value")
        label = "always-valid p" if c.test["name"] == "sequential" else "p"
        parts.append(f"{c.test['name']} {label}={_fmt(p)}")
    line = f"  {c.outcome.upper():<5} {c.metric:<14} {', '.join(parts)}".rstrip()
    return "\n".join([line, *(f"        {r}" for r in c.reasons if c.outcome != "pass")])


def render_text(doc: Mapping[str, Any], decision: RolloutDecision) -> str:
    """The terminal summary of one poll."""
    stage = doc["stage"]
    lines = [f"gate rollout: {doc['model']['name']} {doc['model']['version']}, stage "
             f"{stage['name']} ({stage['weight']:g}% of traffic)"]
    lines += [_check_line(c) for c in decision.checks]
    policies = doc["policies"]
    denials = sum(1 for f in decision.findings if f.effect == "fail")
    lines.append(f"  policies: {policies['rules']} rule(s), {denials} denial(s), "
                 f"{len(decision.findings) - denials} other finding(s)")
    verdict = decision.verdict
    nxt = doc["next_stage"]
    head = f"Decision: {verdict.upper()} (exit {decision.exit_code})"
    if verdict == "promote":
        head += (f": go to {nxt['name']} ({nxt['weight']:g}% of traffic)" if nxt
                 else ": the last stage passed; the rollout is complete")
    lines.append(head)
    lines += [f"  - {r}" for r in decision.reasons]
    if verdict == "hold":
        lines.append(f"  -> keep {stage['weight']:g}% of traffic and poll again")
    for note in doc["notes"]:
        lines.append(f"note: {note}")
    out = doc["output_dir"]
    lines.append(f"wrote {out}/{DECISION_FILE}")
    if doc["rollback_plan"]:
        lines.append(f"Rollback plan: {doc['rollback_plan']['path']} (sha256 "
                     f"{doc['rollback_plan']['sha256'][:12]}); review it with `gate rollback "
                     f"{doc['rollback_plan']['path']}`")
    return "\n".join(lines)


def _policies(manifest: Manifest, stage: Mapping[str, Any], index: int, elapsed_s: float,
              data: Monitoring, opts: Mapping[str, Any]) -> Any:
    from gate import ci as ci_mod  # the policy machinery loads only here
    from gate.pipeline import build_input, evaluate_policies

    ci = ci_mod.detect(opts["env"])
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


@click.command()
@click.option("-c", "--config", metavar="PATH",
              help="The manifest (default: gate.yaml in the working directory).")
@click.option("-s", "--stage", "stage_name", required=True, metavar="NAME",
              help="The rollout stage to judge (a name from rollout.stages).")
@click.option("-m", "--metrics", "metrics", multiple=True, required=True, metavar="FILE",
              help="Monitoring samples: native JSON/YAML, or Prometheus API responses "
              "(repeatable; every sample since the stage began).")
@click.option("-o", "--output-dir", default="gate-report", show_default=True, metavar="DIR",
              help="Where rollout-decision.json, rollout-state.json and the plan go.")
@click.option("--elapsed", metavar="DURATION",
              help="Time the canary has spent at this stage (30s, 5m, 1h).")
@click.option("--started-at", metavar="TIME",
              help="When this stage began (ISO-8601). Default: the stage's first poll.")
@click.option("--reset-state", is_flag=True,
              help="Forget earlier polls: the sequential tests and the bake clock start over.")
@policy_options
@engine_options
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="What to print on stdout.")
@ledger_option
@debug_option
def rollout(
    config: str | None, stage_name: str, metrics: tuple[str, ...], output_dir: str,
    elapsed: str | None, started_at: str | None, reset_state: bool, policies: tuple[str, ...],
    data: tuple[str, ...], namespaces: tuple[str, ...], engine: str, fmt: str,
    **engine_flags: Any,
) -> None:
    """Judge a canary stage from monitoring data: promote (0), rollback (1) or hold (3)."""
    cwd, env, now = Path.cwd(), dict(os.environ), datetime.now(timezone.utc)
    settings = engine_settings(engine=engine, env=env, **engine_flags)
    manifest = load_manifest(find_manifest(config, cwd))
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
    monitoring = read_monitoring([cwd / m for m in metrics], shown=metrics)
    check_ranges(monitoring, manifest.rollout.get("ranges") or {}, shown)
    out_dir = cwd / output_dir
    # One poll at a time per output folder: the sequential tests' state is read,
    # continued and written back, and two overlapping polls must not lose an update.
    lock = out_dir / f".{STATE_FILE}.lock"
    with exclusive_lock(lock, f"{output_dir}/{lock.name}", error=RolloutError,
                        on_wait=lambda: click.echo("waiting for another poll of this "
                                                   "output folder to finish", err=True)):
        state_shown = f"{output_dir}/{STATE_FILE}"
        notes: list[str] = []
        if reset_state:  # the way out of a damaged state file, so it is not read at all
            state, note = RolloutState(manifest.model_name, manifest.model_version), None
        else:
            state, note = load_state(out_dir / STATE_FILE, state_shown,
                                     model_name=manifest.model_name,
                                     model_version=manifest.model_version)
        if note:
            notes.append(note)
        elapsed_s = _elapsed(elapsed, started_at, state.first_poll_at(stage_name), now)
        run, ci = _policies(manifest, stage, index, elapsed_s, monitoring, {
            "env": env, "policies": policies, "data": data, "namespaces": namespaces,
            "engine": engine, "engine_options": settings, "cwd": cwd})
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
        state_sha = save_state(out_dir / STATE_FILE,
                               state.polled(stage_name, now, tests, decision.verdict))
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
        decision_sha = write_json(out_dir / DECISION_FILE, doc)
        if fmt == "json":
            emit_json(doc)
        else:
            click.echo(render_text(doc, decision))
        # The audit ledger (--ledger; off by default): a failed append is exit 2.
        rollout_hook(doc, decision_sha, [*(vars(r) for r in manifest.files.records.values()),
                                         *({**f, "role": "monitoring"} for f in monitoring.files)],
                     cwd=cwd, env=env)
    click.get_current_context().exit(decision.exit_code)


def _write_plan(manifest: Manifest, decision: RolloutDecision, ci: Mapping[str, Any],
                out_dir: Path, output_dir: str, notes: list[str]) -> dict[str, str] | None:
    path = out_dir / PLAN_FILE
    if decision.verdict != "rollback":
        if path.exists():  # a plan from an earlier poll must not be executed by mistake
            path.unlink()
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
