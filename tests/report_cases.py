"""The reports of one fixed bundle (tests/reports/bundle), rendered in every format.

Each variant is a real `gate check` of that bundle (through ``run_check`` and
``write_outputs``, as the CLI does) in a chosen CI environment, with the
clock and timings frozen so the output is byte-for-byte stable:

* ``fail``: run locally; blocking findings, a warning, a waiver and a refused one.
* ``fail-github`` / ``fail-gitlab``: the same run inside GitHub Actions / GitLab CI.
* ``pass``: only the model-card policy, which passes.
* ``error``: eval.json is not valid JSON, so the gate fails closed.
"""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from gate import __version__
from gate.decision import CheckReport
from gate.pipeline import CheckOptions, run_check
from gate.reports.write import write_outputs

BUNDLE = Path(__file__).parent / "reports" / "bundle"
GOLDEN = Path(__file__).parent / "reports" / "golden"
FROZEN = "2026-01-01T00:00:00+00:00"
SHA = "0123456789abcdef0123456789abcdef01234567"

VARIANTS: dict[str, list[str]] = {
    "fail": ["text", "json", "sarif", "junit", "markdown", "gitlab", "github"],
    "fail-github": ["github"],
    "fail-gitlab": ["gitlab", "markdown"],
    "pass": ["text", "json", "sarif", "junit", "markdown", "gitlab", "github"],
    "error": ["sarif", "junit", "markdown", "gitlab", "github"],
}


def ci_env(variant: str, repo: Path, scratch: Path) -> dict[str, str]:
    """The environment of the variant's CI platform (only what gate reads)."""
    env = {"NO_COLOR": "1"}
    if variant.endswith("-github"):
        env.update(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(repo),
                   GITHUB_REPOSITORY="acme/models", GITHUB_SHA=SHA,
                   GITHUB_SERVER_URL="https://github.com", GITHUB_REF="refs/pull/7/merge",
                   GITHUB_ACTOR="octocat", GITHUB_EVENT_NAME="pull_request",
                   GITHUB_OUTPUT=str(scratch / "github-output.txt"),
                   GITHUB_STEP_SUMMARY=str(scratch / "step-summary.md"))
    elif variant.endswith("-gitlab"):
        env.update(GITLAB_CI="true", CI_PROJECT_DIR=str(repo), CI_PROJECT_PATH="acme/models",
                   CI_PROJECT_URL="https://gitlab.example.com/acme/models", CI_COMMIT_SHA=SHA,
                   CI_COMMIT_REF_NAME="main", GITLAB_USER_LOGIN="tanuki",
                   CI_PIPELINE_SOURCE="push")
    return env


def check(variant: str, repo: Path, env: dict[str, str]) -> CheckReport:
    """`gate check` of the bundle, copied to ``repo/bundle``, frozen in time."""
    bundle = repo / "bundle"
    shutil.copytree(BUNDLE, bundle)
    policies: tuple[str, ...] = ()
    if variant == "pass":
        policies = ("bundle/policies/card.rego",)
    if variant == "error":
        (bundle / "eval.json").write_text('{"metrics": {"auc": 0.71,}}\n')
    # Pinned: the reports are the same whatever the engine (tests/test_engines_agree.py),
    # and the engine's name and version appear in them.
    report = run_check(CheckOptions(config="bundle/gate.yaml", policy_paths=policies,
                                    output_dir="gate-report", cwd=repo, env=env, engine="regorus",
                                    today=date(2026, 1, 1)))
    plan = report.rollback_plan
    if plan is not None:
        plan = {**plan, "plan": {**plan["plan"], "created_at": FROZEN}}
    return replace(report, created_at=FROZEN, rollback_plan=plan,
                   timings_ms={"manifest": 1.0, "bundle": 2.0, "policies": 3.0, "total": 42.0})


def normalise(text: str, repo: Path) -> str:
    """Machine- and run-specific parts replaced by placeholders."""
    text = text.replace(repo.as_uri(), "file://{REPO}").replace(str(repo), "{REPO}")
    text = re.sub(r"ghadelimiter_[0-9a-f-]{36}", "ghadelimiter_{UUID}", text)
    for pattern in (f'"{__version__}"', f"gate {__version__}"):
        text = text.replace(pattern, pattern.replace(__version__, "{GATE_VERSION}"))
    return text


def emit(variant: str, formats: list[str], tmp: Path, monkeypatch: Any) -> dict[str, Path]:
    """Run the variant and write ``formats``; the files produced (and stdout.txt), by name."""
    repo = (tmp / "repo").resolve()
    scratch = tmp / "scratch"
    repo.mkdir(parents=True)
    scratch.mkdir()
    monkeypatch.chdir(repo)  # outside CI, paths are relative to the working directory
    env = ci_env(variant, repo, scratch)
    for var in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        if var in env:
            Path(env[var]).write_text("")
    report = check(variant, repo, env)
    out_dir = repo / "gate-report"
    stdout = io.StringIO()
    write_outputs(report, out_dir, [(f, None) for f in formats], stdout=stdout, env=env)
    (scratch / "stdout.txt").write_text(stdout.getvalue(), "utf-8")
    files = {p.name: p for p in sorted(out_dir.iterdir())
             if p.name not in ("decision.json", "rollback-plan.json")}
    files.update({p.name: p for p in sorted(scratch.iterdir())})
    return files


def render(variant: str, fmt: str, tmp: Path, monkeypatch: Any) -> dict[str, str]:
    """Every file (and stdout) that ``--format fmt`` produced, normalised, by name."""
    repo = (tmp / "repo").resolve()
    return {name: normalise(p.read_text("utf-8"), repo)
            for name, p in emit(variant, [fmt], tmp, monkeypatch).items()}
