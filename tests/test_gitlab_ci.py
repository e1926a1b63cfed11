"""The GitLab CI/CD component, run for real by gitlab-ci-local (shell executor).

Each example runs once per session in a fresh git project that holds the
component as its own catalog project would (actions/gitlab/ at the root, so
templates/gate.yml) plus the bundle, with the README's pipeline as
.gitlab-ci.yml: its component address becomes
``$CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA``, which gitlab-ci-local
resolves from the local checkout, and its install command becomes
``gate --version``. gitlab-ci-local
expands the inputs, validates the pipeline against GitLab's schema, runs the
jobs with --shell-isolation (each in its own copy, artifacts and dotenv
passed between them, which needs rsync) and --force-shell-executor (the jobs
name an image; here gate is already on PATH, so the install input only
prints its version).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ci_support import (
    EXAMPLES,
    ROOT,
    clean_env,
    doc_snippets,
    git_commit_all,
    npm_skip_reason,
    npm_tool,
)
from junitparser import JUnitXml

GITLAB_CI_LOCAL = npm_tool("gitlab-ci-local")
pytestmark = [
    pytest.mark.npm,
    pytest.mark.slow,
    pytest.mark.skipif(GITLAB_CI_LOCAL is None, reason=npm_skip_reason("gitlab-ci-local")),
    pytest.mark.skipif(shutil.which("rsync") is None,
                       reason="gitlab-ci-local --shell-isolation needs rsync "
                       "(apt-get install rsync; .ci/test.sh does it)"),
]


def pipeline() -> str:
    """the README's pipeline, with the component at this checkout and gate already installed."""
    (snippet,) = doc_snippets("test_gitlab_ci.py")
    text, n = re.subn(r"(?m)^(\s*- component: ).*$",
                      r"\1$CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA", snippet)
    text, m = re.subn(r"(?m)^(\s*install: ).*$", r"\1gate --version", text)
    assert (n, m) == (1, 1), snippet
    return text


CONFIG = "models/fraud-detector"  # where the documented pipeline's config points


def run_pipeline(example: str, base: Path, *, inputs: dict[str, str] | None = None,
                 rollback: str | None = None,
                 more_bundles: dict[str, str] | None = None) -> dict[str, Any]:
    """The README's pipeline on ``example`` (with more component ``inputs``, the bundle's
    ``rollback:`` section replaced by ``rollback`` if given, and ``more_bundles``: folder ->
    example)."""
    project = base / "project"
    shutil.copytree(ROOT / "actions" / "gitlab", project)
    for folder, source in {CONFIG: example, **(more_bundles or {})}.items():
        shutil.copytree(EXAMPLES / source, project / folder,
                        ignore=shutil.ignore_patterns("gate-report"))
    text = pipeline()
    for key, value in (inputs or {}).items():
        text = re.sub(r"(?m)^(\s*)(install: .*)$", rf"\1\2\n\1{key}: {value}", text, count=1)
    (project / ".gitlab-ci.yml").write_text(text)
    if rollback is not None:
        manifest = project / CONFIG / "gate.yaml"
        head = manifest.read_text("utf-8").split("\nrollback:")[0]
        manifest.write_text(head + "\n" + rollback, "utf-8")
    git_commit_all(project)
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "remote", "add", "origin", "https://gitlab.example.com/ml/gate.git"],
                   check=True)
    subprocess.run([*git, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"],
                   check=True)
    # The remote keeps its GitLab address (gitlab-ci-local derives the project from it);
    # git fetches it from a bare copy beside the project, as a merge request job would.
    origin = base / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(origin)], check=True)
    subprocess.run([*git, "config", f"url.{origin}.insteadOf",
                    "https://gitlab.example.com/ml/gate.git"], check=True)
    return run_local(project, base)


def run_local(project: Path, base: Path, *args: str) -> dict[str, Any]:
    """gitlab-ci-local in ``project``: the whole pipeline, or the jobs and options in ``args``."""
    env = clean_env(HOME=str(base))
    assert GITLAB_CI_LOCAL is not None
    proc = subprocess.run(
        [GITLAB_CI_LOCAL, "--force-shell-executor", "--shell-isolation", "--no-color",
         "--home", str(base / ".gitlab-ci-local-home"), *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    state = project / ".gitlab-ci-local"
    logs = {p.stem: p.read_text("utf-8") for p in (state / "output").glob("*.log")}
    return {"proc": proc, "project": project, "artifacts": state / "artifacts", "logs": logs}


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {name: run_pipeline(name, tmp_path_factory.mktemp(f"gitlab-{name}"))
            for name in ("failing", "passing")}


def _explain(run: dict[str, Any]) -> str:
    proc: subprocess.CompletedProcess[str] = run["proc"]
    return proc.stdout[-6000:] + proc.stderr[-3000:]


def test_failing_example_check_fails_with_its_reports(
        pipelines: dict[str, dict[str, Any]]) -> None:
    run = pipelines["failing"]
    assert run["proc"].returncode == 1, _explain(run)
    assert "json schema validated" in run["proc"].stdout + run["proc"].stderr
    assert " FAIL  gate-check" in run["proc"].stdout, _explain(run)
    reports = run["artifacts"] / "gate-check" / "gate-report"
    assert {p.name for p in reports.iterdir()} >= {
        "decision.json", "rollback-plan.json", "junit.xml", "gl-code-quality-report.json",
        "gate.env", "summary.md"}
    decision = json.loads((reports / "decision.json").read_text("utf-8"))
    assert (decision["decision"], decision["exit_code"]) == ("fail", 1)
    junit = JUnitXml.fromfile(str(reports / "junit.xml"))
    assert junit.failures == sum(1 for r in decision["rules"] if r["status"] == "failed")
    issues = json.loads((reports / "gl-code-quality-report.json").read_text("utf-8"))
    assert len(issues) == len(decision["findings"])
    assert (reports / "gate.env").read_text("utf-8").startswith(
        "GATE_DECISION=fail\nGATE_EXIT_CODE=1\n")


def test_failing_example_rollback_job_dry_runs_the_plan(
        pipelines: dict[str, dict[str, Any]]) -> None:
    run = pipelines["failing"]
    assert " PASS  gate-rollback" in run["proc"].stdout, _explain(run)
    decision = json.loads((run["artifacts"] / "gate-check" / "gate-report" /
                           "decision.json").read_text("utf-8"))
    log = run["logs"]["gate-rollback"]
    # The digest reached the rollback job through the dotenv report, apart from the plan.
    digest = decision["rollback_plan"]["sha256"]
    assert f"gate-report/rollback-plan.json must have sha256 {digest} (from gate-check)" in log
    assert "gate rollback: dry run of gate-report/rollback-plan.json" in log
    assert "Nothing was run." in log


def test_passing_example_passes_and_rollback_does_not_run(
        pipelines: dict[str, dict[str, Any]]) -> None:
    run = pipelines["passing"]
    assert run["proc"].returncode == 0, _explain(run)
    assert " PASS  gate-check" in run["proc"].stdout
    assert "gate-rollback" not in run["proc"].stdout
    assert "gate-rollback" not in run["logs"]
    reports = run["artifacts"] / "gate-check" / "gate-report"
    assert not (reports / "rollback-plan.json").exists()
    assert (reports / "gate.env").read_text("utf-8").startswith("GATE_DECISION=pass\n")
    assert json.loads((reports / "gl-code-quality-report.json").read_text("utf-8")) == []


# --- executing: only in a trusted pipeline, and exactly once per plan -------------------


def _marking_rollback(marker: Path) -> str:
    return ("rollback:\n  target: {version: 2.3.1}\n  steps:\n"
            f"    - {{name: record, run: 'echo \"$GATE_MODEL_NAME\" >> {marker}'}}\n")


def test_a_merge_request_pipeline_cannot_execute_its_plan(tmp_path: Path) -> None:
    marker = tmp_path / "markers"
    project = tmp_path / "mr"
    project.mkdir()
    run_pipeline("failing", project, inputs={"rollback-execute": "true"},
                 rollback=_marking_rollback(marker))  # the push pipeline first: it executes
    assert marker.read_text("utf-8") == "fraud-detector\n"
    marker.unlink()
    mr = run_local(project / "project", project,
                   "--variable", "CI_PIPELINE_SOURCE=merge_request_event",
                   "--variable", "CI_MERGE_REQUEST_IID=7",
                   "--variable", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main")
    # The merge request was judged by its target branch's policies, read with git.
    (decision,) = (mr["artifacts"] / "gate-check").rglob("decision.json")
    assert json.loads(decision.read_text())["governance"]["source"].startswith(
        "git ref origin/main ("), _explain(mr)
    log = mr["logs"]["gate-rollback"]
    assert " FAIL  gate-rollback" in mr["proc"].stdout, _explain(mr)
    assert "refusing to execute a rollback plan in this job: a merge_request_event pipeline" \
        in log
    assert not marker.exists()


def test_the_journal_is_cached_by_plan_digest_and_a_new_plan_is_not_blocked(
        tmp_path: Path) -> None:
    marker = tmp_path / "markers"
    run = run_pipeline("failing", tmp_path, inputs={"rollback-execute": "true"},
                       rollback=_marking_rollback(marker))
    assert " PASS  gate-rollback" in run["proc"].stdout, _explain(run)
    assert "gate rollback: executing gate-report/rollback-plan.json" in run["logs"]["gate-rollback"]
    assert marker.read_text("utf-8") == "fraud-detector\n"
    plan = run["artifacts"] / "gate-check" / "gate-report" / "rollback-plan.json"
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    cache = run["project"] / ".gitlab-ci-local" / "cache" / "gate-rollback-journal"
    cached = list(cache.rglob("rollback-*.journal.jsonl"))
    assert [p.name for p in cached] == [f"rollback-{sha}.journal.jsonl"]
    assert '"outcome": "ok"' in cached[0].read_text("utf-8")
    # The next failing check writes a new plan (another digest): the journal of the
    # first is restored from the cache and does not block it.
    again = run_local(run["project"], tmp_path)
    assert " PASS  gate-rollback" in again["proc"].stdout, _explain(again)
    new_sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    assert new_sha != sha
    assert marker.read_text("utf-8") == "fraud-detector\nfraud-detector\n"
    assert {p.name for p in cache.rglob("rollback-*.journal.jsonl")} == {
        f"rollback-{sha}.journal.jsonl", f"rollback-{new_sha}.journal.jsonl"}


def test_an_error_run_without_a_plan_leaves_nothing_to_roll_back(tmp_path: Path) -> None:
    """As on GitHub: no plan (gate.yaml unreadable) means the rollback job has nothing to do;
    gate-check's failure is what blocks the deploy."""
    run = run_pipeline("failing", tmp_path, inputs={"config": "models/nowhere/gate.yaml"})
    stdout = run["proc"].stdout
    assert " FAIL  gate-check" in stdout, _explain(run)
    assert "gate: manifest error in models/nowhere/gate.yaml" in run["logs"]["gate-check"]
    assert " PASS  gate-rollback" in stdout, _explain(run)
    assert "nothing to roll back" in run["logs"]["gate-rollback"]


# --- many bundles in one job -------------------------------------------------------------


def test_many_bundles_one_job_and_a_merge_request_judges_only_what_it_changed(
        tmp_path: Path) -> None:
    """bundles: models/* judges every bundle in one gate-check (combined JUnit, code quality and
    dotenv; a plan per failing bundle, each dry-run by gate-rollback against the digest in
    index.json). A merge request with changed-since: auto judges only the bundle it touched.
    (Not "all" here: this project is the component's own, whose templates/gate.yml --all
    would rightly take for a bundle and fail to read.)"""
    run = run_pipeline("failing", tmp_path,
                       inputs={"bundles": '"models/*"', "changed-since": "auto"},
                       more_bundles={"models/churn": "passing"})
    assert " FAIL  gate-check" in run["proc"].stdout, _explain(run)
    reports = run["artifacts"] / "gate-check" / "gate-report"
    index = json.loads((reports / "index.json").read_text("utf-8"))
    assert [(b["path"], b["decision"]) for b in index["bundles"]] == [
        ("models/churn", "pass"), (CONFIG, "fail")]
    junit = JUnitXml.fromfile(str(reports / "junit.xml"))
    assert {suite.name.split(":")[0] for suite in junit} == {"models/churn", CONFIG}
    assert junit.failures > 0
    issues = json.loads((reports / "gl-code-quality-report.json").read_text("utf-8"))
    assert issues and {i["location"]["path"].split("/")[1] for i in issues} == {
        "fraud-detector"}
    assert (reports / "gate.env").read_text("utf-8").startswith(
        "GATE_DECISION=fail\nGATE_EXIT_CODE=1\n")
    log = run["logs"]["gate-rollback"]
    (plan,) = [b for b in index["bundles"] if b["rollback_plan"]]
    assert (f"{plan['rollback_plan']} must have sha256 {plan['rollback_plan_sha256']}"
            in log), _explain(run)
    assert f"gate rollback: dry run of {plan['rollback_plan']}" in log
    assert " PASS  gate-rollback" in run["proc"].stdout

    project = run["project"]
    card = project / "models" / "churn" / "model_card.md"
    card.write_text(card.read_text("utf-8") + "\nRetrained on October's data.\n", "utf-8")
    git_commit_all(project, "retrain churn")
    mr = run_local(project, tmp_path,
                   "--variable", "CI_PIPELINE_SOURCE=merge_request_event",
                   "--variable", "CI_MERGE_REQUEST_IID=8",
                   "--variable", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main")
    assert " PASS  gate-check" in mr["proc"].stdout, _explain(mr)
    index = json.loads((mr["artifacts"] / "gate-check" / "gate-report" / "index.json")
                       .read_text("utf-8"))
    assert [b["path"] for b in index["bundles"]] == ["models/churn"]
    assert "gate-rollback" not in mr["proc"].stdout


def test_changed_since_without_bundles_fails_the_check_job(tmp_path: Path) -> None:
    """changed-since chooses among bundles: without them the job refuses (a red gate-check,
    never a check of the wrong thing)."""
    run = run_pipeline("passing", tmp_path, inputs={"changed-since": "main"})
    assert " FAIL  gate-check" in run["proc"].stdout, _explain(run)
    assert "changed-since needs bundles" in run["logs"]["gate-check"]
