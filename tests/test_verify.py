"""`gate verify`: policy unit tests with OPA semantics, coverage, JUnit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from junitparser import Error, Failure, JUnitXml, Skipped

from gate.cli import cli
from gate.engines import choose_engine
from gate.errors import PolicyError, UsageError
from gate.policy.source import parse_module
from gate.reports.verify import render_text
from gate.verify import (
    FileCoverage,
    VerifyReport,
    discover_tests,
    load_sources,
    run_tests,
)

POLICY = """package demo

import rego.v1

deny contains msg if {
	input.x > data.limit
	msg := sprintf("x is %v", [input.x])
}

warn contains "never" if {
	input.never
	input.never_either
}
"""

TESTS = """package demo_test

import rego.v1

import data.demo

test_denies if {
	demo.deny["x is 5"] with input as {"x": 5}
}

test_allows if {
	count(demo.deny) == 0 with input as {"x": 1}
}

test_false if {
	count(demo.deny) == 1 with input as {"x": 1}
}

test_not_true := 7

test_breaks if {
	x := 1 / 0
	x == 1
}

todo_test_later if {
	false
}

test_helper(n) := n + 1
"""


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, env={"NO_COLOR": "1"})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, {"policies/demo.rego": POLICY, "policies/demo_test.rego": TESTS,
                     "policies/data/limit.yaml": "limit: 3\n"})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_discovery_follows_opa() -> None:
    cases = discover_tests([parse_module(TESTS, "t.rego"), parse_module(TESTS, "again.rego")])
    names = [c.name for c in cases]
    assert names == ["test_denies", "test_allows", "test_false", "test_not_true",
                     "test_breaks", "todo_test_later"]  # functions are not tests; no dupes
    assert cases[0].id == "demo_test.test_denies"
    assert (cases[0].file, cases[0].line) == ("t.rego", 7)
    assert cases[-1].skipped


def test_statuses_and_messages() -> None:
    modules = [parse_module(POLICY, "p/demo.rego"), parse_module(TESTS, "p/demo_test.rego")]
    report = run_tests(modules, {"limit": 3}, engine=choose_engine("regorus"))
    status = {r.case.name: (r.status, r.message) for r in report.results}
    assert status["test_denies"] == ("pass", "")
    assert status["test_allows"] == ("pass", "")
    assert status["test_false"][0] == "fail"
    assert "undefined" in status["test_false"][1]
    assert status["test_not_true"] == ("fail", "the test evaluated to 7, not true")
    assert status["test_breaks"][0] == "error"
    assert status["test_breaks"][1].startswith("p/demo_test.rego:22:12: evaluation failed")
    assert "divide by zero" in status["test_breaks"][1]
    assert status["todo_test_later"] == ("skip", "")
    assert report.exit_code == 1
    assert report.coverage is None and report.coverage_percent is None


def test_coverage_counts_policy_files_only() -> None:
    modules = [parse_module(POLICY, "p/demo.rego"), parse_module(TESTS, "p/demo_test.rego")]
    report = run_tests(modules, {"limit": 3}, coverage=True)
    assert report.coverage is not None
    (cov,) = report.coverage
    assert cov.file == "p/demo.rego"
    assert 12 in cov.not_covered  # the warn rule no test reaches
    assert 6 in cov.covered
    assert report.coverage_percent == pytest.approx(cov.percent)
    assert 0 < cov.percent < 100


def test_coverage_minimum_decides_the_exit_code() -> None:
    ok = parse_module(POLICY, "demo.rego")
    tests = parse_module("package t\nimport rego.v1\nimport data.demo\n"
                         "test_a if { demo.deny with input as {\"x\": 9} }\n", "t_test.rego")
    assert run_tests([ok, tests], {"limit": 3}, coverage_min=10).exit_code == 0
    low = run_tests([ok, tests], {"limit": 3}, coverage_min=99.5)
    assert low.exit_code == 1 and not low.coverage_ok
    assert "is below --coverage-min 99.5%" in render_text(low)


def test_report_arithmetic() -> None:
    empty = FileCoverage("x.rego", (), ())
    assert empty.percent == 100.0
    report = VerifyReport((), (FileCoverage("a.rego", (1, 2, 3), (4,)),
                               FileCoverage("b.rego", (5,), (6, 7, 8))), 50)
    assert report.coverage_percent == 50.0 and report.coverage_ok and report.exit_code == 0


@pytest.mark.parametrize(("engine", "source"), [
    # regorus refuses a comprehension variable that shadows a rule; OPA allows it.
    ("regorus", "package b\nimport rego.v1\nk := 1\nu := {k | some k in [1]}\ntest_x if true\n"),
    # OPA refuses a declared variable that is never used; regorus allows it.
    ("opa-go", "package b\nimport rego.v1\nk := 1\nu if { every n, v in [1] { v == 1 } }\n"
     "test_x if true\n"),
])
def test_compile_error_is_a_policy_error(engine: str, source: str) -> None:
    if engine == "opa-go":
        pytest.importorskip("opa_bindings")
    broken = parse_module(source, "b.rego")
    with pytest.raises(PolicyError) as info:
        run_tests([broken], {}, engine=choose_engine(engine))
    assert info.value.path == "b.rego" and info.value.line == 4


def test_cli_lines_summary_and_exit_code(project: Path) -> None:
    result = invoke(["verify", "policies/", "--data", "policies/data"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "PASS  demo_test.test_denies (policies/demo_test.rego:7)" in lines
    assert "FAIL  demo_test.test_false (policies/demo_test.rego:15)" in lines
    assert "ERROR demo_test.test_breaks (policies/demo_test.rego:21)" in lines
    assert "SKIP  demo_test.todo_test_later (policies/demo_test.rego:26)" in lines
    assert lines[-1] == "6 tests: 2 passed, 2 failed, 1 errors, 1 skipped"


def test_cli_all_pass_exits_0(project: Path) -> None:
    write(project, {"policies/demo_test.rego": TESTS.split("test_false", maxsplit=1)[0]})
    result = invoke(["verify", "policies", "-d", "policies/data", "--coverage"])
    assert result.exit_code == 0, result.output
    assert "coverage of the policy files (test files excluded):" in result.output
    assert "policies/demo.rego" in result.output and "not covered: " in result.output


def test_cli_default_is_the_manifests_policies_and_data(project: Path) -> None:
    write(project, {"policies/demo_test.rego": TESTS.split("test_false", maxsplit=1)[0],
                    "gate.yaml": "version: 1\nmodel: {name: m, version: '1'}\n"
                                 "policies: [policies/]\ndata: [policies/data/]\n"})
    result = invoke(["verify"])
    assert result.exit_code == 0, result.output
    assert "2 tests: 2 passed" in result.output


def test_cli_default_without_manifest_is_policies_folder(project: Path) -> None:
    write(project, {"policies/demo_test.rego": TESTS.split("test_false", maxsplit=1)[0],
                    "policies/x_test.rego": "package x\nimport rego.v1\ntest_ok if true\n"})
    result = invoke(["verify"])  # with policies/data/ as data: demo's tests need `limit`
    assert result.exit_code == 0, result.output
    assert "PASS  x.test_ok (policies/x_test.rego:3)" in result.output
    assert "3 tests: 3 passed" in result.output


def test_cli_compile_error_exits_2(project: Path) -> None:
    write(project, {"policies/bad.rego": "package bad\nimport rego.v1\ndeny contains if {\n"})
    result = invoke(["verify", "policies"])
    assert result.exit_code == 2
    assert "policies/bad.rego" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_cli_no_tests_and_no_files_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"only/p.rego": POLICY})
    result = invoke(["verify", "only"])
    assert result.exit_code == 2 and "no test_* rules in only" in result.stderr
    assert invoke(["verify", "missing"]).exit_code == 2
    result = invoke(["verify"])
    assert result.exit_code == 2 and "policy folder 'policies' does not exist" in result.stderr
    write(tmp_path, {"empty/readme.txt": "x"})
    result = invoke(["verify", "empty"])
    assert result.exit_code == 2 and "no Rego files in empty" in result.stderr


def test_cli_junit_has_one_distinct_case_per_test(project: Path) -> None:
    result = invoke(["verify", "policies", "-d", "policies/data", "--format", "junit=out/v.xml"])
    assert result.exit_code == 1
    assert "6 tests:" in result.output  # the text summary still goes to stdout
    xml = JUnitXml.fromfile(str(project / "out/v.xml"))
    cases = [case for suite in xml for case in suite]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)) == 6
    assert "demo_test.test_denies" in names
    assert {c.classname for c in cases} == {"policies/demo_test.rego"}
    kinds = {c.name: type(c.result[0]).__name__ if c.result else "pass" for c in cases}
    assert kinds["demo_test.test_false"] == Failure.__name__
    assert kinds["demo_test.test_breaks"] == Error.__name__
    assert kinds["demo_test.todo_test_later"] == Skipped.__name__
    assert kinds["demo_test.test_allows"] == "pass"


def test_cli_json_to_stdout_replaces_text(project: Path) -> None:
    result = invoke(["verify", "policies", "-d", "policies/data", "-f", "json", "--coverage"])
    doc = json.loads(result.output)
    assert doc["summary"] == {"pass": 2, "fail": 2, "error": 1, "skip": 1}
    assert doc["exit_code"] == result.exit_code == 1
    assert doc["coverage"]["files"][0]["file"] == "policies/demo.rego"


def test_cli_unknown_format_exits_2(project: Path) -> None:
    result = invoke(["verify", "policies", "-f", "sarif"])
    assert result.exit_code == 2 and "unknown format 'sarif'" in result.stderr


def test_library_passes_with_the_ci_coverage_floor() -> None:
    sources = load_sources([], library=True)
    report = run_tests(sources.modules, sources.data, coverage_min=90)
    failed = [(r.case.id, r.message) for r in report.results if r.status != "pass"]
    assert failed == []
    assert report.coverage_percent is not None and report.coverage_percent >= 90
    assert report.exit_code == 0


def test_cli_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["verify", "--library", "--coverage", "--coverage-min", "90"])
    assert result.exit_code == 0, result.output
    assert "gate-library/evaluation.rego" in result.output


def test_user_data_overrides_library_defaults(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {
        "mine/t_test.rego": "package mine_test\nimport rego.v1\n"
                            "test_override if { data.gate.rollout.max_first_stage_weight == 20 }\n"
                            "test_default_kept if { data.gate.rollout.final_weight == 100 }\n",
        "data/over.yaml": "gate: {rollout: {max_first_stage_weight: 20}}\n",
    })
    sources = load_sources(["mine"], data_paths=["data"], library=True)
    assert sources.described == "mine and the built-in library"
    report = run_tests(sources.modules, sources.data)
    mine = {r.case.name: r.status for r in report.results if r.case.package == "mine_test"}
    assert mine == {"test_override": "pass", "test_default_kept": "pass"}


def test_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="manifest not found"):
        load_sources([], config="nope.yaml", cwd=tmp_path)
    with pytest.raises(UsageError):
        load_sources([], data_paths=["nope"], cwd=tmp_path, library=True)


def test_manifest_library_is_loaded_for_the_users_tests(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {
        "gate.yaml": "version: 1\nmodel: {name: m, version: '1'}\nlibrary: [evaluation]\n"
                     "data: [thresholds.yaml]\n",
        "thresholds.yaml": "gate: {evaluation: {floors: {auc: 0.9}}}\n",
        "policies/mine_test.rego": (
            "package mine_test\nimport rego.v1\nimport data.gate.evaluation\n"
            "test_my_floor if {\n"
            "\tsome r in evaluation.deny_floor with input as "
            '{"evaluation": {"metrics": {"auc": 0.8}}}\n'
            '\tr.msg == "auc is 0.8, below its floor 0.9 (short by 0.1)"\n}\n'),
    })
    result = invoke(["verify", "--coverage"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "1 test: 1 passed" in result.output
    assert "gate-library" not in result.output  # measured: the user's files only


PARAMETERIZED = """package cases_test

import rego.v1

cases := [{"note": "small", "n": 1}, {"note": "large", "n": 100}, {"note": "bad", "n": -1}]

test_positive[tc.note] if {
\tsome tc in cases
\ttc.n > 0
}

test_none_pass[tc.note] if {
\tsome tc in cases
\ttc.n > 1000
}

test_plain if true
"""


@pytest.mark.parametrize("engine", ["opa-go", "regorus"])
def test_parameterized_tests_count_one_result_per_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    if engine == "opa-go":
        pytest.importorskip("opa_bindings")
    write(tmp_path, {"p/cases_test.rego": PARAMETERIZED})
    monkeypatch.chdir(tmp_path)
    result = invoke(["verify", "-p", "p", "--engine", engine, "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    statuses = {t["name"]: t["status"] for t in doc["tests"]}
    assert statuses == {
        'test_positive["large"]': "pass", 'test_positive["small"]': "pass",
        "test_none_pass": "fail",  # a parameterized test that produced no case
        "test_plain": "pass",
    }
    assert doc["engine"].startswith(engine)


def test_policy_option_and_the_data_folder_beside_the_policies(project: Path) -> None:
    """conftest's `verify -p DIR`; gate init's layout keeps data in DIR/data/."""
    by_path = invoke(["verify", "policies/"])
    by_option = invoke(["verify", "-p", "policies/"])
    assert by_path.exit_code == by_option.exit_code == 1
    assert by_path.output == by_option.output
    # The tests that need data.limit pass only because policies/data/limit.yaml was read.
    assert "PASS  demo_test.test_denies" in by_option.output


GOLDEN = Path(__file__).parent / "reports" / "golden" / "verify"


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_verify_output_matches_its_golden(project: Path, fmt: str) -> None:
    """gate verify's reports, with run times zeroed; GATE_UPDATE_GOLDEN=1 rewrites them."""
    import os
    import re

    result = invoke(["verify", "policies/", "--engine", "regorus", "--coverage",
                     "--format", f"{fmt}=-"])
    text = re.sub(r'("seconds": |time=")[0-9.e-]+', r"\g<1>0", result.output)
    text = re.sub(r"engine: regorus [0-9.]+", "engine: regorus {VERSION}", text)
    text = re.sub(r'"engine": "regorus [0-9.]+"', '"engine": "regorus {VERSION}"', text)
    golden = GOLDEN / f"verify.{fmt}"
    if os.environ.get("GATE_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()
    if fmt == "json":  # a document sent to stdout is all that goes there
        assert json.loads(result.output)["summary"]["pass"] == 2
