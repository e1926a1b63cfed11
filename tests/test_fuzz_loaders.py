"""Random and mutated sources never escape the loaders as anything but a GateError.

Each loader either returns data that fits the input schema, or raises a
GateError subclass (which the CLI renders without a traceback). Documents are
built from the keys the readers look for, so the fuzzing reaches deep paths.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import lzma
import math
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.bundle import LINEAGE_READERS, REPORT_READERS, load_lineage, load_report
from gate.bundle.artifacts import detect_format, load_artifacts
from gate.bundle.compare import compare
from gate.bundle.formats.card import load_card
from gate.documents import InputFiles
from gate.errors import GateError
from gate.schemas import validate

pytestmark = pytest.mark.slow  # Hypothesis: hundreds of examples per test

KEYS = [
    # lineage (native and OpenLineage)
    "run", "id", "started_at", "ended_at", "producer", "code", "repository", "commit",
    "datasets", "outputs", "name", "uri", "sha256", "role", "eventType", "eventTime",
    "runId", "job", "facets", "inputs", "namespace", "inputFacets", "outputFacets",
    "gate_role", "gate_digest", "version", "datasetVersion", "sourceCodeLocation", "url",
    "repoUrl", "gate_code",
    # evaluation (native and Hugging Face)
    "model_version", "metrics", "slices", "count", "model-index", "results", "dataset",
    "type", "value", "config", "split",
]
SCALARS = (
    st.none() | st.booleans() | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["START", "COMPLETE", "train", "test", "a" * 64, "sha256:" + "b" * 64,
                       "0.9", "0.9 ± 0.1", "", "x"])
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)

SEEDS: list[Any] = [
    {"run": {"id": "r", "started_at": "t"}, "code": {"repository": "g", "commit": "c"},
     "datasets": [{"name": "d", "uri": "s3://d", "sha256": "a" * 64, "role": "train"}],
     "outputs": [{"name": "m", "sha256": None}]},
    [{"eventType": "START", "eventTime": "t0", "producer": "p", "run": {"runId": "r"},
      "job": {"namespace": "n", "name": "j",
              "facets": {"sourceCodeLocation": {"url": "u", "version": "v"}}},
      "inputs": [{"namespace": "s3://b", "name": "x",
                  "facets": {"gate_role": {"role": "train"},
                             "version": {"datasetVersion": "c" * 64}}}]},
     {"eventType": "COMPLETE", "eventTime": "t1", "run": {"runId": "r"},
      "outputs": [{"namespace": "s3://m", "name": "y",
                   "outputFacets": {"gate_digest": {"sha256": "d" * 64}}}]}],
    {"model_version": "1", "metrics": {"auc": 0.9},
     "slices": [{"name": "eu", "metrics": {"auc": 0.8}, "count": 3}]},
    {"model-index": [{"name": "m", "results": [
        {"dataset": {"type": "t", "config": "c", "split": "s"},
         "metrics": [{"type": "acc", "value": 0.9}, {"type": "f1", "value": "0.8"}]},
        {"dataset": {"type": "t", "split": "v"}, "metrics": [{"type": "acc", "value": 1}]}]}]},
]

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _places(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a document, so one can be replaced or removed."""
    found: list[tuple[Any, Any]] = []
    if isinstance(doc, dict):
        items: Any = doc.items()
    else:
        items = enumerate(doc) if isinstance(doc, list) else ()
    for key, child in items:
        found.append((doc, key))
        found.extend(_places(child))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A seed document with a few subtrees replaced, removed or retyped."""
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        places = _places(doc)
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        if draw(st.booleans()):
            container[key] = draw(JSON)
        elif isinstance(container, dict):
            del container[key]
        else:
            container[key] = [container[key]]
    return doc


def _input(part: str, value: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "model": {"name": "m", "version": "1", "card": {}, "artifacts": []},
        "lineage": {"run": {}, "code": {}, "datasets": [], "outputs": [], "raw": None},
        "evaluation": {"metrics": {}, "slices": [], "baseline": None, "comparison": {}},
        "validations": [], "rollout": None, "ci": {"platform": "local"},
    }
    doc[part] = value
    return doc


def _lineage_or_gate_error(doc: Any) -> None:
    for reader in LINEAGE_READERS.values():
        try:
            got = reader.read(doc, "lineage.json", "lineage")
        except GateError:
            continue
        validate(_input("lineage", got), "input", path=None, what="fuzzed lineage")


def _report_or_gate_error(doc: Any) -> None:
    for reader in REPORT_READERS.values():
        try:
            got = reader.read(doc, "eval.json", "evaluation report")
        except GateError:
            continue
        evaluation = {**got, "baseline": None, "comparison": {}}
        validate(_input("evaluation", evaluation), "input", path=None, what="fuzzed report")


@FAST
@given(doc=JSON | mutated())
def test_lineage_readers(doc: Any) -> None:
    _lineage_or_gate_error(doc)


@FAST
@given(doc=JSON | mutated())
def test_report_readers(doc: Any) -> None:
    _report_or_gate_error(doc)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    # Module-scoped (not tmp_path) so Hypothesis may reuse it across examples.
    path = Path(tempfile.mkdtemp(prefix="gate-fuzz-"))
    yield path
    shutil.rmtree(path)


TEXT = (
    st.text(max_size=200)
    | JSON.map(json.dumps)
    | mutated().map(json.dumps)
    | mutated().map(lambda d: "\n".join(json.dumps(e) for e in d) if isinstance(d, list) else "")
    | st.lists(st.sampled_from(["---", "a: &x [1, 2]", "b: [*x, *x]", "- 1", "k: {", "'",
                                "model-index:", "  - results: []", "\t", "key: value"]),
               max_size=8).map("\n".join)
)


@settings(FAST, max_examples=200)
@given(text=TEXT | st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
       suffix=st.sampled_from([".json", ".yaml", ".md", ".jsonl", ".txt"]))
def test_files_of_any_text(folder: Path, text: str, suffix: str) -> None:
    name = f"doc{suffix}"
    (folder / name).write_text(text, "utf-8")
    files = InputFiles(folder)
    with contextlib.suppress(GateError):
        load_card(files, name)
    with contextlib.suppress(GateError):
        load_lineage(files, name)
    with contextlib.suppress(GateError):
        load_report(files, name, "evaluation report")


METRIC_LINE = st.one_of(
    st.tuples(st.integers(-5, 10**13), st.floats(allow_nan=True), st.integers(-5, 5)).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.text(max_size=20),
)


@settings(FAST, max_examples=100)
@given(lines=st.lists(METRIC_LINE, max_size=6), name=st.sampled_from(["acc", "a/b"]))
def test_mlflow_metric_files(folder: Path, lines: list[str], name: str) -> None:
    run = folder / "run"
    shutil.rmtree(run, ignore_errors=True)
    (run / "metrics" / name).parent.mkdir(parents=True)
    (run / "metrics" / name).write_text("\n".join(lines), "utf-8")
    try:
        got = load_report(InputFiles(folder), "run", "evaluation report")
    except GateError:
        return
    assert all(math.isfinite(v) for v in got["metrics"].values())


MAGIC = st.sampled_from([
    b"", b"GGUF", b"\x89HDF\r\n\x1a\n", b"PK\x03\x04", b"PK\x05\x06", b"\x80\x04", b"\x80\x02",
    b"\x1f\x8b", b"\x78\x9c", b"\xfd7zXZ\x00", b"]\x00\x00", b"BZh", b"\x08\x07", b"\x12\x7f",
    struct.pack("<Q", 16) + b"{", b"\x1c\x00\x00\x00TFL3",
    gzip.compress(b"\x80\x04rest")[:12], zlib.compress(b"\x80\x03")[:4],
    lzma.compress(b"\x80\x05")[:20],
])
ARTIFACT_NAMES = st.sampled_from(["m.onnx", "m.pkl", "m.joblib", "m.keras", "m.pt", "m.bin",
                                  "m.tflite", "m.safetensors", "m"])
FORMATS = {"onnx", "safetensors", "pickle", "joblib", "pytorch", "keras_h5", "keras", "gguf",
           "tflite", "zip", "unknown"}


@settings(FAST, max_examples=300)
@given(magic=MAGIC, tail=st.binary(max_size=300), name=ARTIFACT_NAMES)
def test_artifact_detection_never_fails(folder: Path, magic: bytes, tail: bytes,
                                        name: str) -> None:
    (folder / "art").mkdir(exist_ok=True)
    (folder / "art" / name).write_bytes(magic + tail)
    head = (magic + tail)[:65536]
    assert detect_format(folder / "art" / name, head, len(magic + tail)) in FORMATS
    [entry] = load_artifacts(InputFiles(folder), [f"art/{name}"])
    assert entry["format"] in FORMATS
    (folder / "art" / name).unlink()


NUMBERS = st.integers(-(10**400), 10**400) | st.floats(allow_nan=False, allow_infinity=False)


@settings(FAST, max_examples=300)
@given(cand=st.dictionaries(st.sampled_from("abcd"), NUMBERS),
       base=st.dictionaries(st.sampled_from("abcd"), NUMBERS))
def test_compare_is_total(cand: dict[str, Any], base: dict[str, Any]) -> None:
    try:
        got = compare(cand, base, path="base.json")
    except GateError:
        return
    assert set(got) == set(cand) & set(base)
    for entry in got.values():
        rel = entry["relative_delta"]
        assert rel is None or math.isfinite(rel)
        assert not isinstance(entry["delta"], float) or math.isfinite(entry["delta"])
