"""Manifest + failing findings -> a self-contained rollback plan (pure, schema-checked).

``${model.name}``, ``${model.version}`` (the candidate) and ``${target.version}``
(and any other ``${target.KEY}``) are substituted when the plan is written, so
the deploy job that executes it needs nothing but the plan and its secrets:
``${env.NAME}`` stays in the plan and is read from the environment of the step
that runs it, so a webhook token is never written into a plan or a report.
``$${`` escapes a literal ``${``. An unknown placeholder is an error, not an
empty string. ``gate.rollback.template`` has the rules (one pass at each end,
shell strings get quoted variable references, never pasted values).

Every ``gate check`` and ``gate rollout`` builds the plan, passing or not, so a
broken ``rollback:`` section is an error (naming gate.yaml and the place) on
the run that introduced it, not on the day a rollback is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate.decision import Finding
from gate.durations import seconds
from gate.errors import ManifestError, RollbackError, json_path
from gate.rollback.executor import MAX_TIMEOUT_S, check_steps
from gate.rollback.steps import STEP_KINDS, kind_of
from gate.rollback.template import (
    ENV_NAME,
    RESERVED_ENV,
    TemplateError,
    env_var_name,
    render,
    value_text,
)
from gate.schemas import validate

PLAN_KIND = "gate.rollback-plan"
PLAN_VERSION = 1

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_BACKOFF_S = 2.0

__all__ = ["build_plan", "build_steps", "check_plan_steps"]


class _Where:
    """Errors about the rollback section, naming gate.yaml, the JSON path and the line."""

    def __init__(self, source: Path | None) -> None:
        self.source = source

    def error(self, pointer: str, message: str, hint: str) -> ManifestError:
        line = None
        if self.source is not None:
            from gate.reports.lines import line_of  # only for an error

            line = line_of(self.source, pointer)
        return ManifestError(f"{pointer}: {message}", path=self.source.name if self.source
                             else None, pointer=pointer, line=line, hint=hint)


def _variables(model_name: str, model_version: str, target: Mapping[str, Any]) -> dict[str, str]:
    out = {"model.name": model_name, "model.version": model_version}
    out.update({f"target.{k}": value_text(v) for k, v in target.items()})
    return out


def _duration(raw: Mapping[str, Any], key: str, default: float, pointer: str, where: _Where,
              *, positive: bool) -> float:
    try:
        value = seconds(raw.get(key), default)
    except ManifestError as e:
        raise where.error(f"{pointer}.{key}", e.message, e.hint) from e
    if value < 0 or (positive and value == 0) or value > MAX_TIMEOUT_S:
        need = "more than 0" if positive else "0 or more"
        raise where.error(f"{pointer}.{key}", f"{key} is {raw.get(key)!r}; it must be {need} "
                          f"and at most {MAX_TIMEOUT_S:g}s (a day)",
                          hint=f"write e.g. {key}: 30s")
    return value


def _render_block(kind: str, spec: Any, variables: Mapping[str, str], env: dict[str, str],
                  pointer: str, where: _Where) -> Any:
    try:
        out = STEP_KINDS[kind].render(spec, variables, env)
    except TemplateError as e:
        raise where.error(f"{pointer}.{kind}", e.message, e.hint) from e
    problem = STEP_KINDS[kind].problem(out)
    if problem is not None:
        raise where.error(f"{pointer}.{kind}{problem[0]}", problem[1],
                          hint="fix the step in gate.yaml (`gate schema manifest`)")
    return out


def _step(raw: Mapping[str, Any], variables: Mapping[str, str], index: int,
          where: _Where, section: str = "rollback") -> dict[str, Any]:
    pointer = f"$.{section}.steps[{index}]"
    kind = kind_of(raw)
    if kind is None:  # the manifest schema already requires one; keep the plan honest anyway
        raise where.error(pointer, "the step names no step kind, or more than one",
                          hint=f"give the step one of: {', '.join(STEP_KINDS)}")
    env: dict[str, str] = {}
    for name, value in (raw.get("env") or {}).items():
        at = json_path(["env", name], pointer)
        if not ENV_NAME.match(name) or name.startswith(RESERVED_ENV):
            raise where.error(at, f"'{name}' cannot be set by a step" if ENV_NAME.match(name)
                              else f"'{name}' is not an environment variable name",
                              hint="use letters, digits and _; GATE_MODEL_*, GATE_TARGET_* and "
                              "GATE_ROLLBACK_* are set by gate")
        try:
            env[name] = render(str(value), variables)
        except TemplateError as e:
            raise where.error(at, e.message, e.hint) from e
    needed: dict[str, str] = {}  # ${env.X} in shell scripts: X must reach the step
    step: dict[str, Any] = {
        "name": raw["name"],
        "kind": kind,
        kind: _render_block(kind, raw[kind], variables, needed, pointer, where),
        "timeout_s": _duration(raw, "timeout", DEFAULT_TIMEOUT_S, pointer, where, positive=True),
        "retries": int(raw.get("retries", 0)),
        "backoff_s": _duration(raw, "backoff", DEFAULT_BACKOFF_S, pointer, where,
                               positive=False),
    }
    if "verify" in raw:
        vraw = raw["verify"]
        vkind = kind_of(vraw)
        if vkind is None:
            raise where.error(f"{pointer}.verify", "verify names no step kind, or more than one",
                              hint=f"give verify one of: {', '.join(STEP_KINDS)}")
        verify: dict[str, Any] = {vkind: _render_block(vkind, vraw[vkind], variables, needed,
                                                       f"{pointer}.verify", where)}
        if "timeout" in vraw:
            verify["timeout_s"] = _duration(vraw, "timeout", DEFAULT_TIMEOUT_S,
                                            f"{pointer}.verify", where, positive=True)
        if "retries" in vraw:
            verify["retries"] = int(vraw["retries"])
        step["verify"] = verify
    for name, value in needed.items():
        if name in env and env[name] != value:
            raise where.error(json_path(["env", name], pointer),
                              f"the step's env sets {name}, and its "
                              f"shell script also reads ${{env.{name}}} from the deploy job",
                              hint=f"use one of them: drop env.{name}, or write \"${name}\"")
        env[name] = value
    if env or "env" in raw:
        step["env"] = env
    return step


def build_plan(
    *,
    model_name: str,
    model_version: str,
    rollback: Mapping[str, Any],
    reasons: Iterable[Finding],
    trigger: str = "check",
    ci: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    source: Path | None = None,
) -> dict[str, Any]:
    """The rollback plan for the manifest's ``rollback:`` section and the blocking findings.

    Without a ``rollback.target`` the plan still names the model and the reasons
    but has target version "unknown" and no steps; the caller warns about it.
    ``source`` is the manifest, named (with the line) by every error.
    """
    where = _Where(source)
    target = dict(rollback.get("target") or {"version": "unknown"})
    steps = build_steps(rollback.get("steps") or [], model_name=model_name,
                        model_version=model_version, target=target, source=source)
    plan: dict[str, Any] = {
        "kind": PLAN_KIND,
        "version": PLAN_VERSION,
        "created_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "trigger": trigger,
        "model": {"name": model_name, "candidate_version": model_version},
        "target": target,
        "reasons": [
            {"id": f.id, "message": f.message, "severity": f.severity} for f in reasons
        ],
        "steps": steps,
    }
    if ci:
        plan["ci"] = dict(ci)
    validate(plan, "rollback-plan", path=source.name if source else None,
             what="the rollback plan gate built from the rollback section",
             error=ManifestError)
    check_plan_steps(plan["steps"], where, "rollback")
    return plan


def build_steps(steps: Sequence[Mapping[str, Any]], *, model_name: str, model_version: str,
                target: Mapping[str, Any], source: Path | None,
                section: str = "rollback") -> list[dict[str, Any]]:
    """The plan's steps for gate.yaml's ``<section>.steps``: placeholders substituted, every
    problem an error naming gate.yaml, ``$.<section>...`` and the line. The rollback plan
    and the recalibration plan (gate.drift.plan) are built by it alike."""
    where = _Where(source)
    names: dict[str, str] = {}
    for key in target:
        env_name = env_var_name(f"target.{key}")  # as variables_env names it
        if env_name in names:
            raise where.error(json_path([section, "target", key]),
                              f"target keys '{names[env_name]}' "
                              f"and '{key}' would both be {env_name} in a step's environment",
                              hint="rename one of them")
        names[env_name] = key
    variables = _variables(model_name, model_version, target)
    return [_step(s, variables, i, where, section) for i, s in enumerate(steps)]


def check_plan_steps(steps: Sequence[Mapping[str, Any]], where: _Where | Path | None,
                     section: str) -> None:
    """The checks `gate rollback` makes on a plan's steps, as errors about gate.yaml."""
    place = where if isinstance(where, _Where) else _Where(where)
    try:
        check_steps(steps, f"the {section} plan")
    except RollbackError as e:  # a gap between these checks and the plan's: still exit 2
        pointer = (e.pointer or "$").replace("$.steps", f"$.{section}.steps", 1)
        raise place.error(pointer, e.message, e.hint) from e
