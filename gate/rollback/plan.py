"""Manifest + failing findings -> a self-contained rollback plan (pure, schema-checked).

``${model.name}``, ``${model.version}`` (the candidate) and ``${target.version}``
(and any other ``${target.KEY}``) are substituted when the plan is written, so
the deploy job that executes it needs nothing but the plan and its secrets:
``${env.NAME}`` stays in the plan and is read from the environment of the step
that runs it, so a webhook token is never written into a plan or a report.
``$${`` escapes a literal ``${``. An unknown placeholder is an error, not an
empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from gate.decision import Finding
from gate.errors import ManifestError
from gate.schemas import validate

PLAN_KIND = "gate.rollback-plan"
ENV_PREFIX = "env."  # ${env.NAME}: taken from the deploy job's environment when the step runs
PLAN_VERSION = 1
_PLACEHOLDER = re.compile(r"\$(\$?)\{([^}]*)\}")
_DURATION = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_BACKOFF_S = 2.0


def seconds(value: float | str | None, default: float) -> float:
    """A manifest duration (number of seconds, or '500ms', '30s', '5m', '1h') in seconds."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(value.strip())
    if not m:
        raise ManifestError(f"'{value}' is not a duration", hint="write e.g. 30s, 5m, 1h or 500ms")
    return float(m.group("n")) * _UNITS[m.group("unit")]


def substitute(value: Any, variables: Mapping[str, str], where: str) -> Any:
    """``value`` with every ``${name}`` replaced, recursively through lists and mappings."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1):  # $${...} is a literal ${...}
                return "${" + m.group(2) + "}"
            name = m.group(2).strip()
            if name.startswith(ENV_PREFIX):
                return m.group(0)  # a secret: expanded by the step runner, never written down
            if name not in variables:
                raise ManifestError(
                    f"rollback step {where}: unknown placeholder ${{{name}}}",
                    pointer=where,
                    hint="use ${model.name}, ${model.version}, ${target.<key>} or "
                    "${env.NAME} (write $${...} for a literal)",
                )
            return variables[name]

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, variables, where) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables, where) for k, v in value.items()}
    return value


def expand_env(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with every ``${env.NAME}`` replaced from ``env``, at execution time.

    KeyError names the first variable that is not set.
    """
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name = m.group(2).strip()
            if m.group(1) or not name.startswith(ENV_PREFIX):
                return m.group(0)
            return env[name[len(ENV_PREFIX):]]

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


def _variables(model_name: str, model_version: str, target: Mapping[str, Any]) -> dict[str, str]:
    out = {"model.name": model_name, "model.version": model_version}
    out.update({f"target.{k}": str(v) for k, v in target.items()})
    return out


def _step(raw: Mapping[str, Any], variables: Mapping[str, str], index: int) -> dict[str, Any]:
    where = f"rollback.steps[{index}]"
    kind = next((k for k in ("run", "http") if k in raw), None)
    if kind is None:  # the manifest schema already requires one; keep the plan honest anyway
        raise ManifestError(f"{where} names no step kind", pointer=where,
                            hint="give the step `run:` or `http:`")
    step: dict[str, Any] = {
        "name": raw["name"],
        "kind": kind,
        kind: substitute(raw[kind], variables, where),
        "timeout_s": seconds(raw.get("timeout"), DEFAULT_TIMEOUT_S),
        "retries": int(raw.get("retries", 0)),
        "backoff_s": seconds(raw.get("backoff"), DEFAULT_BACKOFF_S),
    }
    if "env" in raw:
        step["env"] = substitute(raw["env"], variables, where)
    if "verify" in raw:
        verify = dict(substitute(raw["verify"], variables, where + ".verify"))
        if "timeout" in verify:
            verify["timeout_s"] = seconds(verify.pop("timeout"), DEFAULT_TIMEOUT_S)
        step["verify"] = verify
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
) -> dict[str, Any]:
    """The rollback plan for the manifest's ``rollback:`` section and the blocking findings.

    Without a ``rollback.target`` the plan still names the model and the reasons
    but has target version "unknown" and no steps; the caller warns about it.
    """
    target = dict(rollback.get("target") or {"version": "unknown"})
    variables = _variables(model_name, model_version, target)
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
        "steps": [_step(s, variables, i) for i, s in enumerate(rollback.get("steps") or [])],
    }
    if ci:
        plan["ci"] = dict(ci)
    validate(plan, "rollback-plan", path=None, what="the rollback plan gate built")
    return plan
