"""The GitHub Action, its rollback action and the self-test workflow, against real clients.

* Schemas: check-jsonschema's vendored ``github-actions`` schema for both
  action.yml files, ``github-workflows`` for the self-test and the documented
  example workflow.
* Behaviour: the self-test workflow's jobs run step by step with the runner's
  semantics (tests/ci_support.py): `uses: ./` runs the composite action from a
  copy of this checkout, which installs gate with pip from that copy (once:
  later jobs reuse the gate on PATH), and the workflow's own assertions run as
  written. On top of them, the test checks the annotations, the job summary
  and that the outputs are what later steps need.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_support import (
    EXAMPLES,
    ROOT,
    ActionRun,
    Marketplace,
    StepRun,
    copy_project,
    doc_snippets,
    run_workflow_job,
)

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
SELFTEST = ROOT / ".github" / "workflows" / "selftest.yml"
EXAMPLE_WORKFLOW = ROOT / "docs" / "ci" / "github-release-gate.yml"


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)],
                          check=False, capture_output=True, text=True, timeout=120)


def test_actions_match_githubs_action_schema() -> None:
    proc = check_jsonschema("vendor.github-actions", ROOT / "action.yml",
                            ROOT / "actions" / "rollback" / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_githubs_workflow_schema() -> None:
    proc = check_jsonschema("vendor.github-workflows", SELFTEST, EXAMPLE_WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_a_broken_action(tmp_path: Path) -> None:
    """Control: the same call fails on an action whose step has no shell (composite rule)."""
    spec = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    del spec["runs"]["steps"][1]["shell"]
    broken = tmp_path / "action.yml"
    broken.write_text(yaml.safe_dump(spec))
    proc = check_jsonschema("vendor.github-actions", broken)
    assert proc.returncode == 1, proc.stdout


def test_the_selftest_runs_this_checkouts_action_on_the_examples() -> None:
    jobs = yaml.safe_load(SELFTEST.read_text("utf-8"))["jobs"]
    uses = {job: [s for s in spec["steps"] if s.get("uses") == "./"] for job, spec in jobs.items()}
    assert {job: steps[0]["with"]["working-directory"] for job, steps in uses.items()} == {
        "passing": "examples/passing", "failing": "examples/failing", "error": "examples/passing"}
    assert uses["failing"][0]["continue-on-error"] is True


def clean_env() -> dict[str, str]:
    """This process's environment without any CI's variables, gate on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "GITLAB_", "CI_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(scope="module")
def selftest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every job of selftest.yml, run once for this module."""
    jobs = yaml.safe_load(SELFTEST.read_text("utf-8"))["jobs"]
    # Later jobs use the gate this interpreter runs; the first one installs its own with pip.
    env = clean_env()
    results: dict[str, dict[str, Any]] = {}
    for n, name in enumerate(["failing", "passing", "error"]):
        base = tmp_path_factory.mktemp(f"selftest-{name}")
        workspace = copy_project(base / "workspace")
        temp = base / "runner-temp"
        temp.mkdir()
        overrides = {} if n == 0 else {"gate": {"install": "false"}}
        steps = run_workflow_job(jobs[name], workspace=workspace, temp=temp, env=env,
                                 input_overrides=overrides)
        results[name] = {"steps": dict(steps), "workspace": workspace, "temp": temp}
    return results


def _gate(run: dict[str, Any]) -> ActionRun:
    action = run["steps"]["gate"]
    assert isinstance(action, ActionRun)
    return action


def _explain(run: dict[str, Any]) -> str:
    out = []
    for sid, r in run["steps"].items():
        if isinstance(r, Marketplace):
            continue
        steps = r.steps if isinstance(r, ActionRun) else [r]
        out += [f"--- {sid} / {s.name}: rc={s.returncode}\n{s.stdout}\n{s.stderr}" for s in steps]
    return "\n".join(out)


@pytest.mark.parametrize("job", ["passing", "failing", "error"])
def test_selftest_job_assertions_hold(selftest: dict[str, dict[str, Any]], job: str) -> None:
    """The workflow's own checks (and the rollback dry run) succeed, as on GitHub."""
    run = selftest[job]
    for sid, result in run["steps"].items():
        if sid == "gate" or isinstance(result, Marketplace):
            continue
        ok = (not result.failed) if isinstance(result, ActionRun) else result.returncode == 0
        assert ok, _explain(run)


def test_failing_example_installs_gate_from_the_actions_checkout(
        selftest: dict[str, dict[str, Any]]) -> None:
    gate = _gate(selftest["failing"])
    install = gate.step("Install gate")
    assert install.ran and install.returncode == 0, install.stderr
    venv_gate = selftest["failing"]["temp"] / "gate-venv" / "bin" / "gate"
    assert install.outputs == {"bin": str(venv_gate.parent)}
    assert venv_gate.is_file()


def test_failing_example_blocks_with_outputs_annotations_and_summary(
        selftest: dict[str, dict[str, Any]]) -> None:
    run = selftest["failing"]
    gate = _gate(run)
    workspace: Path = run["workspace"]
    assert gate.failed
    assert gate.step("Enforce the decision").returncode == 1
    out = gate.outputs
    assert (out["decision"], out["exit-code"]) == ("fail", "1")
    assert out["report-dir"] == "examples/failing/gate-report"
    assert out["sarif"] == "examples/failing/gate-report/gate.sarif"
    plan = workspace / out["rollback-plan"]
    assert hashlib.sha256(plan.read_bytes()).hexdigest() == out["rollback-plan-sha256"]
    decision = yaml.safe_load((workspace / out["report-dir"] / "decision.json").read_text())
    blocking = [f for f in decision["findings"] if f["effect"] == "fail"]
    errors = [line for line in gate.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == min(len(blocking), 10)
    assert all("::" in line[2:] and "\n" not in line for line in errors)
    assert errors[0].startswith("::error file=examples/failing/")
    summary = gate.summary
    assert summary.startswith("## ❌ gate: FAIL · fraud-detector")
    assert "**The deploy is blocked.**" in summary
    assert "### What happens next" in summary
    assert "`gate rollback --execute examples/failing/gate-report/rollback-plan.json`" in summary
    rollback = run["steps"]["rollback"]
    assert isinstance(rollback, ActionRun)
    assert "Nothing was run" in rollback.stdout
    assert rollback.outputs["journal"] == "examples/failing/gate-report/rollback-plan.journal.jsonl"


def test_passing_example_passes_without_a_plan(selftest: dict[str, dict[str, Any]]) -> None:
    gate = _gate(selftest["passing"])
    assert not gate.failed
    assert gate.step("Install gate").ran is False  # install: false, the gate on PATH
    assert gate.outputs["decision"] == "pass"
    assert gate.outputs["rollback-plan"] == ""
    assert "::error" not in gate.stdout
    assert gate.summary.startswith("## ✅ gate: PASS")


def test_an_error_fails_closed_with_outputs_and_a_summary(
        selftest: dict[str, dict[str, Any]]) -> None:
    gate = _gate(selftest["error"])
    assert gate.failed
    assert (gate.outputs["decision"], gate.outputs["exit-code"]) == ("error", "2")
    assert gate.outputs["report-dir"] == "examples/passing/gate-report"
    assert "no-such-manifest.yaml" in gate.summary
    assert "fail closed" in gate.summary
    # gate's own github report names the file; the action's fallback (for a gate
    # that stops before any report) is not needed then.
    assert "::error file=no-such-manifest.yaml,title=gate could not run::" in gate.stdout


def test_rollback_action_refuses_a_plan_with_another_digest(
        selftest: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from ci_support import run_composite

    run = selftest["failing"]
    workspace: Path = run["workspace"]
    result = run_composite(workspace / "actions" / "rollback", {
        "plan": "examples/failing/gate-report/rollback-plan.json",
        "expect-sha256": "0" * 64, "install": "false",
    }, workspace=workspace, temp=tmp_path, env=clean_env())
    step: StepRun = result.step("Run gate rollback")
    assert result.failed and step.returncode == 2, step.stdout + step.stderr
    assert "sha256" in step.stderr


def test_the_documented_workflow_is_docs_ci_md_snippet() -> None:
    assert doc_snippets("test_github_action.py") == [EXAMPLE_WORKFLOW.read_text("utf-8")]


def test_the_documented_workflows_gate_job_feeds_upload_sarif_and_the_artifact(
        tmp_path: Path) -> None:
    """The example's gate job, with `your-org/gate@v0.1.0` standing for this checkout."""
    workflow = yaml.safe_load(EXAMPLE_WORKFLOW.read_text("utf-8"))
    job = workflow["jobs"]["gate"]
    uses = next(s["uses"] for s in job["steps"] if s.get("id") == "gate")
    workspace = copy_project(tmp_path / "workspace")
    shutil.copytree(EXAMPLES / "failing", workspace / "models" / "fraud-detector")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    steps = dict(run_workflow_job(job, workspace=workspace, temp=temp, env=clean_env(),
                                  local_actions={uses: "./"},
                                  input_overrides={"gate": {"install": "false"}}))
    gate = steps["gate"]
    assert isinstance(gate, ActionRun) and gate.failed
    assert gate.outputs["decision"] == "fail"
    marketplace = [s for s in steps.values() if isinstance(s, Marketplace)]
    sarif = next(m for m in marketplace if m.uses.startswith("github/codeql-action/upload-sarif"))
    artifact = next(m for m in marketplace if m.uses.startswith("actions/upload-artifact"))
    assert sarif.inputs["sarif_file"] == "models/fraud-detector/gate-report/gate.sarif"
    assert (workspace / sarif.inputs["sarif_file"]).is_file()
    assert (workspace / artifact.inputs["path"] / "rollback-plan.json").is_file()
    if_always = [s.get("if", "") for s in job["steps"] if "upload" in s.get("uses", "")]
    assert all(cond.startswith("always()") for cond in if_always)


@pytest.mark.parametrize("test_file", ["test_github_action.py", "test_gitlab_ci.py",
                                       "test_precommit.py"])
def test_the_readme_carries_each_tested_snippet(test_file: str) -> None:
    """Each CI home's section in the README has the snippet its test runs."""
    assert doc_snippets(test_file), f"no README snippet is marked as run by {test_file}"
