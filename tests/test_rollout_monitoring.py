"""Reading monitoring samples: the native form and Prometheus HTTP API responses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from gate.errors import DocumentError
from gate.rollout.monitoring import read_monitoring


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if path.suffix == ".json" else doc, "utf-8")
    return path


def prom(kind: str, result: Any, status: str = "success") -> dict[str, Any]:
    return {"status": status, "data": {"resultType": kind, "result": result}}


VECTOR = prom("vector", [
    {"metric": {"pod": "a"}, "value": [1795000000.1, "0.25"]},
    {"metric": {"pod": "b"}, "value": [1795000000.1, "0.5"]},
])
MATRIX = prom("matrix", [
    {"metric": {"pod": "a"}, "values": [[1, "1"], [2, "NaN"], [3, "3"]]},
    {"metric": {"pod": "b"}, "values": [[1, "+Inf"], [2, "5e-1"]]},
])


def test_native_json_and_yaml(tmp_path: Path) -> None:
    j = write(tmp_path / "a.json", {"source": "test", "canary": {"lat": [1, 2.5]},
                                    "baseline": {"lat": [3]}})
    y = write(tmp_path / "b.yaml", "canary:\n  err: [0, 1]\n")
    m = read_monitoring([j, y], shown=["a.json", "b.yaml"])
    assert m.canary == {"lat": [1.0, 2.5], "err": [0.0, 1.0]} and m.baseline == {"lat": [3.0]}
    assert m.files[0] == {"path": "a.json",
                          "sha256": hashlib.sha256(j.read_bytes()).hexdigest()}


def test_prometheus_vector_matrix_scalar(tmp_path: Path) -> None:
    f = write(tmp_path / "m.json", {
        "canary": {"v": VECTOR, "m": MATRIX, "s": prom("scalar", [1795000000, "7"])},
    })
    m = read_monitoring([f])
    assert m.canary == {"v": [0.25, 0.5], "m": [1.0, 3.0, 0.5], "s": [7.0]}
    assert m.dropped == {"canary.m": 2}  # NaN and +Inf


def test_prometheus_response_in_its_own_file(tmp_path: Path) -> None:
    write(tmp_path / "prom" / "lat.json", MATRIX)
    f = write(tmp_path / "m.json", {"canary": {"lat": "prom/lat.json"}})
    m = read_monitoring([f], shown=["m.json"])
    assert m.canary["lat"] == [1.0, 3.0, 0.5]
    assert [x["path"] for x in m.files] == ["m.json", "prom/lat.json"]


@pytest.mark.parametrize(
    ("doc", "message", "pointer"),
    [
        ([1, 2], "must be a mapping with canary and baseline", "$"),
        ({"canary": {"lat": [1, "2"]}}, "expected a number, found str '2'", "$.canary.lat[1]"),
        ({"canary": {"lat": [True]}}, "expected a number", "$.canary.lat[0]"),
        ({"canaries": {}}, "unknown key 'canaries'", "$.canaries"),
        ({"canary": [1]}, "canary must map metric names", "$.canary"),
        ({"canary": {"lat": 3}}, "a list of numbers, a Prometheus response", "$.canary.lat"),
        ({"canary": {"lat": prom("vector", [], status="error") | {"errorType": "bad_data",
                                                                   "error": "parse error"}}},
         "the Prometheus response is an error (bad_data): parse error", "$.canary.lat"),
        ({"canary": {"lat": prom("string", [1, "x"])}}, "resultType 'string' is not supported",
         "$.canary.lat.data.resultType"),
        ({"canary": {"lat": prom("vector", [{"metric": {}, "histogram": [1, {}]}])}},
         "native histograms are not samples", "$.canary.lat.data.result[0]"),
        ({"canary": {"lat": prom("matrix", [{"values": [[1, "x"]]}])}},
         "sample value 'x' is not a number", "$.canary.lat"),
    ],
)
def test_errors_name_the_file_and_place(tmp_path: Path, doc: Any, message: str,
                                        pointer: str) -> None:
    f = write(tmp_path / "m.json", doc)
    with pytest.raises(DocumentError) as e:
        read_monitoring([f], shown=["m.json"])
    assert message in e.value.message
    assert (e.value.path, e.value.pointer or "") == ("m.json", pointer)
    assert e.value.hint


def test_a_metric_given_twice_is_an_error(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", {"canary": {"lat": [1]}})
    b = write(tmp_path / "b.json", {"canary": {"lat": [2]}})
    with pytest.raises(DocumentError, match="more than one file"):
        read_monitoring([a, b])


def test_a_reference_may_not_leave_the_folder(tmp_path: Path) -> None:
    write(tmp_path / "secret.json", MATRIX)
    f = write(tmp_path / "in" / "m.json", {"canary": {"lat": "../secret.json"}})
    with pytest.raises(DocumentError, match="leaves the bundle folder"):
        read_monitoring([f])


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="monitoring file not found") as e:
        read_monitoring([tmp_path / "nope.json"], shown=["nope.json"])
    assert e.value.path == "nope.json"
    bad = tmp_path / "bad.json"
    bad.write_text('{"canary": ', "utf-8")
    with pytest.raises(DocumentError, match="not valid JSON") as e:
        read_monitoring([bad], shown=["bad.json"])
    assert (e.value.path, e.value.line) == ("bad.json", 1)
