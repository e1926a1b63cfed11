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
import json
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
    clean_env,
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


@pytest.mark.slow  # runs check-jsonschema
def test_actions_match_githubs_action_schema() -> None:
    proc = check_jsonschema("vendor.github-actions", ROOT / "action.yml",
                            ROOT / "actions" / "rollback" / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # runs check-jsonschema
def test_workflows_match_githubs_workflow_schema() -> None:
    proc = check_jsonschema("vendor.github-workflows", SELFTEST, EXAMPLE_WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # runs check-jsonschema
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


@pytest.fixture(scope="module")
def selftest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every job of selftest.yml, run once for this module."""
    jobs = yaml.safe_load(SELFTEST.read_text("utf-8"))["jobs"]
    # Later jobs use the gate this interpreter runs; the first one installs its own with pip.
    # The jobs run as on a pull request, where executing a plan must be refused.
    # As on GitHub, the checkout is a git repository whose origin has the base branch:
    # the action reads the policies from origin/main (trusted-ref: auto).
    env = {**clean_env(), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}
    results: dict[str, dict[str, Any]] = {}
    for n, name in enumerate(["failing", "passing", "error"]):
        base = tmp_path_factory.mktemp(f"selftest-{name}")
        workspace = copy_project(base / "workspace")
        git_checkout_with_origin(workspace, base / "origin.git")
        temp = base / "runner-temp"
        temp.mkdir()
        overrides = {} if n == 0 else {"gate": {"install": "false"}}
        steps = run_workflow_job(jobs[name], workspace=workspace, temp=temp, env=env,
                                 input_overrides=overrides)
        results[name] = {"steps": dict(steps), "workspace": workspace, "temp": temp}
    return results


def git_checkout_with_origin(workspace: Path, origin: Path) -> None:
    """Make ``workspace`` a git checkout of main whose remote ``origin`` (a bare repository)
    holds the same commit, as actions/checkout leaves a pull request's workspace."""
    identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.com"]

    def git(*args: str, cwd: Path = workspace) -> None:
        subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("clone", "-q", "--bare", str(workspace), str(origin), cwd=workspace.parent)
    git("remote", "add", "origin", str(origin))


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
@pytest.mark.slow
def test_a_pull_request_is_judged_by_its_base_branchs_policies(
        selftest: dict[str, dict[str, Any]]) -> None:
    decision = json.loads((selftest["failing"]["workspace"] / "examples" / "failing" /
                           "gate-report" / "decision.json").read_text())
    assert decision["governance"]["source"].startswith("git ref origin/main (")
    assert decision["governance"]["changed"] == []


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
@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
def test_selftest_job_assertions_hold(selftest: dict[str, dict[str, Any]], job: str) -> None:
    """The workflow's own checks (and the rollback dry run) succeed, as on GitHub."""
    run = selftest[job]
    for sid, result in run["steps"].items():
        if sid in ("gate", "untrusted") or isinstance(result, Marketplace):
            continue  # these two are meant to fail (continue-on-error), checked below
        ok = (not result.failed) if isinstance(result, ActionRun) else result.returncode == 0
        assert ok, _explain(run)


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
def test_failing_example_installs_gate_from_the_actions_checkout(
        selftest: dict[str, dict[str, Any]]) -> None:
    gate = _gate(selftest["failing"])
    install = gate.step("Install gate")
    assert install.ran and install.returncode == 0, install.stderr
    venv_gate = selftest["failing"]["temp"] / "gate-venv" / "bin" / "gate"
    assert install.outputs == {"bin": str(venv_gate.parent)}
    assert venv_gate.is_file()


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
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
    journal = run["temp"] / "gate-rollback-journal" / f"rollback-{out['rollback-plan-sha256']}"
    assert rollback.outputs["journal"] == f"{journal}.journal.jsonl"  # outside the workspace
    assert rollback.outputs["plan-sha256"] == out["rollback-plan-sha256"]


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
def test_the_selftest_checks_that_a_pull_request_cannot_execute_its_plan(
        selftest: dict[str, dict[str, Any]]) -> None:
    run = selftest["failing"]
    untrusted = run["steps"]["untrusted"]
    assert isinstance(untrusted, ActionRun) and untrusted.failed
    step = untrusted.step("Run gate rollback")
    assert step.returncode == 2, step.stdout + step.stderr
    assert "refusing to execute a rollback plan in this job: a pull_request event" in step.stderr
    assert "deploy.sh" not in step.stdout  # nothing ran, not even shown as running
    assert run["steps"]["step6"].returncode == 0  # the workflow's own check of the refusal


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
def test_passing_example_passes_without_a_plan(selftest: dict[str, dict[str, Any]]) -> None:
    gate = _gate(selftest["passing"])
    assert not gate.failed
    assert gate.step("Install gate").ran is False  # install: false, the gate on PATH
    assert gate.outputs["decision"] == "pass"
    assert gate.outputs["rollback-plan"] == ""
    assert "::error" not in gate.stdout
    assert gate.summary.startswith("## ✅ gate: PASS")


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
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


@pytest.mark.slow  # the selftest fixture installs gate with pip and runs three jobs
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


@pytest.mark.slow
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
def test_docs_ci_carries_each_tested_snippet(test_file: str) -> None:
    """Each CI home's section in docs/ci.md has the snippet its test runs."""
    assert doc_snippets(test_file), f"no docs/ci.md snippet is marked as run by {test_file}"


# --- the rollback action: trust, and a journal that outlives the job --------------------


def _plan(folder: Path, marker: str = "markers") -> Path:
    """A one-step plan whose step appends a line to ``marker`` (in the working directory)."""
    doc = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00+00:00",
           "trigger": "check", "model": {"name": "fd", "candidate_version": "2"},
           "target": {"version": "1"}, "reasons": [],
           "steps": [{"name": "record", "kind": "run", "run": f"echo ran >> {marker}",
                      "timeout_s": 30, "retries": 0, "backoff_s": 0}]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rollback-plan.json").write_text(json.dumps(doc), "utf-8")
    return folder / "rollback-plan.json"


def _event_env(tmp_path: Path, name: str, ref: str = "refs/heads/main",
               payload: dict[str, Any] | None = None) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload if payload is not None else
                                {"repository": {"default_branch": "main",
                                                "full_name": "o/r"}}), "utf-8")
    return {**clean_env(), "GITHUB_EVENT_NAME": name, "GITHUB_REF": ref,
            "GITHUB_EVENT_PATH": str(event), "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "1"}


def _rollback(workspace: Path, temp: Path, env: dict[str, str], **inputs: str) -> ActionRun:
    from ci_support import run_composite

    temp.mkdir(exist_ok=True)
    return run_composite(ROOT / "actions" / "rollback",
                         {"install": "false", "working-directory": "bundle",
                          "plan": "rollback-plan.json", **inputs},
                         workspace=workspace, temp=temp, env=env)


PR_PAYLOAD = {"pull_request": {"number": 7, "head": {"repo": {"fork": True}}},
              "repository": {"default_branch": "main", "full_name": "o/r"}}


@pytest.mark.parametrize(("event", "ref", "payload"), [
    ("pull_request", "refs/pull/7/merge", PR_PAYLOAD),
    ("pull_request_target", "refs/heads/main", PR_PAYLOAD),
    ("merge_group", "refs/heads/gh-readonly-queue/main/pr-7", None),
    ("push", "refs/heads/feature", None),  # neither the default branch nor protected
    ("workflow_run", "refs/heads/main",
     {"workflow_run": {"event": "pull_request", "head_branch": "feature",
                       "head_repository": {"full_name": "fork/r"}},
      "repository": {"default_branch": "main", "full_name": "o/r"}}),
])
@pytest.mark.slow  # runs the composite action's steps
def test_rollback_action_refuses_to_execute_on_an_untrusted_event(
        tmp_path: Path, event: str, ref: str, payload: dict[str, Any] | None) -> None:
    workspace = tmp_path / "ws"
    _plan(workspace / "bundle")
    result = _rollback(workspace, tmp_path / "temp", _event_env(tmp_path, event, ref, payload),
                       execute="true")
    step = result.step("Run gate rollback")
    assert result.failed and step.returncode == 2, step.stdout + step.stderr
    assert "refusing to execute a rollback plan in this job" in step.stderr
    assert "--allow-untrusted-execute" in step.stderr
    assert not (workspace / "bundle" / "markers").exists()
    # a dry run is what an untrusted event gets, and it works
    dry = _rollback(workspace, tmp_path / "temp", _event_env(tmp_path, event, ref, payload))
    assert not dry.failed and "Nothing was run" in dry.stdout


@pytest.mark.slow  # runs the composite action's steps
def test_rollback_action_executes_an_untrusted_event_only_when_told_and_warns(
        tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _plan(workspace / "bundle")
    env = _event_env(tmp_path, "pull_request", "refs/pull/7/merge", PR_PAYLOAD)
    result = _rollback(workspace, tmp_path / "temp", env, execute="true",
                       **{"allow-untrusted-execute": "true"})
    step = result.step("Run gate rollback")
    assert not result.failed, step.stdout + step.stderr
    assert step.stdout.startswith("::warning title=gate rollback on an untrusted event::")
    assert "WARNING" in step.stderr and "pull_request" in step.stderr
    assert (workspace / "bundle" / "markers").read_text("utf-8") == "ran\n"


@pytest.mark.slow  # runs the composite action's steps
def test_rollback_action_keeps_the_journal_by_digest_across_fresh_copies(
        tmp_path: Path) -> None:
    """What the documented rollback job does on a re-run: a fresh download of the same plan."""
    env = _event_env(tmp_path, "push")
    first_ws, second_ws = tmp_path / "ws1", tmp_path / "ws2"
    plan = _plan(first_ws / "bundle", marker=str(tmp_path / "markers"))
    _plan(second_ws / "bundle", marker=str(tmp_path / "markers"))  # the same bytes
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    temp = tmp_path / "temp"  # the journal folder lives here; the Actions cache carries it

    first = _rollback(first_ws, temp, env, execute="true")
    assert not first.failed, first.stdout + first.stderr
    restore = first.step("Restore the journal of this plan")
    save = first.step("Keep the journal of this plan")
    assert restore.uses == "actions/cache/restore@v4" and save.uses == "actions/cache/save@v4"
    assert restore.inputs["path"] == save.inputs["path"] == str(temp / "gate-rollback-journal")
    assert save.inputs["key"] == f"gate-rollback-journal-{sha}-77-1"
    assert restore.inputs["restore-keys"] == f"gate-rollback-journal-{sha}-"
    assert first.outputs["journal"] == str(temp / "gate-rollback-journal" /
                                           f"rollback-{sha}.journal.jsonl")

    second = _rollback(second_ws, temp, env, execute="true")  # another folder, same digest
    assert not second.failed, second.stdout + second.stderr
    assert "record: done in an earlier run, skipped" in second.stdout
    assert (tmp_path / "markers").read_text("utf-8") == "ran\n"  # exactly once

    # A dry run restores but does not save; a new plan (another digest) is not blocked.
    dry = _rollback(second_ws, temp, env)
    assert dry.step("Keep the journal of this plan").ran is False
    new = _plan(second_ws / "bundle", marker=str(tmp_path / "markers"))
    doc = json.loads(new.read_text("utf-8"))
    doc["created_at"] = "2026-11-26T12:00:00+00:00"
    new.write_text(json.dumps(doc), "utf-8")
    third = _rollback(second_ws, temp, env, execute="true")
    assert not third.failed, third.stdout + third.stderr
    assert (tmp_path / "markers").read_text("utf-8") == "ran\nran\n"


def test_the_documented_workflow_executes_plans_only_from_trusted_code() -> None:
    """No job a pull request can start has an environment, secrets or execute: "true"."""
    jobs = yaml.safe_load(EXAMPLE_WORKFLOW.read_text("utf-8"))["jobs"]
    executing = {name for name, job in jobs.items()
                 if any(str((s.get("with") or {}).get("execute")) == "true"
                        for s in job["steps"])}
    assert executing == {"rollback"}
    for name, job in jobs.items():
        cond = " ".join(str(job.get("if", "")).split())
        if "environment" in job or name in executing:
            assert "github.event_name == 'push'" in cond, name
            assert "github.ref == 'refs/heads/main'" in cond, name
            assert "pull_request" not in cond, name
    preview = jobs["rollback-preview"]
    assert "github.event_name == 'pull_request'" in preview["if"]
    assert "environment" not in preview
    assert not any(str(s.get("uses", "")).startswith("actions/checkout") for s in
                   preview["steps"])  # a dry run needs the plan, not the change's code
    assert jobs["rollback"]["concurrency"]["cancel-in-progress"] is False


@pytest.mark.slow  # runs the composite action's steps
def test_many_bundles_on_a_pull_request_judge_the_changed_ones_by_the_base_branch(
        tmp_path: Path) -> None:
    """bundles: all + changed-since: auto, as on a pull request: only the bundle the change
    touches is judged, with the base branch's governance, and the outputs name the index
    and the plan; the combined SARIF and summary cover that bundle."""
    from ci_support import run_composite

    workspace = tmp_path / "workspace"
    action = copy_project(tmp_path / "action")
    for name, example in (("fraud", "passing"), ("churn", "failing"), ("spam", "passing")):
        shutil.copytree(EXAMPLES / example, workspace / "models" / name)
    git_checkout_with_origin(workspace, tmp_path / "origin.git")
    card = workspace / "models" / "churn" / "model_card.md"
    card.write_text(card.read_text("utf-8") + "\nRetrained on October's data.\n", "utf-8")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    env = {**clean_env(), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}
    result = run_composite(action, {"bundles": "all", "changed-since": "auto",
                                    "install": "false"},
                           workspace=workspace, temp=temp, env=env)
    step: StepRun = result.step("Run gate check")
    assert result.failed and result.outputs["exit-code"] == "1", step.stdout + step.stderr
    assert result.outputs["decision"] == "fail"
    index = json.loads((workspace / result.outputs["index"]).read_text("utf-8"))
    assert [b["path"] for b in index["bundles"]] == ["models/churn"]
    assert result.outputs["rollback-plans"] == "gate-report/models/churn/rollback-plan.json"
    decision = json.loads((workspace / "gate-report" / "models" / "churn" /
                           "decision.json").read_text("utf-8"))
    assert decision["governance"]["source"].startswith("git ref origin/main (")
    sarif = json.loads((workspace / result.outputs["sarif"]).read_text("utf-8"))
    assert len(sarif["runs"]) == 1 and sarif["runs"][0]["results"]
    assert "models/churn" in step.summary and "models/fraud" not in step.summary


@pytest.mark.slow  # runs the composite action's steps
def test_changed_since_without_bundles_is_refused(tmp_path: Path) -> None:
    from ci_support import run_composite

    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "passing", workspace)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    result = run_composite(copy_project(tmp_path / "action"),
                           {"changed-since": "main", "install": "false", "trusted-ref": "off"},
                           workspace=workspace, temp=temp, env=clean_env())
    step: StepRun = result.step("Run gate check")
    assert result.failed and step.returncode == 2
    assert "changed-since needs bundles" in step.stdout
