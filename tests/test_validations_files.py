"""Suites over data files (csv, parquet, jsonl, json) through the whole adapter, with real GX."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from gx_support import bundle, example, exp, snapshot, suite, write
from jsonschema import Draft202012Validator

from gate.decision import Decision
from gate.errors import ValidationError
from gate.manifest import load_manifest
from gate.schemas import load_schema
from gate.validations import run_validations

pytestmark = pytest.mark.slow  # real GX runs; GX's first use alone takes about 2 s

ROWS = [{"slice": "region=eu", "roc_auc": 0.95, "n": 1200},
        {"slice": "region=uk", "roc_auc": 0.93, "n": 900},
        {"slice": "region=us", "roc_auc": 0.87, "n": 40}]
CSV = "slice,roc_auc,n\n" + "".join(f"{r['slice']},{r['roc_auc']},{r['n']}\n" for r in ROWS)
SUITE = suite(
    exp("expect_column_values_to_be_between", column="roc_auc", min_value=0.9),
    exp("expect_column_values_to_be_between", "warning", column="n", min_value=100),
    exp("expect_table_row_count_to_be_between", min_value=3),
    exp("expect_column_values_to_not_be_null", column="slice"),
    meta={"gate": {"id_columns": ["slice"]}},
)


def test_the_passing_example_passes(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = example(tmp_path)
    before = snapshot(root)
    m = load_manifest(root / "gate.yaml")
    entries, findings = run_validations(m)
    assert findings == []
    assert [(e["name"], e["success"]) for e in entries] == [("eval-slices", True),
                                                            ("predictions", True)]
    assert entries[0]["statistics"] == {"evaluated": 10, "successful": 10, "unsuccessful": 0}
    validate_input(entries)
    assert snapshot(root) == before  # no gx/ folder, no data docs, nothing written
    err = capfd.readouterr().err
    assert "Calculating Metrics" not in err and "it/s" not in err  # no progress bars


def test_the_failing_example_fails_with_actionable_findings(tmp_path: Path) -> None:
    m = load_manifest(example(tmp_path) / "gate-failing.yaml")
    entries, findings = run_validations(m)
    (entry,) = entries
    assert entry["success"] is False and entry["data"] == "reports/slices_regressed.csv"
    assert entry["statistics"] == {"evaluated": 10, "successful": 5, "unsuccessful": 5}
    by_id = {f.id: f for f in findings}
    auc = by_id["gx.eval-slices.expect_column_values_to_be_between.roc_auc"]
    assert auc.effect == "fail" and auc.severity == "critical"
    assert "slice='region=us/segment=retail', roc_auc=0.889" in auc.message
    assert "slice='region=us/segment=business', roc_auc=0.874" in auc.message
    assert auc.details["unexpected_count"] == 2 and auc.details["unexpected_percent"] == 25.0
    assert by_id["gx.eval-slices.expect_column_max_to_be_between.latency_p95_ms"].effect == "warn"
    assert by_id["gx.eval-slices.expect_column_max_to_be_between.latency_p95_ms"].details[
        "observed_value"] == 23.0
    assert Decision.of(findings).outcome == "fail"
    validate_input(entries)


def validate_input(entries: list[dict[str, object]]) -> None:
    """The entries fit input.validations and are plain JSON."""
    json.dumps(entries, allow_nan=False)
    schema = load_schema("input")
    Draft202012Validator({**schema["properties"]["validations"],
                          "$defs": schema.get("$defs", {})}).validate(entries)


def test_results_come_back_in_suite_order(tmp_path: Path) -> None:
    """GX evaluates table-level expectations apart; entries still follow the suite."""
    doc = suite(
        exp("expect_column_values_to_not_be_null", column="slice"),
        exp("expect_table_row_count_to_be_between", min_value=1),
        exp("expect_column_max_to_be_between", column="n", max_value=10_000),
        exp("expect_table_columns_to_match_set", column_set=["slice", "roc_auc", "n"]),
        exp("expect_column_values_to_not_be_null", column="slice"),  # a duplicate is kept
    )
    m = bundle(tmp_path, [{"name": "v", "suite": "s.json", "data": "d.csv"}],
               {"d.csv": CSV, "s.json": doc})
    (entry,), findings = run_validations(m)
    assert [r["expectation"] for r in entry["results"]] == [e["type"] for e in doc["expectations"]]
    assert findings == [] and entry["statistics"]["evaluated"] == 5


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "jsonl", "json", "explicit"])
def test_every_file_format_gives_the_same_verdict(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(ROWS)
    files: dict[str, object] = {"s.json": SUITE}
    spec: dict[str, object] = {"name": "slices", "suite": "s.json"}
    if fmt == "csv":
        files["d.csv"] = CSV
    elif fmt == "csv.gz":
        files["d.csv.gz"] = gzip.compress(CSV.encode())
    elif fmt == "parquet":
        files["d.parquet"] = frame.to_parquet(index=False)
    elif fmt == "jsonl":
        files["d.jsonl"] = "".join(json.dumps(r) + "\n" for r in ROWS)
    elif fmt == "json":
        files["d.json"] = ROWS
    else:
        files["d.txt"] = CSV
        spec["format"] = "csv"
    name = next(k for k in files if k.startswith("d."))
    spec["data"] = name
    m = bundle(tmp_path, [spec], files)
    (entry,), findings = run_validations(m)
    assert entry["data"] == name
    assert [f.id for f in findings] == ["gx.slices.expect_column_values_to_be_between.roc_auc",
                                        "gx.slices.expect_column_values_to_be_between.n"]
    assert "slice='region=us', roc_auc=0.87" in findings[0].message
    data = (tmp_path / name).read_bytes()
    record = m.files.records[name]
    assert (record.role, record.sha256, record.size_bytes) == (
        "validation data", hashlib.sha256(data).hexdigest(), len(data))


def test_nan_observed_values_become_null(tmp_path: Path) -> None:
    m = bundle(tmp_path, [{"name": "v", "suite": "s.json", "data": "d.csv"}], {
        "d.csv": "slice,score\na,\nb,\n",
        "s.json": suite(exp("expect_column_mean_to_be_between", column="score", min_value=0.5)),
    })
    (entry,), findings = run_validations(m)
    assert entry["results"][0]["observed_value"] is None
    assert json.dumps(entry, allow_nan=False)
    assert all(f.details["observed_value"] is None for f in findings)


def test_a_missing_column_is_an_error_naming_the_validation(tmp_path: Path) -> None:
    m = bundle(tmp_path, [{"name": "slices", "suite": "s.json", "data": "d.csv"}], {
        "d.csv": CSV,
        "s.json": suite(exp("expect_column_values_to_not_be_null", column="slice"),
                        exp("expect_column_values_to_be_between", column="auc", min_value=0.9)),
    })
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    err = info.value
    assert "validation 'slices'" in err.message and "column 'auc'" in err.message
    assert 'The column "auc" in BatchData does not exist' in err.message
    assert err.path == "s.json" and err.pointer == "$.expectations[1]"


def test_expect_column_to_exist_fails_rather_than_errors(tmp_path: Path) -> None:
    m = bundle(tmp_path, [{"name": "v", "suite": "s.json", "data": "d.csv"}], {
        "d.csv": CSV, "s.json": suite(exp("expect_column_to_exist", column="recall"))})
    _, (finding,) = run_validations(m)
    assert finding.id == "gx.v.expect_column_to_exist.recall" and finding.effect == "fail"


@pytest.mark.parametrize(("name", "content", "words"), [
    ("d.json", '{"slice": ', "cannot read the data as json"),
    ("d.jsonl", '{"slice": "a"}\nnot json\n', "cannot read the data as jsonl"),
    ("d.parquet", b"PAR1 but not really", "cannot read the data as parquet"),
    ("d.csv", b"", "cannot read the data as csv"),
    ("d.csv.gz", b"not gzip", "cannot read the data as csv"),
    ("d.xlsx", "x", "cannot tell the format"),
])
def test_unreadable_data_is_an_error_naming_the_file(tmp_path: Path, name: str,
                                                     content: str | bytes, words: str) -> None:
    m = bundle(tmp_path, [{"name": "slices", "suite": "s.json", "data": name}],
               {name: content, "s.json": SUITE})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    assert words in info.value.message and "validation 'slices'" in info.value.message
    assert info.value.path == name and info.value.exit_code == 2


@pytest.mark.parametrize(("data", "words"), [("missing.csv", "file not found"),
                                             ("../d.csv", "leaves the bundle")])
def test_data_must_exist_inside_the_bundle(tmp_path: Path, data: str, words: str) -> None:
    write(tmp_path, "d.csv", CSV)
    m = bundle(tmp_path / "b", [{"name": "slices", "suite": "s.json", "data": data}],
               {"s.json": SUITE})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    assert words in info.value.message and "validation 'slices'" in info.value.message


def test_suites_are_checked_before_any_data_is_read(tmp_path: Path) -> None:
    m = bundle(tmp_path, [
        {"name": "first", "suite": "good.json", "data": "missing.csv"},
        {"name": "second", "suite": "bad.json", "data": "missing.csv"},
    ], {"good.json": SUITE, "bad.json": suite(exp("expect_the_unexpected"))})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    assert "expect_the_unexpected" in info.value.message and "second" in info.value.message


def test_two_validations_may_not_share_a_name(tmp_path: Path) -> None:
    spec = {"name": "slices", "suite": "s.json", "data": "d.csv"}
    m = bundle(tmp_path, [spec, spec], {"d.csv": CSV, "s.json": SUITE})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    assert info.value.pointer == "$.validations[1].name"


def test_nothing_is_written_to_the_working_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    m = bundle(tmp_path / "b", [{"name": "v", "suite": "s.json", "data": "d.csv"}],
               {"d.csv": CSV, "s.json": SUITE})
    before = snapshot(cwd, tmp_path / "b")
    run_validations(m)
    assert snapshot(cwd, tmp_path / "b") == before
