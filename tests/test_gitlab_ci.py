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

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ci_support import (
    EXAMPLES,
    ROOT,
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


def run_pipeline(example: str, base: Path) -> dict[str, Any]:
    project = base / "project"
    shutil.copytree(ROOT / "actions" / "gitlab", project)
    shutil.copytree(EXAMPLES / example, project / CONFIG,
                    ignore=shutil.ignore_patterns("gate-report"))
    (project / ".gitlab-ci.yml").write_text(pipeline())
    git_commit_all(project)
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "remote", "add", "origin", "https://gitlab.example.com/ml/gate.git"],
                   check=True)
    subprocess.run([*git, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"],
                   check=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "RUNNER_", "GITLAB_", "CI_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               NO_COLOR="1", HOME=str(base))
    assert GITLAB_CI_LOCAL is not None
    proc = subprocess.run(
        [GITLAB_CI_LOCAL, "--force-shell-executor", "--shell-isolation", "--no-color",
         "--home", str(base / ".gitlab-ci-local-home")],
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
    return run["proc"].stdout[-6000:] + run["proc"].stderr[-3000:]


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
