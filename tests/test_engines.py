"""No silent PASS: rules are read as the engines parse them, and both engines must agree.

Each probe is a shape of Rego that once turned a failing `gate check` into a
PASS. Every one runs on both in-process engines and on the differential
engine, and must FAIL (exit 1) or be refused (exit 2), never pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.engines import choose_engine, get_engine
from gate.engines.results import exception_name, findings_from, rule_sites
from gate.errors import EngineError, PolicyError
from gate.policy.source import RuleHead, align_rows, lex, parse_module

pytest.importorskip("opa_bindings")

ENGINES = ["opa-go", "regorus", "differential"]
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}
MANIFEST = "version: 1\nmodel: {name: m, version: '1.0'}\n"


def bundle(tmp_path: Path, policies: Mapping[str, str], manifest: str = MANIFEST,
           extra: Mapping[str, str] | None = None) -> Path:
    root = tmp_path / "bundle"
    (root / "policies").mkdir(parents=True)
    (root / "gate.yaml").write_text(manifest)
    for name, text in policies.items():
        (root / "policies" / name).write_text(text)
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    return root


def check(root: Path, engine: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"),
                                    "--output-dir", str(root.parent / "out"),
                                    "--engine", engine, *args], env=ENV)


def decision(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root.parent / "out" / "decision.json").read_text())
    return doc


# --- the silent passes, each as a probe ------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("package", ['release["model-checks"]', 'a["b.c"].d', 'x["y z"]'])
def test_a_quoted_package_path_is_read_whole(tmp_path: Path, engine: str, package: str) -> None:
    policy = f'package {package}\n\ndeny contains "always fails" if true\n'
    root = bundle(tmp_path, {"p.rego": policy})
    result = check(root, engine)
    assert result.exit_code == 1, result.output
    doc = decision(root)
    assert [f["message"] for f in doc["findings"]] == ["always fails"]
    assert doc["rules"][0]["rule"] == f"{package}.deny"


METADATA_AFTER_COMMENT = """package release

# This rule guards the release.
# It is an ordinary comment, not METADATA.

# METADATA
# title: Always fails
# custom:
#   id: REL-001
#   enforcement: hard-mandatory
deny contains "always fails" if true
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_metadata_after_an_ordinary_comment_is_kept(tmp_path: Path, engine: str) -> None:
    waivers = "exceptions:\n  - {rule: 'REL-*', reason: ship it, approved_by: someone}\n"
    root = bundle(tmp_path, {"p.rego": METADATA_AFTER_COMMENT},
                  manifest=MANIFEST + "exceptions: exceptions.yaml\n",
                  extra={"exceptions.yaml": waivers})
    result = check(root, engine)
    assert result.exit_code == 1, result.output
    (finding,) = decision(root)["findings"]
    assert finding["id"] == "REL-001" and finding["enforcement"] == "hard-mandatory"
    assert finding["effect"] == "fail"  # the waiver was tried and refused


def test_metadata_attaches_as_opa_attaches_it() -> None:
    source = (
        "# METADATA\n# title: the package\n# custom:\n#   severity: low\npackage p\n\n"
        "# METADATA\n# title: first\n\n# METADATA\n# custom:\n#   id: TWO\n\n\n"
        "deny contains 1 if true\n\n# just a note\nwarn contains 2 if true\n"
        "# METADATA\n# scope: document\n# title: doc\nviolation contains 3 if true\n"
        "violation contains 4 if false\n"
    )
    m = parse_module(source, "p.rego")
    assert m.package_annotations == {"title": "the package", "custom": {"severity": "low"}}
    by_line = {r.line: r.annotations for r in m.rules}
    assert by_line[15] == {"title": "first", "custom": {"id": "TWO"}}  # two blocks, blank lines
    assert by_line[18] == {}  # an ordinary comment is not METADATA
    assert by_line[22] == by_line[23] == {"title": "doc"}  # document scope: every head


@pytest.mark.parametrize(("source", "match"), [
    ("package p\n# METADATA\n# title: a\n# METADATA\n# custom: {id: X}\ndeny contains 1 if true\n",
     "second '# METADATA' line"),
    ("package p\n# METADATA\n# custom: {id: A}\n\n# METADATA\n# custom: {id: B}\n"
     "deny contains 1 if true\n", "disagree on custom.id"),
    ("package p\n# METADATA\n# scope: package\nimport rego.v1\n", "must directly precede"),
    ("package p\ndeny contains 1 if true\n# METADATA\n# title: dangling\n", "end of file"),
    ("package p\n# METADATA\n# scope: galaxy\ndeny contains 1 if true\n", "scope 'galaxy'"),
])
def test_metadata_that_cannot_be_attached_is_refused(source: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as info:
        parse_module(source, "p.rego")
    assert info.value.path == "p.rego" and info.value.line


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("names", [("main", "lib_a", "lib_b"), ("z_main", "a_lib", "b_lib"),
                                   ("m", "zz", "aa")])
def test_a_package_spread_over_files_through_an_import_alias(
    tmp_path: Path, engine: str, names: tuple[str, str, str]
) -> None:
    main, lib_a, lib_b = names
    root = bundle(tmp_path, {
        f"{main}.rego": "package release\n\nimport data.release.lib\n\n"
                        'deny contains "secret leaked" if lib.leaked\n',
        f"{lib_a}.rego": "package release.lib\n\nleaked := true\n",
        f"{lib_b}.rego": "package release.lib\n\nother := 1\n",
    })
    result = check(root, engine)
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("engine", ENGINES)
def test_an_unknown_function_on_a_path_never_taken_is_a_compile_error(
    tmp_path: Path, engine: str
) -> None:
    root = bundle(tmp_path, {"p.rego": 'package p\n\ndeny contains "x" if {\n'
                             '\tinput.never_set == 1\n\tcont("a", "b")\n}\n'})
    result = check(root, engine)
    assert result.exit_code == 2, result.output
    assert "cont" in result.stderr and "p.rego:5" in result.stderr


@pytest.mark.parametrize("engine", ["opa-go", "regorus"])
def test_known_functions_and_aliased_functions_compile(tmp_path: Path, engine: str) -> None:
    root = bundle(tmp_path, {
        "p.rego": "package p\n\nimport data.q as helpers\n\n"
                  'deny contains "x" if {\n\thelpers.twice(1) == 2\n\tlocal(1)\n'
                  '\tdata.q.twice(2) == 4\n\tcount([1]) == 1\n\ttime.now_ns() > 0\n}\n\n'
                  "local(x) if x == 1\n",
        "q.rego": "package q\n\ntwice(x) := x * 2\n",
    })
    assert check(root, engine).exit_code == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_namespace_that_matches_nothing_is_an_error(tmp_path: Path, engine: str) -> None:
    root = bundle(tmp_path, {"p.rego": 'package release\n\ndeny contains "x" if true\n'})
    result = check(root, engine, "--namespace", "relase")
    assert result.exit_code == 2
    assert "--namespace relase matches no package" in result.stderr
    assert check(root, engine, "--namespace", "release").exit_code == 1


@pytest.mark.parametrize("engine", ["opa-go", "regorus"])
@pytest.mark.parametrize(("rule", "match"), [
    ('deny(x) := "f" if x', "is a function"),
    ('deny[k] := "v" if k := "a"', "object rule"),
    ('checks.deny contains "x" if true', "below its package's top level"),
    ('deny.sub contains "x" if true', "longer path"),
    ("deny := 3", "not a finding"),
])
def test_deny_rules_the_gate_cannot_read_are_errors(
    tmp_path: Path, engine: str, rule: str, match: str
) -> None:
    root = bundle(tmp_path, {"p.rego": f"package p\n\n{rule}\n"})
    result = check(root, engine)
    assert result.exit_code == 2, result.output
    assert match in result.stderr


def test_a_set_rule_left_undefined_is_an_error() -> None:
    """A set rule is never undefined in OPA; undefined means the gate read the wrong ref."""
    module = parse_module('package p\n\ndeny contains "x" if true\n', "p.rego")
    sites = rule_sites([module])
    with pytest.raises(EngineError, match="set rule"):
        findings_from(sites, {})
    assert findings_from(sites, {sites[0].ref: []}) == []


# --- conftest's exception semantics, after enforcement ---------------------------------------


EXCEPTIONS = """package release

deny_accuracy contains "accuracy too low" if true

deny contains "bare" if true

warn_size contains "big" if true

exception contains {exception_value} if true
"""


@pytest.mark.parametrize("engine", ["opa-go", "regorus"])
@pytest.mark.parametrize(("value", "waived"), [
    ('["accuracy"]', {"accuracy too low"}),
    ('["accuracy", "size"]', {"accuracy too low", "big"}),
    ('[""]', {"bare"}),
    ('"accuracy"', set()),  # conftest reads exception[_][_]: a bare string waives nothing
    ('["deny_accuracy"]', set()),  # the name without its kind prefix, as conftest matches
])
def test_exception_rules_follow_conftest(tmp_path: Path, engine: str, value: str,
                                         waived: set[str]) -> None:
    root = bundle(tmp_path, {"p.rego": EXCEPTIONS.format(exception_value=value)})
    check(root, engine)
    got = {f["message"] for f in decision(root)["findings"] if f["waiver"]}
    assert got == waived


def test_exception_names_as_conftest_strips_them() -> None:
    assert exception_name("deny") == exception_name("warn") == ""
    assert exception_name("deny_accuracy") == "accuracy"
    assert exception_name("violation_deny_x") == "x"
    assert exception_name("warn_violation_x") == "violation_x"


@pytest.mark.parametrize("engine", ["opa-go", "regorus"])
def test_a_rego_exception_cannot_waive_what_gate_yaml_made_hard_mandatory(
    tmp_path: Path, engine: str
) -> None:
    root = bundle(tmp_path, {"p.rego": EXCEPTIONS.format(exception_value='["accuracy"]')},
                  manifest=MANIFEST + "enforcement:\n  release.deny_accuracy: hard-mandatory\n")
    assert check(root, engine).exit_code == 1
    (finding,) = [f for f in decision(root)["findings"] if f["rule"] == "release.deny_accuracy"]
    assert finding["effect"] == "fail" and finding["enforcement"] == "hard-mandatory"
    assert finding["waiver_refused"]["source"] == "rego"


# --- engine choice and the differential guard ------------------------------------------------


def test_auto_prefers_opa_and_says_when_it_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = bundle(tmp_path, {"p.rego": 'package p\n\nwarn contains "w" if true\n'})
    result = CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"),
                                      "--output-dir", str(tmp_path / "out")], env=ENV)
    assert result.exit_code == 0
    engine = decision(root)["engine"]
    assert engine["name"] == "opa-go" and engine["requested"] == "auto"
    assert engine["version"].startswith("1.") and "fallback" not in engine

    from gate.engines import opa_go

    monkeypatch.setattr(opa_go, "unavailable_reason", lambda: "opa-golib-python-bindings "
                        "is not installed")
    result = CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"),
                                      "--output-dir", str(tmp_path / "out")], env=ENV)
    engine = decision(root)["engine"]
    assert engine["name"] == "regorus"
    assert engine["fallback"] == "opa-go was not used: opa-golib-python-bindings is not installed"
    assert "Engine: regorus" in result.output and "fallback: opa-go was not used" in result.output


def test_gate_yaml_pins_the_engine_and_the_cli_overrides_it(tmp_path: Path) -> None:
    root = bundle(tmp_path, {"p.rego": 'package p\n\nwarn contains "w" if true\n'},
                  manifest=MANIFEST + "engine: regorus\n")
    CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"),
                             "--output-dir", str(tmp_path / "out")], env=ENV)
    assert decision(root)["engine"] == {"name": "regorus", "version": "0.13.0",
                                        "requested": "regorus"}
    check(root, "differential")
    assert decision(root)["engine"]["name"] == "differential"
    (root / "gate.yaml").write_text(MANIFEST + "engine: opa-wasm\n")
    result = check(root, "regorus")
    assert result.exit_code == 2 and "engine" in result.stderr


@pytest.mark.parametrize(("rule", "what"), [
    # regorus ignores a JSON pointer's leading '/' in json.remove and json.filter.
    ('deny contains "pointer" if json.remove({"a": {"b": 1}}, ["/a/b"]) == {"a": {}}',
     "json.remove"),
    # OPA hoists an undefined argument out of `not f(x)`, so the body fails; regorus
    # reads the negation as true.
    ('deny contains "negation" if not is_number(input.missing.value)', "is_number"),
])
def test_known_engine_differences_are_refused_by_the_differential_engine(
    tmp_path: Path, rule: str, what: str
) -> None:
    root = bundle(tmp_path, {"p.rego": f"package p\n\n{rule}\n"})
    verdicts = {engine: check(root, engine).exit_code for engine in ("opa-go", "regorus")}
    assert verdicts["opa-go"] != verdicts["regorus"], what  # the engine bug is still there
    result = check(root, "differential")
    assert result.exit_code == 2
    assert "the engines disagree on data.p.deny (opa-go vs regorus)" in result.stderr
    assert decision(root)["error"]["type"] == "EngineError"


def test_differential_refuses_policies_only_one_engine_compiles(tmp_path: Path) -> None:
    root = bundle(tmp_path, {"p.rego": 'package p\n\ndeny contains $"x {input.a}" if true\n'})
    assert check(root, "opa-go").exit_code == 1
    result = check(root, "differential")
    assert result.exit_code == 2
    assert "disagree on whether the policies compile" in result.stderr


def test_differential_does_not_claim_a_disagreement_when_both_engines_refuse(
        tmp_path: Path) -> None:
    """regorus refuses an unknown function when it prepares; OPA only when it compiles, at
    its first query: the differential engine must ask OPA before it says OPA accepts."""
    root = bundle(tmp_path, {"p.rego": 'package p\n\ndeny contains "x" if nosuch.fn(1)\n'})
    assert check(root, "regorus").exit_code == 2
    result = check(root, "differential")
    assert result.exit_code == 2
    assert "disagree" not in result.stderr
    assert "undefined function nosuch.fn" in result.stderr
    assert decision(root)["error"]["type"] == "PolicyError"


# --- OPA's parse is the check on gate's reading of a module ----------------------------------


def test_opa_reads_each_module_as_gate_does() -> None:
    from gate.engines.opa_go import check_outline, outline

    source = ('package a["b-c"]\n\nimport rego.v1\n\ns := "# not a comment { ["\n'
              "t := `raw # also not`\n# METADATA\n# title: x\n"
              'deny contains $"{input.a} # still not" if true\n'
              "default allow := false\nf(x) := x\no[k] := 1 if some k in [1]\n"
              "p if false\nelse := true\n")
    module = parse_module(source, "a.rego")
    assert module.parser == "opa-go"  # regorus cannot parse template strings
    check_outline(module)
    assert [(r.path, r.kind, r.line) for r in outline(source, "a.rego").rules] == [
        (("s",), "complete", 5), (("t",), "complete", 6), (("deny",), "set", 9),
        (("allow",), "complete", 10), (("f",), "function", 11), (("o",), "object", 12),
        (("p",), "complete", 13)]
    plain = source.replace('$"{input.a} # still not"', '"x"')
    check_outline(parse_module(plain, "a.rego"))  # read by regorus, confirmed by OPA
    assert [c.text for c in lex(source)[0]] == [" METADATA", " title: x"]


def test_the_library_is_cross_checked_so_a_run_need_not_repeat_it() -> None:
    """Every library module (tests too) reads alike in regorus and OPA, on the OPA release
    the per-run check is skipped for; anything else, even one byte off, is still checked."""
    from gate.engines.opa_go import (
        CROSS_CHECKED_OPA,
        check_outline,
        needs_outline_check,
        versions,
    )
    from gate.library import library_modules

    assert versions()[0] == CROSS_CHECKED_OPA  # else every run checks: bump both together
    modules = library_modules(True, include_tests=True)
    assert len(modules) >= 14
    for module in modules:
        check_outline(module)
        assert not needs_outline_check(module), module.path
    changed = parse_module(modules[0].text + "\nextra := 1\n", modules[0].path)
    assert needs_outline_check(changed)


def test_a_rule_the_source_does_not_show_is_refused() -> None:
    with pytest.raises(PolicyError, match="cannot find where rule 'ghost' starts"):
        align_rows("package p\n\nreal := 1\n", "p.rego", [RuleHead(("ghost",), "complete", 0)])


# --- agreement on the library, over generated bundles -----------------------------------------


@pytest.mark.slow  # every library rule on both engines
def test_every_library_rule_gives_the_same_findings_on_both_engines() -> None:
    """Hypothesis varies the examples' input documents (schema-valid); the differential
    engine refuses any disagreement between OPA and regorus on any library rule."""
    import copy

    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st

    from gate.ci import detect
    from gate.library import library_defaults, library_modules
    from gate.manifest import load_manifest
    from gate.pipeline import build_input
    from gate.schemas import first_problem

    examples = Path(__file__).resolve().parent.parent / "examples"
    bases = [build_input(load_manifest(examples / name / "gate.yaml"), ci=detect({}))
             for name in ("passing", "failing")]
    modules = library_modules(True)
    sites = rule_sites(modules)
    engine = get_engine(choose_engine("differential").name)
    engine.prepare(modules, library_defaults())
    names = st.sampled_from(["roc_auc", "precision_at_1pct_fpr", "recall", "latency_p95_ms",
                             "accuracy"])
    number = st.one_of(st.floats(0, 1, allow_nan=False), st.integers(0, 500))
    metrics = st.dictionaries(names, number, max_size=5)

    @st.composite
    def documents(draw: st.DrawFn) -> dict[str, Any]:
        doc: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(bases)))
        evaluation = doc["evaluation"]
        evaluation["metrics"] = draw(metrics)
        evaluation["slices"] = [
            {**s, "metrics": draw(metrics)} for s in evaluation["slices"][:draw(st.integers(0, 3))]]
        if draw(st.booleans()):
            evaluation["baseline"] = None
        elif evaluation["baseline"] is not None:
            evaluation["baseline"]["metrics"] = draw(metrics)
        card = doc["model"]["card"]
        for key in draw(st.lists(st.sampled_from(sorted(card) or ["license"]), max_size=3)):
            card[key] = draw(st.one_of(st.just(""), st.just([]), st.text(max_size=3)))
        for artifact in doc["model"]["artifacts"]:
            artifact["format"] = draw(st.sampled_from(["safetensors", "pickle", "onnx",
                                                       "joblib", "unknown"]))
            artifact["size_bytes"] = draw(st.integers(0, 1 << 40))
        lineage = doc["lineage"]
        lineage["code"]["commit"] = draw(st.sampled_from(["", "abc", "a" * 40, None]))
        for dataset in lineage["datasets"]:
            dataset["role"] = draw(st.sampled_from(["train", "test", "validation", "other"]))
        if draw(st.booleans()):
            lineage["datasets"] = lineage["datasets"][:1]
        return doc

    seen: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(documents())
    def agree(input_doc: dict[str, Any]) -> None:
        assume(first_problem(input_doc, "input") is None)
        values = engine.evaluate([s.ref for s in sites], input_doc)  # raises on disagreement
        seen.append(len(findings_from(sites, values)))

    try:
        agree()
    finally:
        engine.close()
    assert len(seen) > 50 and max(seen) > 3  # valid bundles, and they do trip the rules


# --- a slow policy is an error, never a hang -------------------------------------------------


SLOW = ("package slow\n\ndeny contains \"never\" if {\n"
        "\tcount([x | some a in numbers.range(1, 4000); some b in numbers.range(1, 4000); "
        "x := a * b]) < 0\n}\n")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_slow_policy_is_stopped_and_the_decision_written(tmp_path: Path, engine: str) -> None:
    import subprocess
    import sys

    root = bundle(tmp_path, {"slow.rego": SLOW})
    gate = Path(sys.executable).with_name("gate")
    proc = subprocess.run([str(gate), "check", "--config", str(root / "gate.yaml"),
                           "--output-dir", str(tmp_path / "out"), "--engine", engine,
                           "--eval-timeout", "1"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "took longer than 1 s and was stopped" in proc.stderr
    doc = decision(root)
    assert doc["decision"] == "error" and doc["error"]["type"] == "EngineError"
    assert (tmp_path / "out" / "rollback-plan.json").exists()  # error runs block with a plan


# --- OPA compiles on the first query: its errors are still compile errors -------------------

UNSAFE = "package p\nimport rego.v1\n\ndeny contains m if {\n  m := y\n}\n"


@pytest.mark.parametrize("refs", [["data.p.deny"], []])
def test_opa_go_refuses_a_policy_that_does_not_compile_even_with_nothing_to_read(
        refs: list[str]) -> None:
    from gate.engines.opa_go import OpaGoEngine

    module = parse_module(UNSAFE, "policies/p.rego")
    engine = OpaGoEngine()
    engine.prepare([module], {})  # adds the modules; OPA compiles with the first query
    try:
        with pytest.raises(PolicyError, match="the policy does not compile") as info:
            engine.evaluate(refs, {})
    finally:
        engine.close()
    assert (info.value.path, info.value.line) == ("policies/p.rego", 5)
    assert "rego_unsafe_var_error" in info.value.message


def test_opa_go_runtime_errors_stay_evaluation_errors() -> None:
    from gate.engines.opa_go import OpaGoEngine

    module = parse_module("package p\nimport rego.v1\n\nx := 1 / 0\n", "policies/p.rego")
    engine = OpaGoEngine()
    engine.prepare([module], {})
    try:
        with pytest.raises(PolicyError, match="evaluation failed") as info:
            engine.evaluate(["data.p.x"], {})
    finally:
        engine.close()
    assert info.value.line == 4 and "divide by zero" in info.value.message


def test_opa_go_closes_its_engine_when_a_module_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.engines import opa_go

    made: list[Any] = []
    real: Any = opa_go.__dict__["OpaEngine"]

    class Recorded(real):  # type: ignore[misc]  # the bindings are untyped
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    def refuse(module: Any) -> None:
        raise EngineError("OPA's parser reads it differently")

    monkeypatch.setattr(opa_go, "OpaEngine", Recorded)
    monkeypatch.setattr(opa_go, "needs_outline_check", lambda module: True)
    monkeypatch.setattr(opa_go, "check_outline", refuse)
    engine = opa_go.OpaGoEngine()
    module = parse_module("package p\n\nx := 1\n", "policies/p.rego")
    assert module.parser == "regorus"
    with pytest.raises(EngineError, match="reads it differently"):
        engine.prepare([module], {})
    assert made and all(e._handle is None for e in made)  # closed, not left to the collector
    with pytest.raises(EngineError, match="before it was prepared"):
        engine.evaluate(["data.p.x"], {})


class _Opa(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@pytest.mark.parametrize(("code", "message", "kind", "expected"), [
    ("panic", "runtime error: index out of range", EngineError,
     "OPA's engine panicked while evaluating: runtime error: index out of range"),
    ("closed", "engine has been closed", EngineError,
     "OPA's engine failed while evaluating: engine has been closed"),
    ("internal", "native call returned NULL", EngineError,
     "OPA's engine failed while evaluating: native call returned NULL"),
    ("eval_error", "something odd\nmore", PolicyError, "evaluating: something odd"),
])
def test_opa_go_errors_that_name_no_file(code: str, message: str, kind: type[Exception],
                                         expected: str) -> None:
    from gate.engines.opa_go import _error

    error = _error(_Opa(code, message), "evaluating", ["policies/p.rego"])
    assert type(error) is kind and error.message == expected and error.path is None


def test_opa_go_errors_point_at_the_first_place_and_list_the_others() -> None:
    from gate.engines.opa_go import _error

    message = ("2 errors occurred:\npolicies/b.rego:7: rego_type_error: undefined function f\n"
               "policies/a.rego:3: rego_unsafe_var_error: var x is unsafe")
    error = _error(_Opa("prepare_error", message), "the policy does not compile",
                   ["policies/a.rego", "policies/b.rego"])
    assert isinstance(error, PolicyError)
    assert (error.path, error.line) == ("policies/b.rego", 7)
    assert error.message == ("the policy does not compile: undefined function f "
                             "(rego_type_error)\nalso:\n  policies/a.rego:3: var x is unsafe")
