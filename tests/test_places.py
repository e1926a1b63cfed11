"""A place inside a document is written one way everywhere: ``$.a[0].b``, by gate.errors.json_path.

The notation is pinned here (identifier keys after a dot, any other key as a
JSON string in brackets, indexes as ``[n]``), it reads back exactly (the CI
reports find a place's line with gate.reports.lines.parse_path), and errors of
every area name their place in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from gate.decision import Finding
from gate.documents import parse_json
from gate.drift.runner import run_checks
from gate.errors import GateError, json_path
from gate.manifest import load_manifest
from gate.policy.loader import merge_data
from gate.reports.lines import parse_path
from gate.rollback.plan import build_steps
from gate.rollout.monitoring import read_monitoring
from gate.validations.suite import parse_suite
from gate.waivers import apply_enforcement

NOTATION: list[tuple[list[str | int], str]] = [
    ([], "$"),
    (["metrics", "auc"], "$.metrics.auc"),
    (["steps", 0, "run", 12], "$.steps[0].run[12]"),
    (["_private", "Key_2"], "$._private.Key_2"),
    (["class"], "$.class"),  # a keyword is still an identifier
    (["metrics", "a.b"], '$.metrics["a.b"]'),
    (["model-index", 0, "results"], '$["model-index"][0].results'),
    (["stages", "canary-5"], '$.stages["canary-5"]'),
    (["a b"], '$["a b"]'),
    (['say "hi"'], '$["say \\"hi\\""]'),
    (["back\\slash"], '$["back\\\\slash"]'),
    (["it's"], '$["it\'s"]'),
    (["a~b", "c/d", "~0~1"], '$["a~b"]["c/d"]["~0~1"]'),  # no JSON Pointer escapes
    (["2fast"], '$["2fast"]'),
    (["0", 0], '$["0"][0]'),  # a key that looks like an index is still a key
    ([""], '$[""]'),
    (["café", "名前", "Ωmega"], '$["café"]["名前"]["Ωmega"]'),  # printable text stays as is
    (["line\nbreak\ttab"], '$["line\\nbreak\\ttab"]'),
    (["a\u202eb"], '$["a\\u202eb"]'),  # a bidirectional control shows as its escape
    (["zero\u200bwidth"], '$["zero\\u200bwidth"]'),
    (["nb\u00a0space"], '$["nb\\u00a0space"]'),
    (["\ud800"], '$["\\ud800"]'),  # a lone surrogate, written as text any output holds
    (["tag\U000e0001"], '$["tag\\udb40\\udc01"]'),
    (["del\x7f"], '$["del\\u007f"]'),
]


@pytest.mark.parametrize(("parts", "expected"), NOTATION)
def test_the_notation(parts: list[str | int], expected: str) -> None:
    assert json_path(parts) == expected
    assert expected.isprintable() and expected.startswith("$")


@pytest.mark.parametrize(("parts", "expected"), NOTATION)
def test_every_place_reads_back_to_its_parts(parts: list[str | int], expected: str) -> None:
    assert parse_path(json_path(parts)) == parts


def test_a_place_continues_a_place() -> None:
    assert json_path(["env", "API-KEY"], "$.steps[0]") == '$.steps[0].env["API-KEY"]'
    assert json_path([3], json_path(["canary", "p99"])) == "$.canary.p99[3]"
    assert json_path([], "$.x") == "$.x"


def test_an_error_holds_only_text_any_output_can_write() -> None:
    """A lone surrogate (a JSON "\\ud800", a file name that is not UTF-8) is kept as its
    escape in every text attribute, given at once or filled in later."""
    e = GateError("bad \ud800", path="a\udcff.json", pointer="$.\ud800", hint="fix \ud800")
    later = GateError("bad")
    later.path, later.pointer = "a\udcff.json", "$.\ud800"
    for error in (e, later):
        for text in (error.message, error.path, error.pointer, error.hint, error.render()):
            assert text is not None
            text.encode("utf-8")  # never raises
    assert e.path == later.path == "a\\udcff.json"
    assert e.pointer == later.pointer == "$.\\ud800"


def test_an_error_shows_its_place_after_the_file() -> None:
    e = GateError("bad", path="eval.json", pointer=json_path(["metrics", "roc-auc"]))
    assert e.where == 'eval.json at $.metrics["roc-auc"]'
    assert GateError("bad", path="eval.json", pointer="").where == "eval.json at $"
    assert e.to_json()["pointer"] == '$.metrics["roc-auc"]'


# --- errors of every area name their place in the one notation ---------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def _json_document(tmp_path: Path) -> None:
    parse_json('{"a": {"b-c": [1, 1e999]}}', tmp_path / "eval.json")


def _yaml_manifest(tmp_path: Path) -> None:
    load_manifest(_write(tmp_path / "gate.yaml", (
        "version: 1\nmodel: {name: m, version: '1'}\n"
        "drift:\n- name: t\n  reference: {data: r.csv}\n  current: {data: c.csv}\n"
        "  features: {numeric: [amount]}\n  bins: many\n")))


def _validation_suite(tmp_path: Path) -> None:
    parse_suite({"expectations": [{"type": "expect_x", "kwargs": {}},
                                  {"type": "expect_x", "kwargs": {}, "severity": "high"}]},
                "suites/s.json", "slices")


def _rollout_monitoring(tmp_path: Path) -> None:
    f = _write(tmp_path / "m.json", json.dumps({"canary": {"p99-latency": [1, "x"]}}))
    read_monitoring([f], shown=["m.json"])


def _drift_config(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "gate.yaml", (
        "version: 1\nmodel: {name: m, version: '1'}\n"
        "drift:\n- name: t\n  reference: {data: r.csv}\n  current: {data: c.csv}\n"
        "  features: {numeric: [amount], categorical: [amount]}\n"))
    run_checks(load_manifest(manifest))


def _rollback_steps(tmp_path: Path) -> None:
    build_steps([{"name": "s", "run": ["deploy"], "env": {"API-KEY": "x"}}], model_name="m",
                model_version="1", target={}, source=None)


def _policy_data(tmp_path: Path) -> None:
    merge_data({"floors": {"acc-min": 0.9}}, {"floors": {"acc-min": 0.5}}, "more.yaml")


def _enforcement(tmp_path: Path) -> None:
    hard = Finding(id="EVAL-001", kind="failure", message="m", rule="evaluation.floor",
                   enforcement="hard-mandatory")
    apply_enforcement([hard], {"EVAL-001": "advisory"})


AREAS: list[tuple[Callable[[Path], None], Sequence[str | int]]] = [
    (_json_document, ["a", "b-c", 1]),
    (_yaml_manifest, ["drift", 0, "bins"]),
    (_validation_suite, ["expectations", 1, "severity"]),
    (_rollout_monitoring, ["canary", "p99-latency", 1]),
    (_drift_config, ["drift", 0, "features"]),
    (_rollback_steps, ["rollback", "steps", 0, "env", "API-KEY"]),
    (_policy_data, ["floors", "acc-min"]),
    (_enforcement, ["enforcement", "EVAL-001"]),
]


@pytest.mark.parametrize(("fail", "parts"), AREAS, ids=[f.__name__[1:] for f, _ in AREAS])
def test_errors_of_every_area_name_their_place_in_the_one_notation(
        tmp_path: Path, fail: Callable[[Path], None], parts: Sequence[str | int]) -> None:
    with pytest.raises(GateError) as info:
        fail(tmp_path)
    e = info.value
    assert e.exit_code == 2
    assert e.pointer is not None and e.pointer.startswith("$")
    assert e.pointer == json_path(parts)
    assert parse_path(e.pointer) == list(parts)
    if e.path is not None:
        assert e.where.endswith(f" at {e.pointer}")
