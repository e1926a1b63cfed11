"""JUnit XML, read back with junitparser (the parser CI test-report tools are built like).

One test case per evaluated rule, named by its finding id (distinct); failed
rules fail with every message, waived ones are skipped with the waiver's
reason, warnings pass (or fail under --fail-on-warn), and the counts add up.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from report_cases import emit

from gate.reports.junit import render_junit


def parse(path: Path) -> JUnitXml:
    xml = JUnitXml.fromfile(str(path))
    assert isinstance(xml, JUnitXml)
    return xml


@pytest.fixture
def failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JUnitXml:
    return parse(emit("fail", ["junit"], tmp_path, monkeypatch)["junit.xml"])


def test_one_case_per_rule_named_by_finding_id(failing: JUnitXml) -> None:
    suites = list(failing)
    # Findings of gate's own checks (here: the waiver's approval is not verified) go in
    # a suite of their own.
    assert [s.name for s in suites] == ["policies", "gate"]
    assert [c.name for c in suites[1]] == ["GATE-SIGNOFF-000"]
    cases = list(suites[0])
    names = [c.name for c in cases]
    assert names == ["CARD-001", "QA-001", "QA-002", "PERF-001", "ART-001",
                     "release.deny_version"]
    assert len(set(names)) == len(names)
    assert cases[1].classname == "release.deny_auc"


def test_statuses_messages_and_counts(failing: JUnitXml) -> None:
    cases = {c.name: c for c in next(iter(failing))}
    status = {name: [type(r).__name__ for r in c.result] for name, c in cases.items()}
    assert status == {"CARD-001": [], "QA-001": ["Failure"], "QA-002": ["Failure"],
                      "PERF-001": [], "ART-001": ["Skipped"], "release.deny_version": []}
    qa2 = cases["QA-002"].result[0]
    assert isinstance(qa2, Failure)
    assert qa2.message.startswith("2 findings: slice <mobile>: recall 0.58 < 0.7")
    assert qa2.type == "high"
    assert "slice us|ca: recall 0.61" in (qa2.text or "")
    waived = cases["ART-001"].result[0]
    assert isinstance(waived, Skipped)
    assert waived.message.startswith("waived: pickle accepted for the offline batch scorer")
    assert "WARN [medium] p95 latency is 48.5 ms" in (cases["PERF-001"].system_out or "")
    assert cases["QA-001"].is_passed is False and cases["CARD-001"].is_passed is True
    suite = next(iter(failing))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 2, 0, 1)
    assert (failing.tests, failing.failures, failing.errors, failing.skipped) == (7, 2, 0, 1)
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["decision"] == "fail" and props["model.name"] == "churn-model"


def test_warnings_fail_under_fail_on_warn(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from report_cases import check

    from gate.decision import Decision

    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    report = check("fail", repo, {})
    assert report.decision is not None
    strict = replace(report, decision=Decision(report.decision.findings, fail_on_warn=True))
    path = tmp_path / "strict.xml"
    path.write_text(render_junit(strict, {}))
    cases = {c.name: c for c in next(iter(parse(path)))}
    assert isinstance(cases["PERF-001"].result[0], Failure)


def test_passing_and_error_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passing = parse(emit("pass", ["junit"], tmp_path / "p", monkeypatch)["junit.xml"])
    assert (passing.tests, passing.failures, passing.errors) == (1, 0, 0)
    error = parse(emit("error", ["junit"], tmp_path / "e", monkeypatch)["junit.xml"])
    case = next(iter(next(iter(error))))
    assert case.name == "gate check"
    assert isinstance(case.result[0], Error)
    assert "not valid JSON" in case.result[0].message
