"""SARIF: checked by Microsoft's SARIF multitool (the SDK's own reader and validator).

``validate`` runs the JSON schema and the SARIF rules and writes its findings
as a SARIF log; ``rewrite`` deserialises the whole log with the SDK, which
fails loudly on what ``validate`` silently skips (a log it cannot read, e.g. an
unknown ``level``, yields no findings at all). Both run on fresh output of
every variant; a control case shows each catches a broken log. The schema
shipped with the multitool is also applied with jsonschema.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ci_support import ROOT, npm_skip_reason, npm_tool
from report_cases import emit

from gate.reports.sarif import information_uri

MULTITOOL = npm_tool("sarif-multitool")
requires_multitool = pytest.mark.skipif(MULTITOOL is None,
                                        reason=npm_skip_reason("sarif-multitool"))
VARIANTS = ["fail", "pass", "error", "fail-github"]


def multitool(*args: str) -> subprocess.CompletedProcess[str]:
    assert MULTITOOL is not None
    # .NET needs no ICU for this: invariant globalisation keeps it working on slim machines.
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1",
           "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
    return subprocess.run([MULTITOOL, *args], check=False, capture_output=True, text=True, env=env,
                          timeout=120)


def validate(sarif: Path, tmp: Path) -> list[dict[str, Any]]:
    """The multitool's findings about ``sarif`` (an empty list: nothing to say)."""
    out = tmp / f"{sarif.stem}.validation.sarif"
    # SARIF's own rules and GitHub's (code scanning's ingestion rules, GH1xxx/GH2xxx). The
    # npm wrapper runs the tool through a shell, so the ';' between the kinds is escaped.
    proc = multitool("validate", str(sarif), "--rule-kind", "Sarif\\;Gh", "--output", str(out),
                     "--log", "ForceOverwrite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = json.loads(out.read_text("utf-8"))
    run = log["runs"][0]
    assert run["invocations"][0]["executionSuccessful"], proc.stdout
    return list(run.get("results", []))


@pytest.fixture(scope="module")
def sarif_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    mp = pytest.MonkeyPatch()
    try:
        return {v: emit(v, ["sarif"], tmp_path_factory.mktemp(v), mp)["gate.sarif"]
                for v in VARIANTS}
    finally:
        mp.undo()


@pytest.mark.npm
@requires_multitool
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.slow  # runs the SARIF multitool
def test_multitool_finds_no_problem(variant: str, sarif_files: dict[str, Path],
                                    tmp_path: Path) -> None:
    results = validate(sarif_files[variant], tmp_path)
    # SARIF2005 asks for the tool's home page (tool.driver.informationUri), which comes
    # from the package's [project.urls]; allowed only while the package names none.
    allowed = set() if information_uri() else {"SARIF2005"}
    problems = [(r.get("level", "warning"), r["ruleId"], r["message"].get("arguments"))
                for r in results if r["ruleId"] not in allowed]
    assert problems == []


@pytest.mark.npm
@requires_multitool
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.slow  # runs the SARIF multitool
def test_multitool_reads_the_whole_log(variant: str, sarif_files: dict[str, Path],
                                       tmp_path: Path) -> None:
    proc = multitool("rewrite", str(sarif_files[variant]), "--output",
                     str(tmp_path / "rewritten.sarif"), "--log", "ForceOverwrite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rewritten = json.loads((tmp_path / "rewritten.sarif").read_text("utf-8"))
    original = json.loads(sarif_files[variant].read_text("utf-8"))
    assert len(rewritten["runs"][0].get("results", [])) == len(original["runs"][0]["results"])


@pytest.mark.npm
@requires_multitool
@pytest.mark.slow  # runs the SARIF multitool
def test_control_the_multitool_catches_broken_logs(sarif_files: dict[str, Path],
                                                   tmp_path: Path) -> None:
    doc = json.loads(sarif_files["fail"].read_text("utf-8"))
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    bad_region = tmp_path / "bad-region.sarif"
    bad_region.write_text(json.dumps(doc, indent=2))
    assert "JSON1008" in {r["ruleId"] for r in validate(bad_region, tmp_path)}
    doc["runs"][0]["results"][0]["level"] = "fatal"
    bad_level = tmp_path / "bad-level.sarif"
    bad_level.write_text(json.dumps(doc, indent=2))
    proc = multitool("rewrite", str(bad_level), "--output", str(tmp_path / "x.sarif"),
                     "--log", "ForceOverwrite")
    assert proc.returncode != 0


@pytest.mark.npm
@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_the_sarif_schema_shipped_with_the_multitool(
        variant: str, sarif_files: dict[str, Path]) -> None:
    schema_file = ROOT / ".ci" / "node_modules" / "@microsoft" / "sarif-multitool-linux" / \
        "sarif-2.1.0.json"
    if not schema_file.exists():
        pytest.skip(npm_skip_reason("@microsoft/sarif-multitool"))
    schema = json.loads(schema_file.read_text("utf-8-sig"))
    jsonschema.validate(json.loads(sarif_files[variant].read_text("utf-8")), schema)


def test_one_rule_per_id_and_results_point_at_them(sarif_files: dict[str, Path]) -> None:
    run = json.loads(sarif_files["fail"].read_text("utf-8"))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    # The evaluated rules, then ids only findings name (the unverified-approvals warning).
    assert ids == ["CARD-001", "QA-001", "QA-002", "PERF-001", "ART-001", "release.deny_version",
                   "GATE-SIGNOFF-000"]
    assert all(r["help"]["text"] for r in rules)  # GitHub requires help on every rule
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {(r["ruleId"], r["level"], "suppressions" in r) for r in run["results"]}
    assert levels == {("QA-001", "error", False), ("QA-002", "error", False),
                      ("PERF-001", "warning", False), ("ART-001", "warning", True),
                      ("GATE-SIGNOFF-000", "warning", False)}
    qa1 = next(r for r in run["results"] if r["ruleId"] == "QA-001")
    where = qa1["locations"][0]
    assert where["physicalLocation"]["artifactLocation"]["uri"] == "bundle/eval.json"
    assert where["physicalLocation"]["region"] == {"startLine": 3}
    assert where["logicalLocations"] == [{"fullyQualifiedName": "$.metrics.auc",
                                          "kind": "member"}]
    assert qa1["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 15}


def test_an_error_is_an_unsuccessful_invocation(sarif_files: dict[str, Path]) -> None:
    run = json.loads(sarif_files["error"].read_text("utf-8"))["runs"][0]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 2
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"
    assert run["results"] == []


def library_report(root: Path) -> Any:
    """A report whose finding comes from the built-in library (gate-library/...)."""
    from gate.decision import CheckReport, Decision, Finding, RuleResult

    f = Finding(id="GATE-LIN-004", kind="failure", message="test set is also a training set",
                rule="gate.lineage.deny_leakage", title="Train/test leakage",
                file="gate-library/lineage.rego", line=103, severity="critical")
    rule = RuleResult("GATE-LIN-004", f.rule, "failure", f.title, f.file, f.line, (f,))
    return CheckReport(model={"name": "m", "version": "1"}, decision=Decision.of([f]),
                       rules=[rule], manifest="gate.yaml", root=str(root))


@pytest.mark.slow  # runs the SARIF multitool
def test_library_policies_are_not_repository_files(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.reports.sarif import render_sarif

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bundle").mkdir()
    doc = render_sarif(library_report(tmp_path / "bundle"), {})
    result = doc["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "bundle/gate.yaml", "uriBaseId": "%SRCROOT%"}
    assert result["relatedLocations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "lineage.rego", "uriBaseId": "GATE_LIBRARY"},
        "region": {"startLine": 103}}
    if MULTITOOL is not None:
        path = tmp_path / "library.sarif"
        path.write_text(json.dumps(doc))
        allowed = set() if information_uri() else {"SARIF2005"}
        assert [r["ruleId"] for r in validate(path, tmp_path) if r["ruleId"] not in allowed] == []
