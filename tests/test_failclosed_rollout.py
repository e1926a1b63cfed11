"""Issue 17, part B: `gate rollout` validates its data like every other input.

Monitoring samples must be finite, of sane magnitude and inside their metric's
range; rollout-state.json must match its schema. Every problem is exit 2 with
the file and the place, never "this is a bug" and never a silent fresh start.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.errors import DocumentError, RolloutError
from gate.rollout.monitoring import read_monitoring
from gate.rollout.state import load_state

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rollout"


@pytest.fixture(autouse=True)
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "rollout"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("gate-report"))
    monkeypatch.chdir(root)
    return root


def poll(metrics: str = "monitoring/canary-5-35m.json", *extra: str) -> Result:
    return CliRunner().invoke(cli, ["rollout", "--stage", "canary-5", "--metrics", metrics,
                                    *extra], catch_exceptions=False)


def fails_clearly(r: Result, *expected: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "this is a bug" not in r.output, r.output
    for text in expected:
        assert text in r.output, r.output


def samples(mutate: Any) -> str:
    doc = json.loads(Path("monitoring/canary-5-35m.json").read_text("utf-8"))
    mutate(doc)
    Path("monitoring/edited.json").write_text(json.dumps(doc), "utf-8")
    return "monitoring/edited.json"


def raw_samples(canary_error_rate: str) -> str:
    """A monitoring file whose canary error_rate list is written as raw JSON text."""
    doc = json.loads(Path("monitoring/canary-5-35m.json").read_text("utf-8"))
    doc["canary"]["error_rate"] = "@@"
    text = json.dumps(doc).replace('"@@"', canary_error_rate)
    Path("monitoring/raw.json").write_text(text, "utf-8")
    return "monitoring/raw.json"


# --- samples ----------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "message"), [
    ("[0, 1e999, 0]", "not a finite number"),
    ("[0, -1e999]", "not a finite number"),
    ("[0, " + "9" * 400 + "]", "integer of 400 digits"),
    ("[0, 1e300]", "larger than 1e+15"),
    ("[0, -1e308, -1e308]", "larger than 1e+15"),
])
def test_samples_that_would_overflow_are_refused_at_their_place(values: str,
                                                                message: str) -> None:
    fails_clearly(poll(raw_samples(values)), "monitoring/raw.json at $.canary.error_rate[1]",
                  message)


def test_negative_error_rates_do_not_promote() -> None:
    def negative(doc: dict[str, Any]) -> None:
        doc["canary"]["error_rate"] = [-1.0] * len(doc["canary"]["error_rate"])

    fails_clearly(poll(samples(negative), "--elapsed", "35m"),
                  "monitoring/edited.json at $.canary.error_rate[0]",
                  "sample -1 of error_rate is outside its range [0, null]", "rollout: {ranges:")
    assert not Path("gate-report/rollout-decision.json").exists()


def test_ranges_from_gate_yaml_bound_both_ends_and_can_allow_negatives(bundle: Path) -> None:
    manifest = Path("gate.yaml")
    text = manifest.read_text("utf-8")
    manifest.write_text(text.replace("rollout:\n", "rollout:\n  ranges: {error_rate: [0, 1]}\n",
                                     1), "utf-8")

    def too_big(doc: dict[str, Any]) -> None:
        doc["canary"]["error_rate"][3] = 1.5

    fails_clearly(poll(samples(too_big), "--elapsed", "35m"),
                  "$.canary.error_rate[3]", "outside its range [0, 1]")
    assert poll("monitoring/canary-5-35m.json", "--elapsed", "35m").exit_code == 0

    manifest.write_text(text.replace("rollout:\n",
                                     "rollout:\n  ranges: {latency_ms: [null, null]}\n", 1))

    def shifted(doc: dict[str, Any]) -> None:
        doc["baseline"]["latency_ms"][0] = -5.0

    assert poll(samples(shifted), "--elapsed", "35m").exit_code in (0, 1, 3)
    manifest.write_text(text.replace("rollout:\n", "rollout:\n  ranges: {x: [2, 1]}\n", 1))
    fails_clearly(poll("monitoring/canary-5-35m.json"), "gate.yaml at $.rollout.ranges.x",
                  "the range of x is empty")


def test_a_prometheus_value_out_of_range_names_its_file() -> None:
    prom = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1, "0.01"]}, {"metric": {}, "value": [2, "-0.5"]}]}}
    Path("monitoring/prom.json").write_text(json.dumps(prom), "utf-8")

    def referenced(doc: dict[str, Any]) -> None:
        doc["baseline"]["error_rate"] = "prom.json"

    fails_clearly(poll(samples(referenced), "--elapsed", "35m"), "monitoring/prom.json",
                  "baseline sample -0.5 of error_rate", "(sample 2 of the series)")


# --- rollout-state.json -------------------------------------------------------------------


def state_after_a_poll() -> dict[str, Any]:
    assert poll("monitoring/canary-5-35m.json").exit_code in (0, 3)
    doc: dict[str, Any] = json.loads(Path("gate-report/rollout-state.json").read_text("utf-8"))
    return doc


def write_state(doc: Any) -> None:
    Path("gate-report/rollout-state.json").write_text(json.dumps(doc), "utf-8")


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["stages"]["canary-5"].update(first_poll_at="2026-11-25T14:00:00"),
     '$.stages["canary-5"].first_poll_at'),
    (lambda d: d["stages"]["canary-5"].update(polls="many"), '$.stages["canary-5"].polls'),
    (lambda d: d["stages"]["canary-5"].update(polls=0), '$.stages["canary-5"].polls'),
    (lambda d: d.update(stages=[]), "$.stages"),
    (lambda d: d.update(stages={}), "$.stages"),
    (lambda d: d["stages"]["canary-5"].update(last_decision="yolo"), "last_decision"),
    (lambda d: d["stages"]["canary-5"].update(first_poll_at="2026-13-45T14:00:00Z"),
     "is not a time"),
    (lambda d: d.update(version=2), "$.version"),
])
def test_a_damaged_state_file_is_an_error_never_a_fresh_start(mutate: Any,
                                                              expected: str) -> None:
    doc = state_after_a_poll()
    mutate(doc)
    write_state(doc)
    fails_clearly(poll(), "gate-report/rollout-state.json", expected, "--reset-state")
    assert poll("monitoring/canary-5-35m.json", "--reset-state").exit_code in (0, 3)


def test_a_damaged_sequential_test_is_an_error() -> None:
    r = CliRunner().invoke(cli, ["rollout", "--stage", "canary-25", "--metrics",
                                 "monitoring/canary-25-40m.json", "--elapsed", "40m"])
    assert r.exit_code == 0, r.output
    doc = json.loads(Path("gate-report/rollout-state.json").read_text("utf-8"))
    test = next(iter(doc["stages"]["canary-25"]["tests"].values()))
    test["n_canary"] = 1.9
    write_state(doc)
    r = CliRunner().invoke(cli, ["rollout", "--stage", "canary-25", "--metrics",
                                 "monitoring/canary-25-40m.json", "--elapsed", "40m"])
    fails_clearly(r, "gate-report/rollout-state.json", "n_canary")


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"{not json", b"[]", b"null",
                                     b'{"kind": "gate.rollout-state", "version": 1, '
                                     b'"model": {"name": "a", "version": "1"}, "stages": '
                                     b'{"s": {}}, "stages": {}}'])
def test_an_unreadable_state_file_is_an_error(content: bytes) -> None:
    state_after_a_poll()
    Path("gate-report/rollout-state.json").write_bytes(content)
    fails_clearly(poll(), "gate-report/rollout-state.json")


def test_a_state_with_a_utc_offset_continues_the_bake_clock() -> None:
    doc = state_after_a_poll()
    doc["stages"]["canary-5"]["first_poll_at"] = "2000-01-01T00:00:00Z"
    write_state(doc)
    r = poll()  # no --elapsed: the clock is the first poll, long ago
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "cannot read the monitoring file: it is a named pipe (FIFO), not a regular file"),
    ("folder", "cannot read the monitoring file: it is a folder, not a regular file"),
    ("latin-1", "the monitoring file is not UTF-8 text"),
])
def test_a_monitoring_file_that_is_no_text_file_is_refused(
        kind: str, message: str, tmp_path: Path) -> None:
    """--metrics is read like every document: a named pipe is refused (never waited on),
    and bytes that are not UTF-8 are an error naming the file, not a guess."""
    path = tmp_path / "m.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_bytes('{"canary": {"lat": [1]}, "baseline": {"lat": ["\xe9"]}}'
                         .encode("latin-1"))
    with pytest.raises(DocumentError) as e:
        read_monitoring([path], shown=["m.json"])
    assert message in e.value.message and e.value.path == "m.json"


def test_a_state_file_that_is_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    state = tmp_path / "rollout-state.json"
    os.mkfifo(state)
    with pytest.raises(RolloutError) as e:
        load_state(state, "gate-report/rollout-state.json", model_name="m", model_version="2")
    assert e.value.message == ("cannot read the rollout state: it is a named pipe (FIFO), "
                               "not a regular file")
    assert e.value.path == "gate-report/rollout-state.json"
