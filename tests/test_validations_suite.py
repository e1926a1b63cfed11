"""Suite files: GX's own format is read as is, and anything GX would drop is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gx_support import EXAMPLES, bundle, exp, suite, write

from gate.documents import InputFiles
from gate.errors import ValidationError
from gate.validations import run_validations
from gate.validations.suite import build_gx_suite, load_suite, parse_suite

CSV = "slice,roc_auc\nregion=eu,0.95\nregion=us,0.88\n"


@pytest.mark.slow  # builds GX suites; GX's first use takes about 2 s
def test_the_example_suite_is_read_with_every_expectation() -> None:
    doc = json.loads((EXAMPLES / "suites" / "eval_slices.json").read_text())
    s = parse_suite(doc, "suites/eval_slices.json", "eval-slices")
    assert [e.type for e in s.expectations] == [e["type"] for e in doc["expectations"]]
    assert s.id_columns == ("slice",)
    assert {e.severity for e in s.expectations} == {"critical", "warning", "info"}
    assert len({e.key for e in s.expectations}) == len(s.expectations)  # one match key each
    gx_suite = build_gx_suite(s, "eval-slices")
    assert len(gx_suite.expectations) == len(doc["expectations"])


@pytest.mark.slow  # builds GX suites; GX's first use takes about 2 s
def test_gx_itself_drops_unknown_expectation_types() -> None:
    """Why gate checks the registry: GX builds the suite without the unknown one."""
    from great_expectations.core import ExpectationSuite

    gx_suite = ExpectationSuite(name="s", expectations=[
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
        {"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "a", "min_value": 0}},
    ])
    assert len(gx_suite.expectations) == 1


@pytest.mark.slow  # builds GX suites; GX's first use takes about 2 s
def test_an_unknown_expectation_type_is_refused_naming_it_and_the_suite(tmp_path: Path) -> None:
    m = bundle(tmp_path, [{"name": "slices", "suite": "suites/s.json", "data": "slices.csv"}], {
        "slices.csv": CSV,
        "suites/s.json": suite(
            exp("expect_column_values_to_not_be_null", column="roc_auc"),
            exp("expect_column_values_to_be_betwen", column="roc_auc", min_value=0.9),
            exp("expect_column_mean_to_be_between", column="roc_auc", min_value=0.9),
        ),
    })
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    err = info.value
    assert err.exit_code == 2
    assert "expect_column_values_to_be_betwen" in err.message
    assert "slices" in err.message and "silently drop" in err.message
    assert err.path == "suites/s.json" and err.pointer == "$.expectations[1].type"
    assert "expect_column_values_to_be_between" in err.hint  # did you mean


@pytest.mark.slow  # builds GX suites; GX's first use takes about 2 s
def test_every_unknown_type_is_named() -> None:
    doc = suite(exp("expect_nothing"), exp("expect_column_values_to_not_be_null", column="a"),
                exp("expect_magic"))
    s = parse_suite(doc, "s.json", "v")
    with pytest.raises(ValidationError) as info:
        build_gx_suite(s, "v")
    assert "'expect_nothing' (#1)" in info.value.message
    assert "'expect_magic' (#3)" in info.value.message


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"column": "roc_auc", "min_valu": 0.9}, ["min_valu", "extra fields not permitted"]),
    ({"column": "roc_auc", "min_value": "high"}, ["min_value"]),
    ({"min_value": 0.9}, ["column", "field required"]),
    ({"column": "roc_auc"}, ["min_value and max_value cannot both be None"]),
])
@pytest.mark.slow  # builds GX suites; GX's first use takes about 2 s
def test_bad_kwargs_are_refused_with_gx_reason(kwargs: dict[str, object], words: list[str]) -> None:
    s = parse_suite(suite(exp("expect_column_values_to_not_be_null", column="roc_auc"),
                          {"type": "expect_column_values_to_be_between", "kwargs": kwargs}),
                    "suites/s.json", "slices")
    with pytest.raises(ValidationError) as info:
        build_gx_suite(s, "slices")
    err = info.value
    assert "validation 'slices'" in err.message and "#2" in err.message
    assert err.path == "suites/s.json" and err.pointer == "$.expectations[1].kwargs"
    for word in words:
        assert word in err.message


@pytest.mark.parametrize(("doc", "words", "pointer"), [
    ([], "not a mapping", None),
    ({"name": "s"}, "no 'expectations' list", "$.expectations"),
    ({"name": "s", "expectations": []}, "no expectations", "$.expectations"),
    ({"expectations": ["expect_x"]}, "#1 is not a mapping", "$.expectations[0]"),
    ({"expectations": [{"kwargs": {}}]}, "#1 has no 'type'", "$.expectations[0]"),
    ({"expectations": [{"type": "expect_x", "kwargs": [1]}]}, "'kwargs' must be a mapping",
     "$.expectations[0].kwargs"),
    ({"expectations": [{"type": "expect_x", "kwargs": {}, "column": "a"}]}, "unknown keys: column",
     "$.expectations[0]"),
    ({"expectations": [{"type": "expect_x", "kwargs": {}, "severity": "high"}]},
     "severity 'high' is not one of critical, warning, info", "$.expectations[0].severity"),
    ({"expectation_suite_name": "s", "expectations": [{"expectation_type": "expect_x",
                                                       "kwargs": {}}]},
     "GX 0.x suite", None),
    ({"meta": {"gate": {"id_columns": "slice"}}, "expectations": [{"type": "e", "kwargs": {}}]},
     "id_columns must be a list", "$.meta.gate.id_columns"),
])
def test_malformed_suites_are_refused_at_the_place(doc: object, words: str,
                                                   pointer: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        parse_suite(doc, "suites/s.json", "slices")
    assert words in info.value.message
    assert info.value.path == "suites/s.json"
    assert info.value.pointer == pointer


def test_a_suite_in_yaml_is_read_and_its_digest_recorded(tmp_path: Path) -> None:
    write(tmp_path, "suites/s.yaml", "name: s\nexpectations:\n  - type: expect_column_to_exist\n"
                                     "    kwargs: {column: a}\n    severity: warning\n")
    files = InputFiles(tmp_path)
    s = load_suite(files, "suites/s.yaml", "v")
    assert s.expectations[0].severity == "warning" and s.expectations[0].column == "a"
    assert files.records["suites/s.yaml"].role == "validation suite"


def test_a_missing_or_escaping_suite_names_the_validation(tmp_path: Path) -> None:
    files = InputFiles(tmp_path)
    with pytest.raises(ValidationError) as info:
        load_suite(files, "suites/none.json", "slices")
    assert "validation 'slices'" in info.value.message and "not found" in info.value.message
    with pytest.raises(ValidationError) as info:
        load_suite(files, "../outside.json", "slices")
    assert "leaves the bundle" in info.value.message


def test_a_suite_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "s.json", '{"expectations": [\n  {"type": }\n]}')
    with pytest.raises(ValidationError) as info:
        load_suite(InputFiles(tmp_path), "s.json", "slices")
    assert info.value.path == "s.json" and info.value.line == 2
