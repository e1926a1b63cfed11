"""The Rego side: source scanning, the embedded engine, and the output contract."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from gate.engines import EngineOptions, get_engine
from gate.engines.regorus import RegorusEngine
from gate.engines.results import findings_from, rule_kind, rule_sites
from gate.errors import EngineError, PolicyError, UsageError
from gate.policy.source import Module, parse_module

POLICY = '''package gate.sample

import rego.v1

# METADATA
# title: Accuracy floor
# description: Accuracy must reach the floor.
# custom:
#   id: ACC-001
#   severity: critical
#   remediation: Retrain.
deny_accuracy contains msg if {
	input.accuracy < data.floor
	msg := sprintf("accuracy %v < %v", [input.accuracy, data.floor])
}

s := "a { string with # and } braces"

violation contains {"msg": "object result", "field": "x"} if input.bad

warn contains "plain warning" if {
	x := {"nested": [1, {"deep": true}]}
	x.nested[1].deep
}

default allow := false

exception contains rules if {
	input.waive
	rules := ["accuracy"]
}
'''


def run(policy: str, input_doc: Any, data: dict[str, Any] | None = None) -> list[Any]:
    module = parse_module(policy, "p.rego")
    sites = rule_sites([module])
    engine = RegorusEngine()
    engine.prepare([module], data or {"floor": 0.9})
    values = engine.evaluate([s.ref for s in sites], input_doc)
    return findings_from(sites, values)


def test_scanner_finds_rules_lines_and_metadata() -> None:
    m = parse_module(POLICY, "p.rego")
    assert m.package == "gate.sample"
    assert m.rule_names() == ["deny_accuracy", "s", "violation", "warn", "allow", "exception"]
    rule = m.first("deny_accuracy")
    assert rule is not None and rule.line == 12
    assert rule.annotations["custom"]["id"] == "ACC-001"
    assert m.first("violation").line == 19  # type: ignore[union-attr]
    assert m.first("allow").line == 26  # type: ignore[union-attr]


def test_scanner_needs_package_and_valid_metadata() -> None:
    with pytest.raises(PolicyError, match="package"):
        parse_module("deny contains 1 if true\n", "x.rego")
    with pytest.raises(PolicyError) as info:
        source = "package x\n# METADATA\n# title: [unclosed\ndeny contains 1 if true\n"
        parse_module(source, "x.rego")
    assert info.value.path == "x.rego" and info.value.line is not None


def test_rule_kinds() -> None:
    assert rule_kind("deny") == "failure"
    assert rule_kind("deny_x") == "failure"
    assert rule_kind("violation_y") == "failure"
    assert rule_kind("warn") == "warning"
    assert rule_kind("denyx") is None
    assert rule_kind("test_deny") is None


def test_findings_carry_metadata_location_and_details() -> None:
    findings = run(POLICY, {"accuracy": 0.5, "bad": True})
    by_id = {f.id: f for f in findings}
    acc = by_id["ACC-001"]
    assert acc.message == "accuracy 0.5 < 0.9"
    assert (acc.kind, acc.severity, acc.title, acc.remediation) == (
        "failure", "critical", "Accuracy floor", "Retrain.")
    assert (acc.file, acc.line, acc.effect) == ("p.rego", 12, "fail")
    obj = by_id["gate.sample.violation"]
    assert obj.message == "object result" and obj.details == {"field": "x"}
    warn = by_id["gate.sample.warn"]
    assert (warn.kind, warn.effect, warn.severity) == ("warning", "warn", "medium")


def test_false_input_does_not_fire() -> None:
    # celine-regorus 0.9.1 turned `false` into a number here; JSON text keeps it a boolean.
    findings = run(POLICY, {"accuracy": 0.95, "bad": False})
    assert [f.id for f in findings] == ["gate.sample.warn"]


def test_exception_rule_waives_by_suffix() -> None:
    findings = run(POLICY, {"accuracy": 0.5, "waive": True})
    acc = next(f for f in findings if f.id == "ACC-001")
    assert acc.effect == "waived" and acc.waiver is not None and acc.waiver.source == "rego"


def test_boolean_deny_rule() -> None:
    findings = run("package b\nimport rego.v1\n# METADATA\n# title: Flag set\ndeny if input.flag\n",
                   {"flag": True})
    assert [(f.id, f.message) for f in findings] == [("b.deny", "Flag set")]


def test_namespace_filter() -> None:
    a = parse_module("package team.a\ndeny contains 1 if true\n", "a.rego")
    b = parse_module("package team.b\ndeny contains 1 if true\n", "b.rego")
    c = parse_module("package other\ndeny contains 1 if true\n", "c.rego")
    assert {s.package for s in rule_sites([a, b, c], namespaces=["team"])} == {"team.a", "team.b"}
    assert {s.package for s in rule_sites([a, b, c], namespaces=["team.b"])} == {"team.b"}


@pytest.mark.parametrize(
    ("source", "line", "match"),
    [
        ("package x\n\ndeny contains msg if {\n  input.x ==\n}\n", 5, "does not compile"),
        ("package x\n\ndeny contains msg if {\n  input.x == y\n  msg := 1\n}\n", 4,
         "undefined variable"),
        ("package x\n\ndeny contains msg if {\n  nofunc(1)\n  msg := 1\n}\n", 4, "nofunc"),
        ("package x\n\ndeny contains msg if {\n  msg := data.nothing.here.x\n  foo.bar\n}\n", 5,
         "foo"),
        ("package x\ndeny[msg] { msg := 1 }\n", 2, "`if` keyword is required"),
    ],
)
def test_compile_errors_name_file_and_line(source: str, line: int, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as info:  # parsing is the engine's too
        module = parse_module(source, "policies/bad.rego")
        engine = RegorusEngine()
        engine.prepare([module], {})
        engine.evaluate(["data.x.deny"], {})
    assert info.value.path == "policies/bad.rego"
    assert info.value.line == line
    assert "Stack backtrace" not in info.value.message


def test_runtime_error_is_a_policy_error() -> None:
    source = "package x\nimport rego.v1\ndeny contains v if { v := 1 / 0 }\n"
    module = parse_module(source, "z.rego")
    engine = RegorusEngine()
    engine.prepare([module], {})
    with pytest.raises(PolicyError, match="divide by zero") as info:
        engine.evaluate(["data.x.deny"], {})
    assert (info.value.path, info.value.line) == ("z.rego", 3)


def test_engine_panic_becomes_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Panic(BaseException):  # stands in for pyo3's PanicException (a BaseException)
        pass

    engine = RegorusEngine()
    engine.prepare([parse_module("package x\ndeny contains 1 if true\n", "p.rego")], {})

    class Exploding:
        def clone(self) -> Exploding:
            return self

        def set_input_json(self, _: str) -> None:
            raise Panic("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(engine, "_engine", Exploding())
    with pytest.raises(EngineError, match="crashed"):
        engine.evaluate(["data.x.deny"], {})


def test_evaluate_before_prepare_is_an_engine_error() -> None:
    with pytest.raises(EngineError):
        RegorusEngine().evaluate(["data.x"], {})


def test_each_evaluation_starts_clean() -> None:
    engine = RegorusEngine()
    engine.prepare([parse_module("package x\nimport rego.v1\nv := input.a\n", "p.rego")], {})
    assert engine.evaluate(["data.x.v"], {"a": 1}) == {"data.x.v": 1}
    assert engine.evaluate(["data.x.v"], None) == {}  # no input: undefined, not the old one


def test_registry() -> None:
    assert get_engine("regorus", EngineOptions()).name == "regorus"
    from importlib.metadata import version

    assert get_engine("regorus").version() == version("gordon-to-regorus") == "0.13.0"
    with pytest.raises(UsageError, match="unknown engine"):
        get_engine("nope")


def test_module_digest() -> None:
    m = Module("p.rego", "package x\n", "x", ())
    assert m.sha256 == hashlib.sha256(b"package x\n").hexdigest()


def test_long_lines_are_accepted_as_in_opa() -> None:
    allow = ", ".join(f'"user-{i:05d}"' for i in range(300))  # one line of ~3,600 columns
    source = f"package long\nimport rego.v1\nallowed := {{{allow}}}\ndeny contains u if {{\n" \
             "\tu := input.user\n\tnot u in allowed\n}\n"
    engine = RegorusEngine()
    engine.prepare([parse_module(source, "long.rego")], {})
    assert engine.evaluate(["data.long.deny"], {"user": "mallory"}) == {
        "data.long.deny": ["mallory"]}


def test_nan_never_reaches_the_engine() -> None:
    from gate.errors import DocumentError

    engine = RegorusEngine()
    engine.prepare([parse_module("package x\ndeny contains 1 if input.x\n", "p.rego")], {})
    with pytest.raises(DocumentError, match="JSON cannot carry"):
        engine.evaluate(["data.x.deny"], {"x": float("nan")})


def test_a_policy_file_is_recorded_with_the_digest_of_its_bytes(tmp_path: Path) -> None:
    """decision.json lists each policy file with its sha256: the file's, as `sha256sum` gives
    it, even when a byte-order mark is not part of the module's text."""
    from gate.documents import InputFiles
    from gate.policy.loader import collect_modules

    folder = tmp_path / "policies"
    folder.mkdir()
    raw = b"\xef\xbb\xbfpackage p\n\ndeny contains \"x\" if false\n"
    (folder / "p.rego").write_bytes(raw)
    files = InputFiles(tmp_path)
    (module,) = collect_modules(files, [folder.resolve()])
    record = files.records["policies/p.rego"]
    assert (record.sha256, record.size_bytes) == (hashlib.sha256(raw).hexdigest(), len(raw))
    assert module.text.startswith("package p")  # the BOM is not part of the module
