"""``--format gitlab``: the code-quality report and the dotenv file.

The code-quality report is checked against the fields GitLab documents as
required (a JSON Schema written from that page: description, check_name,
fingerprint, severity in info|minor|major|critical|blocker, location.path and
location.lines.begin), and its fingerprints must be unique in a report and
the same in the next pipeline. The dotenv file follows GitLab's dotenv rules
(one KEY=value per line, no blank lines, comments or quotes, under 5 KB);
gitlab-ci-local reads it for real in test_gitlab_ci.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_cases import emit

CODE_QUALITY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1, "pattern": "^[^/]"},
                    "lines": {"type": "object", "required": ["begin"],
                              "properties": {"begin": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    },
}
DOTENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=([^\n'\"]*)$")


def code_quality(variant: str, tmp: Path, mp: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    files = emit(variant, ["gitlab"], tmp, mp)
    doc: list[dict[str, Any]] = json.loads(files["gl-code-quality-report.json"].read_text())
    return doc


@pytest.mark.parametrize("variant", ["fail", "fail-gitlab", "pass", "error"])
def test_code_quality_has_what_gitlab_requires(variant: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    issues = code_quality(variant, tmp_path, monkeypatch)
    jsonschema.validate(issues, CODE_QUALITY_SCHEMA)
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(fingerprints) == len(set(fingerprints))


def test_issues_severities_and_locations(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    issues = code_quality("fail-gitlab", tmp_path, monkeypatch)
    assert [(i["check_name"], i["severity"], i["location"]["path"],
             i["location"]["lines"]["begin"]) for i in issues] == [
        ("QA-001", "blocker", "bundle/eval.json", 3),
        ("QA-002", "critical", "bundle/policies/release.rego", 32),
        ("QA-002", "critical", "bundle/policies/release.rego", 32),
        ("GATE-SIGNOFF-000", "major", "bundle/exceptions.yaml", 1),
        ("PERF-001", "major", "bundle/eval.json", 4),
        ("ART-001", "info", "bundle/model.bin", 1),
    ]
    assert code_quality("pass", tmp_path / "again", monkeypatch) == []


def test_fingerprints_are_stable_across_pipelines(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = code_quality("fail-gitlab", tmp_path / "one", monkeypatch)
    second = code_quality("fail-gitlab", tmp_path / "two", monkeypatch)
    assert [i["fingerprint"] for i in first] == [i["fingerprint"] for i in second]


@pytest.mark.parametrize("variant", ["fail-gitlab", "pass", "error"])
def test_dotenv_follows_gitlabs_rules(variant: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = emit(variant, ["gitlab"], tmp_path, monkeypatch)
    raw = files["gate.env"].read_bytes()
    assert len(raw) < 5 * 1024
    lines = raw.decode("utf-8").split("\n")
    assert lines[-1] == ""
    values = {}
    for line in lines[:-1]:
        m = DOTENV_LINE.match(line)
        assert m, f"not a GitLab dotenv line: {line!r}"
        values[m.group(1)] = m.group(2)
    assert list(values) == ["GATE_DECISION", "GATE_EXIT_CODE", "GATE_REPORT_DIR",
                            "GATE_ROLLBACK_PLAN", "GATE_ROLLBACK_PLAN_SHA256"]
    expected = {"fail-gitlab": ("fail", "1"), "pass": ("pass", "0"), "error": ("error", "2")}
    assert (values["GATE_DECISION"], values["GATE_EXIT_CODE"]) == expected[variant]
    if variant == "pass":
        assert values["GATE_ROLLBACK_PLAN"] == ""
    else:
        assert values["GATE_ROLLBACK_PLAN"] == "gate-report/rollback-plan.json"
        assert (tmp_path / "repo" / values["GATE_ROLLBACK_PLAN"]).is_file()
