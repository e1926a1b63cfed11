"""Many bundles in one `gate check`: each judged as on its own, reported together."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from junitparser import JUnitXml

from gate.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@x", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """models/{fraud (passing), churn (failing), broken (gate.yaml unreadable)}, committed."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "passing", root / "models" / "fraud")
    shutil.copytree(EXAMPLES / "failing", root / "models" / "churn")
    (root / "models" / "broken").mkdir(parents=True)
    (root / "models" / "broken" / "gate.yaml").write_text("version: 1\nmodel: [\n")
    (root / ".gitignore").write_text("gate-report/\n")
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "three bundles")
    monkeypatch.chdir(root)
    return root


def check(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["check", *args], env={**ENV, **(env or {})})


def index(root: Path, out: str = "gate-report") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / out / "index.json").read_text())
    return doc


def test_all_judges_every_bundle_and_one_unreadable_does_not_stop_the_others(
        repo: Path) -> None:
    result = check("--all")
    assert result.exit_code == 2  # the worst bundle's
    doc = index(repo)
    assert [(b["path"], b["decision"], b["exit_code"]) for b in doc["bundles"]] == [
        ("models/broken", "error", 2), ("models/churn", "fail", 1), ("models/fraud", "pass", 0)]
    assert doc["decision"] == "error" and doc["exit_code"] == 2
    for b in doc["bundles"]:
        assert (repo / b["decision_file"]).is_file()
    churn = next(b for b in doc["bundles"] if b["path"] == "models/churn")
    assert (repo / churn["rollback_plan"]).is_file() and len(churn["rollback_plan_sha256"]) == 64
    lines = result.output.splitlines()
    assert lines[0].startswith("ERROR  models/broken")
    assert lines[1].startswith("FAIL   models/churn   fraud-detector 2.5.0  (")
    assert lines[2].startswith("PASS   models/fraud   fraud-detector 2.4.0  (")
    assert "gate: ERROR  3 bundles: 1 pass, 1 fail, 1 error" in result.output
    assert "== models/churn" in result.output and "== models/fraud" not in result.output


def comparable(decision: dict[str, Any]) -> dict[str, Any]:
    """decision.json less what differs between any two runs (times, paths of the run)."""
    doc = {k: v for k, v in decision.items()
           if k not in ("created_at", "timings_ms", "rollback_plan", "ci")}
    doc["findings"] = sorted(json.dumps(f, sort_keys=True) for f in doc["findings"])
    return doc


def test_each_bundle_gets_the_decision_of_a_run_of_its_own(repo: Path) -> None:
    for name, metrics in (("a", {"roc_auc": 0.91}), ("b", {"recall": 0.5}),
                          ("c", {"latency_p95_ms": 99.0})):
        bundle = repo / "models" / name
        shutil.copytree(EXAMPLES / "passing", bundle)
        report = json.loads((bundle / "reports" / "eval.json").read_text())
        report["metrics"].update(metrics)
        (bundle / "reports" / "eval.json").write_text(json.dumps(report))
    check("--all")
    together = index(repo)["bundles"]
    assert len(together) == 6
    for b in together:
        alone = check("--config", b["manifest"], "--output-dir", "alone")
        assert alone.exit_code == b["exit_code"]
        mine = json.loads((repo / b["decision_file"]).read_text())
        theirs = json.loads((repo / "alone" / "decision.json").read_text())
        assert comparable(mine) == comparable(theirs), b["path"]


def test_changed_since_keeps_the_bundles_a_change_touches(repo: Path) -> None:
    (repo / "models" / "fraud" / "model_card.md").write_text(
        (repo / "models" / "fraud" / "model_card.md").read_text() + "\nMore notes.\n")
    (repo / "README.md").write_text("# models\n")  # in no bundle
    assert check("--all", "--changed-since", "main").exit_code == 0
    assert [b["path"] for b in index(repo)["bundles"]] == ["models/fraud"]
    shared = repo / "shared-policies"
    shared.mkdir()
    (shared / "extra.rego").write_text('package extra\n\nwarn contains "w" if false\n')
    result = check("--all", "--changed-since", "main", "--policy", "shared-policies",
                   "--policy", "models/churn/policies")
    assert len(index(repo)["bundles"]) == 3, result.output  # a governing file changed
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the change")
    none = check("--all", "--changed-since", "HEAD", "-o", "none")
    assert none.exit_code == 0 and "no bundle to judge changed since HEAD" in none.stderr
    assert index(repo, "none")["bundles"] == []


def test_changed_since_finds_the_bundles_from_the_changed_files(repo: Path) -> None:
    """--all --changed-since looks up from each changed file (no walk of the tree), and
    agrees with the walk: an outer bundle holding a changed inner one is judged too, a
    deleted file still names its bundle, hidden folders stay out as --all leaves them."""
    shutil.copytree(EXAMPLES / "passing", repo / "models" / "fraud" / "shadow")
    hidden = repo / ".archive" / "old"
    shutil.copytree(EXAMPLES / "passing", hidden)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "nested and hidden bundles")
    (repo / "models" / "fraud" / "shadow" / "model_card.md").unlink()
    (hidden / "model_card.md").write_text("changed\n")
    check("--all", "--changed-since", "HEAD")
    assert [b["path"] for b in index(repo)["bundles"]] == ["models/fraud",
                                                            "models/fraud/shadow"]
    named = check("models/churn", "models/fraud", "--changed-since", "HEAD", "-o", "named")
    assert named.exit_code in (0, 1, 2)
    assert [b["path"] for b in index(repo, "named")["bundles"]] == ["models/fraud"]


def test_changed_since_an_unknown_ref_is_exit_2(repo: Path) -> None:
    result = check("--all", "--changed-since", "origin/nope")
    assert result.exit_code == 2 and "--changed-since origin/nope" in result.stderr


def test_json_format_is_the_index(repo: Path) -> None:
    result = check("--all", "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == (repo / "gate-report" / "index.json").read_text()
    assert [b["path"] for b in json.loads(result.stdout)["bundles"]] == [
        b["path"] for b in index(repo)["bundles"]]


def test_globs_folders_and_manifests(repo: Path) -> None:
    assert check("models/f*", "models/churn/gate.yaml").exit_code == 1
    assert [b["path"] for b in index(repo)["bundles"]] == ["models/fraud", "models/churn"]
    missing = check("models/x*", "models/fraud")
    assert missing.exit_code == 2 and "models/x* matches no bundle" in missing.stderr


def test_combined_reports(repo: Path, tmp_path: Path) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    result = check("--all", "--format", "sarif", "--format", "junit", "--format", "gitlab",
                   "--format", "github", "--format", "markdown",
                   env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs),
                        "GITHUB_WORKSPACE": str(repo)})
    assert result.exit_code == 2
    out = repo / "gate-report"
    sarif = json.loads((out / "gate.sarif").read_text())
    assert len(sarif["runs"]) == 3  # one per bundle, the unreadable one included
    assert [r.get("automationDetails", {}).get("id") for r in sarif["runs"]] == [
        None, "gate/fraud-detector/", "gate/fraud-detector/"]
    junit = JUnitXml.fromfile(str(out / "junit.xml"))
    names = [s.name for s in junit]
    assert "models/churn: policies" in names and "models/fraud: policies" in names
    assert any(n.startswith("models/broken: ") for n in names)
    quality = json.loads((out / "gl-code-quality-report.json").read_text())
    assert {i["check_name"] for i in quality} >= {"gate.error", "GATE-LIN-004"}
    dotenv = (out / "gate.env").read_text()
    assert "GATE_DECISION=error\n" in dotenv and f"GATE_INDEX={out / 'index.json'}" in dotenv
    text = outputs.read_text()
    assert "decision<<" in text and "index<<" in text and "models/churn/rollback-plan.json" in text
    assert "| ❌ | `models/churn` |" in summary.read_text()
    assert "::error" in result.output  # the annotations of every bundle


@pytest.mark.slow
def test_workers_give_the_same_verdicts(repo: Path) -> None:
    for i in range(60):
        shutil.copytree(EXAMPLES / ("failing" if i % 10 == 0 else "passing"),
                        repo / "more" / f"m{i:02d}")
    gate = Path(sys.executable).with_name("gate")
    env = {**os.environ, **ENV}
    runs = []
    for jobs in ("1", "2"):
        proc = subprocess.run([str(gate), "check", "--all", "-j", jobs, "-o", f"out{jobs}"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=600,
                              check=False)
        assert proc.returncode == 2, proc.stderr
        runs.append([(b["path"], b["decision"], b["summary"]) for b in
                     index(repo, f"out{jobs}")["bundles"]])
    assert runs[0] == runs[1] and len(runs[0]) == 63


@pytest.mark.npm
@pytest.mark.slow  # runs the SARIF multitool
def test_the_combined_sarif_passes_the_multitool_with_githubs_rules(repo: Path) -> None:
    from ci_support import npm_skip_reason, npm_tool

    tool = npm_tool("sarif-multitool")
    if tool is None:
        pytest.skip(npm_skip_reason("sarif-multitool"))
    check("--all", "--format", "sarif")
    out = repo / "checked.sarif"
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1",
           "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
    proc = subprocess.run([tool, "validate", str(repo / "gate-report" / "gate.sarif"),
                           "--rule-kind", "Sarif\\;Gh", "--output", str(out),
                           "--log", "ForceOverwrite"], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())["runs"][0].get("results", [])
    assert [r["ruleId"] for r in results if r["ruleId"] != "SARIF2005"] == []
