"""``--format github``: workflow commands, the job summary and the step outputs.

Annotations are read back with the runner's own rules (actions/runner
ActionCommand: ``::name key=value,...::message``, properties split on ',' and
'=' then unescaped %0D %0A %3A %2C %25; the message unescaped %0D %0A %25), so
any text survives; $GITHUB_OUTPUT is read with the runner's file-command rules
(tests/ci_support.py). The composite action itself is run in test_github_action.py.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from ci_support import parse_output_file
from hypothesis import given, settings
from hypothesis import strategies as st
from report_cases import emit

from gate.decision import CheckReport, Decision, Finding
from gate.reports import EmitContext
from gate.reports.github import (
    MAX_PER_TYPE,
    SUMMARY_LIMIT,
    GithubReporter,
    command,
    escape_data,
    escape_property,
)


def unescape_property(value: str) -> str:
    return (value.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":")
            .replace("%2C", ",").replace("%25", "%"))


def unescape_data(value: str) -> str:
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner parses it."""
    assert line.startswith("::")
    head, sep, message = line[2:].partition("::")
    assert sep, line
    name, _, props = head.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, eq, value = pair.partition("=")
        assert eq, pair
        properties[key] = unescape_property(value)
    return name, properties, unescape_data(message)


def test_escapes_follow_githubs_rules() -> None:
    assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert command("error", {"file": "a,b.json", "line": 3, "col": None, "title": "X: y"},
                   "m") == "::error file=a%2Cb.json,line=3,title=X%3A y::m"


@settings(max_examples=300, deadline=None)
@given(title=st.text(min_size=1), file=st.text(min_size=1), message=st.text())
def test_any_text_survives_the_runners_parser(title: str, file: str, message: str) -> None:
    line = command("warning", {"file": file, "title": title}, message)
    assert "\n" not in line and "\r" not in line
    assert parse_command(line) == ("warning", {"file": file, "title": title}, message)


def test_annotations_of_the_failing_bundle(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    files = emit("fail-github", ["github"], tmp_path, monkeypatch)
    lines = files["stdout.txt"].read_text("utf-8").splitlines()
    parsed = [parse_command(line) for line in lines]
    assert [(n, p.get("file"), p.get("line")) for n, p, _ in parsed] == [
        ("error", "bundle/eval.json", "3"),
        ("error", "bundle/policies/release.rego", "32"),
        ("error", "bundle/policies/release.rego", "32"),
        ("warning", "bundle/exceptions.yaml", None),  # the waiver's approval is not verified
        ("warning", "bundle/eval.json", "4"),
    ]
    _, props, message = parsed[1]
    assert props["title"] == "QA-002: Slice recall, per segment"
    assert message == ("slice <mobile>: recall 0.58 < 0.7, 100% of rows checked\n"
                       "see the slice report\nFix: Collect more data for weak slices, "
                       "then re-evaluate.")


def test_outputs_are_read_by_the_runner_and_point_into_the_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = emit("fail-github", ["github"], tmp_path, monkeypatch)
    outputs = parse_output_file(files["github-output.txt"].read_text("utf-8"))
    plan = tmp_path / "repo" / outputs["rollback-plan"]
    assert outputs["decision"] == "fail" and outputs["exit-code"] == "1"
    assert outputs["report-dir"] == "gate-report"
    assert outputs["rollback-plan"] == "gate-report/rollback-plan.json" and plan.is_file()
    assert len(outputs["rollback-plan-sha256"]) == 64
    summary = files["step-summary.md"].read_text("utf-8")
    assert summary.startswith("## ❌ gate: FAIL · churn-model 3.1.0")


def many(n_fail: int, n_warn: int, message: str = "m") -> CheckReport:
    findings = [Finding(id=f"F-{i:03d}", kind="failure", message=f"{message} {i}", rule="p.deny")
                for i in range(n_fail)]
    findings += [Finding(id=f"W-{i:03d}", kind="warning", message=f"{message} {i}",
                         rule="p.warn") for i in range(n_warn)]
    return CheckReport(model={"name": "m", "version": "1"}, decision=Decision.of(findings))


def emit_github(report: CheckReport, tmp_path: Path) -> tuple[list[str], str, dict[str, str]]:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    summary.write_text("previous step's summary\n")
    output.write_text("")
    stdout = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    GithubReporter().emit(report, None, EmitContext(tmp_path / "out", stdout, False, env))
    return (stdout.getvalue().splitlines(), summary.read_text("utf-8"),
            parse_output_file(output.read_text("utf-8")))


def test_at_most_ten_annotations_per_type_then_a_notice(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines, summary, outputs = emit_github(many(13, 12), tmp_path)
    kinds = [parse_command(line)[0] for line in lines]
    assert kinds.count("error") == MAX_PER_TYPE and kinds.count("warning") == MAX_PER_TYPE
    assert kinds[-1] == "notice"
    assert parse_command(lines[-1])[2] == (
        "3 more blocking findings and 2 more warnings than GitHub shows as annotations: "
        "see the job summary for every finding.")
    assert summary.startswith("previous step's summary\n## ❌ gate: FAIL")  # appended
    assert summary.count("| ❌ fail |") == 13 and summary.count("| ⚠️ warn |") == 12
    assert outputs["decision"] == "fail" and outputs["rollback-plan"] == ""


def test_the_summary_stays_under_githubs_limit(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _, summary, _ = emit_github(many(1500, 0, "x" * 1000), tmp_path)
    assert len(summary.encode("utf-8")) < SUMMARY_LIMIT
    assert "more findings: see decision.json" in summary


def test_outside_github_only_annotations(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stdout = io.StringIO()
    GithubReporter().emit(many(1, 0), None, EmitContext(tmp_path / "out", stdout, False, {}))
    assert stdout.getvalue() == "::error title=F-000::m 0\n"
    assert not (tmp_path / "out").exists()


def test_fail_on_warn_makes_warnings_errors(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = many(0, 2)
    assert report.decision is not None
    strict = replace(report, decision=Decision(report.decision.findings, fail_on_warn=True))
    lines, _, outputs = emit_github(strict, tmp_path)
    assert [parse_command(line)[0] for line in lines] == ["error", "error"]
    assert (outputs["decision"], outputs["exit-code"]) == ("warn", "1")
