"""Golden cases: every folder under tests/cases/ is a bundle with its expected decision.

A case's expected.json holds the stable part of what `gate check` produced
(decision, exit code, findings, plan, or the error and where it points). Every
case runs on both in-process engines and must give the same decision, findings
and plan on each; only an error's wording and line may differ, and those are
kept per engine under ``by_engine``.
Regenerate after an intended change with GATE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gate.cli import cli

CASES = Path(__file__).parent / "cases"


ENGINES = ["opa-go", "regorus"]


def project(decision: dict[str, Any], plan: dict[str, Any] | None, stderr: str,
            engine: str) -> dict[str, Any]:
    """The parts of a run that must not change without a reason."""
    out: dict[str, Any] = {"decision": decision["decision"], "exit_code": decision["exit_code"]}
    if decision["error"]:
        err = decision["error"]
        out["error"] = {k: err[k] for k in ("type", "path", "pointer")}
        out["by_engine"] = {engine: {
            "line": err["line"], "stderr": stderr.strip().splitlines()[0]}}
    else:
        out["summary"] = decision["summary"]
        out["findings"] = [
            {k: f[k] for k in ("id", "effect", "severity", "message", "file", "line")}
            for f in decision["findings"]
        ]
    if plan is not None:
        out["rollback_plan"] = {
            "target": plan["target"],
            "reasons": [r["id"] for r in plan["reasons"]],
            "steps": [s.get("run") or s.get("http") for s in plan["steps"]],
        }
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case(case: str, engine: str, tmp_path: Path) -> None:
    if engine == "opa-go":
        pytest.importorskip("opa_bindings")
    bundle = tmp_path / "bundle"
    shutil.copytree(CASES / case, bundle, ignore=shutil.ignore_patterns("expected.json"))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["check", "--config", str(bundle / "gate.yaml"), "--output-dir", str(out),
              "--engine", engine],
        env={"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output + result.stderr
    decision = json.loads((out / "decision.json").read_text())
    plan_path = out / "rollback-plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else None
    actual = project(decision, plan, result.stderr, engine)
    assert result.exit_code == decision["exit_code"]
    expected_file = CASES / case / "expected.json"
    if os.environ.get("GATE_UPDATE_GOLDEN"):
        old = json.loads(expected_file.read_text()) if expected_file.exists() else {}
        if "by_engine" in actual:
            actual["by_engine"] = {**old.get("by_engine", {}), **actual["by_engine"]}
        expected_file.write_text(json.dumps(actual, indent=2) + "\n")
    expected = json.loads(expected_file.read_text())
    if "by_engine" in expected:
        expected["by_engine"] = {engine: expected["by_engine"][engine]}
    assert actual == expected
