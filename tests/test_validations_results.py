"""Result mapping (pure): input.validations entries, findings, and plain JSON values."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from gate.decision import Decision
from gate.validations.results import ExpectationOutcome, findings_for, plain, validation_entry
from gate.validations.suite import parse_suite

SUITE = parse_suite({"name": "s", "expectations": [
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 8}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "roc_auc",
                                                              "min_value": 0.9},
     "meta": {"remediation": "retrain on the slices named"}, "description": "AUC >= 0.9"},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "latency_ms",
                                                            "max_value": 20},
     "severity": "warning", "notes": ["budget is 20 ms"]},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "slice", "regex": "^r"},
     "severity": "info"},
]}, "suites/s.json", "eval-slices")
E = SUITE.expectations


def outcomes(*pairs: tuple[bool, dict[str, object]]) -> dict[str, ExpectationOutcome]:
    return {e.key: ExpectationOutcome(ok, res) for e, (ok, res) in zip(E, pairs, strict=True)}


FAILED = outcomes(
    (True, {"observed_value": np.int64(8)}),
    (False, {"element_count": 8, "unexpected_count": np.int64(2),
             "unexpected_percent": np.float64(25.0), "missing_count": 0,
             "partial_unexpected_list": [np.float64(0.889), np.float64(0.874)],
             "unexpected_index_column_names": ["slice"],
             "partial_unexpected_index_list": [{"roc_auc": 0.889, "slice": "region=us"},
                                               {"roc_auc": 0.874, "slice": "region=apac"}]}),
    (False, {"observed_value": np.float64(23.25)}),
    (False, {"element_count": 8, "unexpected_count": 1, "unexpected_percent": 12.5,
             "partial_unexpected_list": ["EU"]}),
)


def test_entry_follows_the_suite_order_and_counts() -> None:
    entry = validation_entry("eval-slices", SUITE, "reports/slices.csv", FAILED)
    assert entry["name"] == "eval-slices" and entry["suite"] == "suites/s.json"
    assert entry["data"] == "reports/slices.csv" and entry["success"] is False
    assert entry["statistics"] == {"evaluated": 4, "successful": 1, "unsuccessful": 3}
    assert [r["expectation"] for r in entry["results"]] == [e.type for e in E]
    first, second, third, _ = entry["results"]
    assert first == {"expectation": "expect_table_row_count_to_be_between", "column": None,
                     "kwargs": {"min_value": 8}, "severity": "critical", "success": True,
                     "observed_value": 8,
                     "unexpected_count": None, "unexpected_percent": None}
    assert second["column"] == "roc_auc" and second["unexpected_count"] == 2
    assert type(second["unexpected_count"]) is int and second["unexpected_percent"] == 25.0
    assert third["observed_value"] == 23.25 and type(third["observed_value"]) is float
    json.dumps(entry, allow_nan=False)  # plain JSON, no numpy


def test_one_finding_per_failed_expectation_with_gx_severity() -> None:
    findings = findings_for("eval-slices", SUITE, "reports/slices.csv", FAILED)
    assert [f.id for f in findings] == [
        "gx.eval-slices.expect_column_values_to_be_between.roc_auc",
        "gx.eval-slices.expect_column_mean_to_be_between.latency_ms",
        "gx.eval-slices.expect_column_values_to_match_regex.slice",
    ]
    critical, warning, info = findings
    assert (critical.kind, critical.severity, critical.effect) == ("failure", "critical", "fail")
    assert (warning.kind, warning.effect) == ("warning", "warn")
    assert (info.kind, info.severity, info.enforcement, info.effect) == (
        "warning", "info", "advisory", "warn")
    assert critical.rule == "gx.eval-slices.expect_column_values_to_be_between"
    assert critical.file == "suites/s.json" and critical.line is None
    assert Decision.of(findings).exit_code == 1
    assert Decision.of([warning, info]).exit_code == 0


def test_a_finding_says_what_failed_where_and_what_to_do() -> None:
    critical, warning, info = findings_for("eval-slices", SUITE, "reports/slices.csv", FAILED)
    assert critical.message == (
        "eval-slices: expect_column_values_to_be_between (column 'roc_auc') failed: "
        "2 of 8 values (25%) unexpected: slice='region=us', roc_auc=0.889; "
        "slice='region=apac', roc_auc=0.874; expected min_value=0.9")
    assert critical.title == "AUC >= 0.9"
    assert critical.remediation == "retrain on the slices named"
    assert critical.details["unexpected_count"] == 2
    assert critical.details["observed_value"] is None
    assert critical.details["kwargs"] == {"column": "roc_auc", "min_value": 0.9}
    assert critical.details["partial_unexpected_list"] == [0.889, 0.874]
    assert warning.message == ("eval-slices: expect_column_mean_to_be_between (column "
                               "'latency_ms') failed: observed 23.25; expected max_value=20")
    assert warning.description == "budget is 20 ms"
    assert "reports/slices.csv" in warning.remediation and "suites/s.json" in warning.remediation
    assert info.message.endswith("1 of 8 values (12.5%) unexpected, e.g. 'EU'; expected regex='^r'")
    json.dumps([f.to_json() for f in (critical, warning, info)], allow_nan=False)


def test_a_passing_validation_has_no_findings() -> None:
    passed = {e.key: ExpectationOutcome(True, {"observed_value": 1.0}) for e in E}
    assert findings_for("v", SUITE, "d", passed) == []
    assert validation_entry("v", SUITE, "d", passed)["success"] is True


@pytest.mark.parametrize(("value", "expected"), [
    (np.float64("nan"), None),
    (float("inf"), None),
    (np.int64(7), 7),
    (np.bool_(True), True),
    (np.array([1.5, np.nan]), [1.5, None]),
    (pd.NA, None),
    (pd.NaT, None),
    (pd.Timestamp("2024-05-01T12:00:00"), "2024-05-01T12:00:00"),
    (datetime(2024, 5, 1), "2024-05-01T00:00:00"),
    (date(2024, 5, 1), "2024-05-01"),
    (Decimal("0.25"), 0.25),
    ({"a": (1, {2})}, {"a": [1, [2]]}),
    ({1: b"x"}, {"1": "x"}),
])
def test_plain_turns_library_values_into_json(value: object, expected: object) -> None:
    out = plain(value)
    assert out == expected
    json.dumps(out, allow_nan=False)
    if isinstance(expected, float):
        assert not math.isnan(out)
