"""The bundle loaders, one format at a time, on real files written to tmp_path."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import pickle
import struct
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.bundle import load_bundle, load_evaluation, load_lineage, load_report
from gate.bundle.artifacts import TORCH_LEGACY, load_artifacts, sha256_file
from gate.bundle.compare import compare
from gate.bundle.formats.card import load_card, read_card
from gate.documents import InputFiles
from gate.errors import BundleError, DocumentError
from gate.manifest import load_manifest
from gate.schemas import validate

SHA_A = "a" * 64
SHA_B = "b" * 64


def write(root: Path, rel: str, content: str | bytes | Any) -> Path:
    """Write text, bytes, or (for anything else) JSON to root/rel."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def safetensors_bytes() -> bytes:
    """A real safetensors file: u64 LE header length, JSON header, raw tensor data."""
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    header = {
        "__metadata__": {"format": "pt"},
        "weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, len(data)]},
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    return struct.pack("<Q", len(raw)) + raw + data


def onnx_bytes() -> bytes:
    """A minimal protobuf ModelProto: ir_version 8, producer_name, an empty graph."""
    return b"\x08\x08" + b"\x12\x04gate" + b"\x3a\x00"


def zip_bytes(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, b"x")
    return buf.getvalue()


def artifact(tmp_path: Path, name: str, content: bytes) -> dict[str, Any]:
    write(tmp_path, name, content)
    [entry] = load_artifacts(InputFiles(tmp_path), [name])
    return entry


# --- artifacts ------------------------------------------------------------------------------


def test_safetensors_file_is_hashed_and_recognised(tmp_path: Path) -> None:
    content = safetensors_bytes()
    entry = artifact(tmp_path, "model.safetensors", content)
    assert entry == {
        "path": "model.safetensors",
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
        "format": "safetensors",
    }


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_real_pickle_is_pickle_even_when_named_onnx(tmp_path: Path, protocol: int) -> None:
    content = pickle.dumps({"weights": [1.0, 2.0], "bias": None}, protocol=protocol)
    assert artifact(tmp_path, "model.pkl", content)["format"] == "pickle"
    assert artifact(tmp_path, "model.onnx", content)["format"] == "pickle"
    assert artifact(tmp_path, "model.safetensors", content)["format"] == "pickle"


@pytest.mark.parametrize(
    "compress",
    [zlib.compress, gzip.compress, lzma.compress, bz2.compress,
     lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)],
)
def test_compressed_pickle_is_joblib_whatever_its_name(tmp_path: Path, compress: Any) -> None:
    content = compress(pickle.dumps(list(range(100)), protocol=4))
    assert artifact(tmp_path, "model.joblib", content)["format"] == "joblib"
    assert artifact(tmp_path, "model.bin", content)["format"] == "joblib"


def test_joblib_by_extension_or_marker(tmp_path: Path) -> None:
    plain = pickle.dumps({"a": 1}, protocol=4)
    assert artifact(tmp_path, "clf.joblib", plain)["format"] == "joblib"
    marked = pickle.dumps({"cls": "joblib.numpy_pickle NumpyArrayWrapper"}, protocol=4)
    assert artifact(tmp_path, "clf.onnx", marked)["format"] == "joblib"
    # A compressed file that is not a pickle is not joblib.
    assert artifact(tmp_path, "notes.gz", gzip.compress(b"hello"))["format"] == "unknown"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("model.pt", zip_bytes(["archive/data.pkl", "archive/version", "archive/data/0"]),
         "pytorch"),
        ("model.bin", zip_bytes(["m/data.pkl"]), "pytorch"),
        ("model.pt", TORCH_LEGACY + b"\x2e" + pickle.dumps(1, protocol=2), "pytorch"),
        ("model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "keras_h5"),
        ("weights.bin", b"\0" * 512 + b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "keras_h5"),
        ("model.keras", zip_bytes(["metadata.json", "config.json", "model.weights.h5"]), "keras"),
        ("model.zip", zip_bytes(["config.json", "model.weights.h5"]), "keras"),
        ("model.keras", zip_bytes(["something.txt"]), "keras"),
        ("bundle.zip", zip_bytes(["a.txt", "b/c.txt"]), "zip"),
        ("model.gguf", b"GGUF\x03\x00\x00\x00" + b"\0" * 16, "gguf"),
        ("model.bin", b"\x1c\x00\x00\x00TFL3" + b"\0" * 32, "tflite"),
        ("model.onnx", onnx_bytes(), "onnx"),
        ("model.onnx", b"\x12\x04gate\x3a\x00", "onnx"),
        ("model.onnx", b"this is not protobuf", "unknown"),
        ("model.onnx", b"\x08\xff\xff\xff\x7f", "unknown"),
        ("model.bin", onnx_bytes(), "unknown"),
        ("broken.zip", b"PK\x03\x04 not really a zip", "unknown"),
        ("empty.bin", b"", "unknown"),
        ("readme.txt", b"hello", "unknown"),
        ("old.pkl", b"(lp0\nI1\na.", "pickle"),
    ],
)
def test_format_detection(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    assert artifact(tmp_path, name, content)["format"] == expected


def test_safetensors_header_that_starts_like_a_pickle(tmp_path: Path) -> None:
    header = b"{" + b" " * (0x0380 - 1)  # length 0x0380: the file starts with 80 03
    content = struct.pack("<Q", len(header)) + header + b"\0" * 16
    assert content[:2] == b"\x80\x03"
    assert artifact(tmp_path, "m.safetensors", content)["format"] == "safetensors"


def test_streaming_digest_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    content = os.urandom(3 * (1 << 20) + 12345)
    path = write(tmp_path, "big.bin", content)
    assert sha256_file(path) == (hashlib.sha256(content).hexdigest(), len(content))


def test_folder_artifact_lists_every_file_sorted_and_records_digests(tmp_path: Path) -> None:
    write(tmp_path, "model/b.bin", b"b")
    write(tmp_path, "model/a/z.bin", b"z")
    write(tmp_path, "model/a.txt", b"a")
    write(tmp_path, "model.onnx", onnx_bytes())
    os.symlink("b.bin", tmp_path / "model/link.bin")  # inside the bundle: allowed
    files = InputFiles(tmp_path)
    entries = load_artifacts(files, ["./model/", "model.onnx", "model/b.bin"])
    assert [e["path"] for e in entries] == [
        "model/a.txt", "model/a/z.bin", "model/b.bin", "model/link.bin", "model.onnx"
    ]
    assert entries[3]["sha256"] == hashlib.sha256(b"b").hexdigest()
    assert files.records["model/a/z.bin"].sha256 == hashlib.sha256(b"z").hexdigest()
    assert files.records["model/a/z.bin"].role == "model artifact"


def test_folder_artifact_refuses_symlink_leaving_the_bundle(tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.bin", b"s")
    write(tmp_path, "bundle/model/ok.bin", b"o")
    os.symlink(outside, tmp_path / "bundle/model/escape.bin")
    with pytest.raises(BundleError) as e:
        load_artifacts(InputFiles(tmp_path / "bundle"), ["model"])
    assert e.value.path == "model/escape.bin"
    assert "outside the bundle" in e.value.message


def test_folder_artifact_refuses_symlinked_folder_leaving_the_bundle(tmp_path: Path) -> None:
    write(tmp_path, "outside/secret.bin", b"s")
    write(tmp_path, "bundle/model/ok.bin", b"o")
    os.symlink(tmp_path / "outside", tmp_path / "bundle/model/data")
    with pytest.raises(BundleError) as e:
        load_artifacts(InputFiles(tmp_path / "bundle"), ["model"])
    assert e.value.path == "model/data"


def test_folder_artifact_with_a_link_loop_terminates(tmp_path: Path) -> None:
    write(tmp_path, "model/w.bin", b"w")
    os.symlink("..", tmp_path / "model/up")  # back to the bundle root: inside, but a loop
    paths = [e["path"] for e in load_artifacts(InputFiles(tmp_path), ["model"])]
    assert "model/w.bin" in paths


@pytest.mark.parametrize(
    ("rel", "words"),
    [("../x.bin", "'..'"), ("/etc/passwd", "absolute"), ("missing.bin", "not found")],
)
def test_artifact_path_errors(tmp_path: Path, rel: str, words: str) -> None:
    with pytest.raises(BundleError) as e:
        load_artifacts(InputFiles(tmp_path), [rel])
    assert words in e.value.message
    assert e.value.path == rel


def test_empty_folder_artifact_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    with pytest.raises(BundleError, match="holds no files"):
        load_artifacts(InputFiles(tmp_path), ["model"])


def test_fifo_artifact_is_refused_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(BundleError, match="not a regular file"):
        load_artifacts(InputFiles(tmp_path), ["pipe"])


# --- model card -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("card.yaml", "license: mit\ntags: [fraud]\n"),
        ("card.json", '{"license": "mit", "tags": ["fraud"]}'),
        ("README.md", "---\nlicense: mit\ntags:\n  - fraud\n---\n# Fraud detector\n"),
    ],
)
def test_card_formats(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path, name, text)
    assert load_card(InputFiles(tmp_path), name) == {"license": "mit", "tags": ["fraud"]}


def test_card_without_front_matter_or_empty_is_empty_mapping(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# Just prose\n")
    write(tmp_path, "card.yaml", "")
    assert load_card(InputFiles(tmp_path), "README.md") == {}
    assert load_card(InputFiles(tmp_path), "card.yaml") == {}


def test_card_that_is_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "cards/card.yaml", "- a\n- b\n")
    with pytest.raises(DocumentError) as e:
        load_card(InputFiles(tmp_path), "cards/card.yaml")
    assert e.value.path == "cards/card.yaml"
    assert "mapping" in e.value.message


def test_card_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "card.md", "---\nlicense: [mit\nname: x\n---\n")
    with pytest.raises(DocumentError) as e:
        load_card(InputFiles(tmp_path), "card.md")
    assert e.value.path == "card.md"
    assert e.value.line is not None


def test_card_yaml_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]")
    write(tmp_path, "card.yaml", "\n".join(lines) + "\n")
    started = time.perf_counter()
    with pytest.raises(DocumentError) as e:
        load_card(InputFiles(tmp_path), "card.yaml")
    assert time.perf_counter() - started < 0.5
    assert e.value.path == "card.yaml"


def test_card_symlink_escape(tmp_path: Path) -> None:
    write(tmp_path, "outside.yaml", "a: 1\n")
    (tmp_path / "bundle").mkdir()
    os.symlink(tmp_path / "outside.yaml", tmp_path / "bundle/card.yaml")
    with pytest.raises(BundleError, match="symlink"):
        load_card(InputFiles(tmp_path / "bundle"), "card.yaml")


def test_card_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "card").mkdir()
    with pytest.raises(BundleError, match="expected a file"):
        load_card(InputFiles(tmp_path), "card")


# --- lineage --------------------------------------------------------------------------------


NATIVE_LINEAGE = {
    "run": {"id": "run-7", "started_at": "2024-05-01T10:00:00Z", "extra": 1},
    "code": {"repository": "https://git.example/fraud", "commit": "abc123"},
    "datasets": [
        {"name": "train", "uri": "s3://d/train.parquet", "sha256": SHA_A, "role": "train"},
        {"name": "holdout"},
    ],
    "outputs": [{"name": "model", "sha256": SHA_B}],
}


def test_native_lineage_is_normalised_and_raw_kept(tmp_path: Path) -> None:
    write(tmp_path, "lineage.yaml", yaml.safe_dump(NATIVE_LINEAGE))
    got = load_lineage(InputFiles(tmp_path), "lineage.yaml")
    assert got["run"] == {"id": "run-7", "started_at": "2024-05-01T10:00:00Z",
                          "ended_at": None, "producer": None}
    assert got["datasets"][1] == {"name": "holdout", "uri": None, "sha256": None, "role": "other",
                                  "role_from": None}
    assert got["outputs"] == [{"name": "model", "uri": None, "sha256": SHA_B}]
    assert got["raw"] == NATIVE_LINEAGE


def test_native_lineage_schema_error_names_json_path(tmp_path: Path) -> None:
    doc = {"datasets": [{"name": "train", "role": "training"}]}
    write(tmp_path, "lin/lineage.json", doc)
    with pytest.raises(DocumentError) as e:
        load_lineage(InputFiles(tmp_path), "lin/lineage.json")
    assert e.value.path == "lin/lineage.json"
    assert e.value.pointer == "$.datasets[0].role"
    assert "$.datasets[0].role" in e.value.message


def test_lineage_malformed_json_names_line(tmp_path: Path) -> None:
    write(tmp_path, "lineage.json", '{"run": {"id": "x",}}')
    with pytest.raises(DocumentError) as e:
        load_lineage(InputFiles(tmp_path), "lineage.json")
    assert e.value.path == "lineage.json"
    assert e.value.line == 1


def ol_event(kind: str, time_: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventType": kind,
        "eventTime": time_,
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.0/client/python",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
        "job": {"namespace": "ml", "name": "train-fraud"},
        **extra,
    }


OL_INPUTS = [
    {"namespace": "s3://data", "name": "/fraud/train.parquet",
     "facets": {"gate_role": {"role": "train"}, "gate_digest": {"sha256": SHA_A}}},
    {"namespace": "s3://data/", "name": "fraud/test.parquet",
     "inputFacets": {"gate_role": {"role": "test"}},
     "facets": {"version": {"datasetVersion": "sha256:" + SHA_B.upper()}}},
    {"namespace": "postgres://db", "name": "public.labels",
     "facets": {"version": {"datasetVersion": "v12"}}},
]


def test_openlineage_events_start_and_complete(tmp_path: Path) -> None:
    events = [
        ol_event("START", "2024-05-01T10:00:00Z", inputs=OL_INPUTS[:1]),
        ol_event(
            "COMPLETE", "2024-05-01T11:00:00Z", inputs=OL_INPUTS,
            outputs=[{"namespace": "s3://models", "name": "fraud/2.4.0",
                      "outputFacets": {"gate_digest": {"sha256": SHA_B}}}],
            job={"namespace": "ml", "name": "train-fraud", "facets": {"sourceCodeLocation": {
                "type": "git", "url": "https://git.example/fraud/blob/main/train.py",
                "repoUrl": "https://git.example/fraud", "version": "abc123"}}},
        ),
    ]
    write(tmp_path, "lineage.json", events)
    got = load_lineage(InputFiles(tmp_path), "lineage.json")
    assert got["run"] == {"id": "3f5e83fa-3480-44ff-99c5-ff943904e5e8",
                          "started_at": "2024-05-01T10:00:00Z",
                          "ended_at": "2024-05-01T11:00:00Z",
                          "producer": events[0]["producer"]}
    assert got["code"] == {"repository": "https://git.example/fraud", "commit": "abc123"}
    assert got["datasets"] == [
        {"name": "/fraud/train.parquet", "uri": "s3://data/fraud/train.parquet",
         "sha256": SHA_A, "role": "train", "role_from": "gate_role"},
        {"name": "fraud/test.parquet", "uri": "s3://data/fraud/test.parquet",
         "sha256": SHA_B, "role": "test", "role_from": "gate_role"},
        # No role given: an input of a job named train-fraud is training data.
        {"name": "public.labels", "uri": "postgres://db/public.labels",
         "sha256": None, "role": "train", "role_from": "job"},
    ]
    assert got["outputs"] == [{"name": "fraud/2.4.0", "uri": "s3://models/fraud/2.4.0",
                               "sha256": SHA_B}]
    assert got["raw"] == events


def test_openlineage_single_event_and_gate_code_facet(tmp_path: Path) -> None:
    event = ol_event("COMPLETE", "2024-05-01T11:00:00Z")
    event["run"]["facets"] = {"gate_code": {"repository": "https://git.example/r", "commit": "f00"}}
    write(tmp_path, "run.yaml", yaml.safe_dump(event))
    got = load_lineage(InputFiles(tmp_path), "run.yaml")
    assert got["code"] == {"repository": "https://git.example/r", "commit": "f00"}
    assert got["run"]["started_at"] is None
    assert got["datasets"] == [] and got["outputs"] == []
    assert got["raw"] == event


@pytest.mark.parametrize("name", ["events.jsonl", "events.json", "events.ndjson"])
def test_openlineage_json_lines(tmp_path: Path, name: str) -> None:
    lines = [ol_event("START", "t0"), ol_event("RUNNING", "t1"), ol_event("COMPLETE", "t2")]
    write(tmp_path, name, "\n".join(json.dumps(e) for e in lines) + "\n")
    got = load_lineage(InputFiles(tmp_path), name)
    assert (got["run"]["started_at"], got["run"]["ended_at"]) == ("t0", "t2")
    assert got["raw"] == lines


def count_reads(files: InputFiles, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files ``files`` reads from now on, in order (a file read twice is there twice)."""
    reads: list[Path] = []
    read_bytes = files.read_bytes

    def counted(path: Path, role: str) -> bytes:
        reads.append(path)
        return read_bytes(path, role)

    monkeypatch.setattr(files, "read_bytes", counted)
    return reads


def test_json_lines_under_a_json_name_are_read_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [ol_event("START", "t0"), ol_event("COMPLETE", "t1")]
    write(tmp_path, "events.json", "\n".join(json.dumps(e) for e in lines) + "\n")
    files = InputFiles(tmp_path)
    reads = count_reads(files, monkeypatch)
    assert load_lineage(files, "events.json")["raw"] == lines  # not JSON: JSON lines, then
    assert reads == [tmp_path.resolve() / "events.json"]


def test_openlineage_failed_run_has_no_end(tmp_path: Path) -> None:
    write(tmp_path, "l.json", [ol_event("START", "t0"), ol_event("FAIL", "t1")])
    assert load_lineage(InputFiles(tmp_path), "l.json")["run"]["ended_at"] is None


def test_openlineage_two_unrelated_runs_are_refused(tmp_path: Path) -> None:
    other = ol_event("COMPLETE", "t1")
    other["run"] = {"runId": "another"}
    write(tmp_path, "l.json", [ol_event("START", "t0"), other])
    with pytest.raises(BundleError) as e:
        load_lineage(InputFiles(tmp_path), "l.json")
    assert e.value.path == "l.json"
    assert "the log holds 2 runs" in e.value.message
    assert "another (job train-fraud)" in e.value.message
    assert "run_id" in e.value.hint


def test_openlineage_missing_run_id_names_place(tmp_path: Path) -> None:
    event = ol_event("START", "t0")
    event["run"] = {"facets": {}}
    write(tmp_path, "l.json", [ol_event("START", "t0"), event])
    with pytest.raises(DocumentError) as e:
        load_lineage(InputFiles(tmp_path), "l.json")
    assert e.value.path == "l.json"
    assert e.value.pointer == "$[1].run"
    assert "runId" in e.value.message


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda e: e["inputs"][0].update(name=7), "$.inputs[0].name"),
        (lambda e: e["inputs"][0]["facets"]["gate_role"].update(role="training"),
         "$.inputs[0].facets.gate_role.role"),
        (lambda e: e["inputs"][0]["facets"]["gate_digest"].update(sha256="abc"),
         "$.inputs[0].facets.gate_digest.sha256"),
        (lambda e: e.update(inputs={"a": 1}), "$.inputs"),
        (lambda e: e.update(eventTime=5), "$.eventTime"),
    ],
)
def test_openlineage_wrong_types_name_place(tmp_path: Path, mutate: Any, pointer: str) -> None:
    event = ol_event("COMPLETE", "t", inputs=json.loads(json.dumps(OL_INPUTS)))
    mutate(event)
    write(tmp_path, "l.json", event)
    with pytest.raises(DocumentError) as e:
        load_lineage(InputFiles(tmp_path), "l.json")
    assert (e.value.path, e.value.pointer) == ("l.json", pointer)


def test_openlineage_conflicting_digests(tmp_path: Path) -> None:
    first = {"namespace": "s3://d", "name": "x", "facets": {"gate_digest": {"sha256": SHA_A}}}
    second = {"namespace": "s3://d", "name": "x", "facets": {"gate_digest": {"sha256": SHA_B}}}
    write(tmp_path, "l.json", [ol_event("START", "t", inputs=[first]),
                               ol_event("COMPLETE", "t", inputs=[second])])
    with pytest.raises(DocumentError, match="two different sha256"):
        load_lineage(InputFiles(tmp_path), "l.json")


def test_openlineage_empty_list(tmp_path: Path) -> None:
    write(tmp_path, "l.json", [])
    with pytest.raises(DocumentError, match="no events"):
        load_lineage(InputFiles(tmp_path), "l.json")


# --- evaluation reports ---------------------------------------------------------------------


def test_native_report_drops_extras_and_defaults_count(tmp_path: Path) -> None:
    doc = {"model_version": "2.4.0", "metrics": {"auc": 0.91, "n": 10}, "notes": "x",
           "slices": [{"name": "eu", "metrics": {"auc": 0.9}, "extra": True},
                      {"name": "us", "metrics": {}, "count": 40}]}
    write(tmp_path, "eval.yaml", yaml.safe_dump(doc))
    assert load_report(InputFiles(tmp_path), "eval.yaml", "evaluation report") == {
        "model_version": "2.4.0",
        "metrics": {"auc": 0.91, "n": 10},
        "slices": [{"name": "eu", "metrics": {"auc": 0.9}, "count": None},
                   {"name": "us", "metrics": {}, "count": 40}],
    }


@pytest.mark.parametrize(
    ("doc", "pointer"),
    [
        ({"metrics": {"auc": "high"}}, "$.metrics.auc"),
        ({"metrics": {"auc": True}}, "$.metrics.auc"),
        ({"metrics": {}, "slices": [{"name": "", "metrics": {}}]}, "$.slices[0].name"),
        ({"metrics": {}, "slices": [{"name": "a", "metrics": {}, "count": -1}]},
         "$.slices[0].count"),
        ({"metrics": {}, "model_version": 2.4}, "$.model_version"),
        ({"accuracy": 0.9}, "$"),
        ([1, 2], "$"),
    ],
)
def test_native_report_schema_errors(tmp_path: Path, doc: Any, pointer: str) -> None:
    write(tmp_path, "reports/eval.json", doc)
    with pytest.raises(DocumentError) as e:
        load_report(InputFiles(tmp_path), "reports/eval.json", "evaluation report")
    assert (e.value.path, e.value.pointer) == ("reports/eval.json", pointer)
    assert pointer in e.value.message


HF_CARD = """---
license: apache-2.0
model-index:
- name: fraud-bert
  results:
  - task: {type: text-classification}
    dataset: {name: Fraud, type: acme/fraud, config: eu, split: test}
    metrics:
    - {type: accuracy, value: 0.93, name: Accuracy}
    - {type: f1, value: "0.91"}
    - {type: accuracy, value: 0.5}
  - task: {type: text-classification}
    dataset: {name: Fraud, type: acme/fraud, config: us, split: test}
    metrics:
    - {type: accuracy, value: "0.89 ± 0.01"}
---
# Fraud BERT
"""


def test_huggingface_card_metrics_and_slices(tmp_path: Path) -> None:
    write(tmp_path, "README.md", HF_CARD)
    assert load_report(InputFiles(tmp_path), "README.md", "evaluation report") == {
        "model_version": None,
        "metrics": {"accuracy": 0.93, "f1": 0.91},
        "slices": [
            {"name": "eu/test", "metrics": {"accuracy": 0.93, "f1": 0.91}, "count": None},
            {"name": "us/test", "metrics": {"accuracy": 0.89}, "count": None},
        ],
    }


def test_huggingface_single_result_has_no_slices(tmp_path: Path) -> None:
    card = {"model-index": [{"name": "m", "results": [
        {"dataset": {"type": "beans"}, "metrics": [{"type": "accuracy", "value": 0.7},
                                                   {"type": "f1", "value": 1}]}]}]}
    write(tmp_path, "card.yaml", yaml.safe_dump(card))
    got = load_report(InputFiles(tmp_path), "card.yaml", "evaluation report")
    assert got == {"model_version": None, "metrics": {"accuracy": 0.7, "f1": 1}, "slices": []}


def test_huggingface_slices_across_datasets_are_prefixed_and_merged(tmp_path: Path) -> None:
    def result(ds: dict[str, Any], value: float) -> dict[str, Any]:
        return {"dataset": ds, "metrics": [{"type": "wer", "value": value}]}

    card = {"model-index": [{"name": "m", "results": [
        result({"type": "cv", "split": "test"}, 0.1),
        result({"type": "fleurs", "split": "test"}, 0.2),
        result({"type": "fleurs", "split": "test"}, 0.3),
        result({}, 0.4),
    ]}]}
    write(tmp_path, "card.json", card)
    got = load_report(InputFiles(tmp_path), "card.json", "evaluation report")
    # Two results of one dataset and split are one slice; its first value wins.
    assert [(s["name"], s["metrics"]) for s in got["slices"]] == [
        ("cv/test", {"wer": 0.1}), ("fleurs/test", {"wer": 0.2}), ("result-3", {"wer": 0.4})]
    assert got["metrics"] == {"wer": 0.1}


@pytest.mark.parametrize(
    ("value", "pointer"),
    [
        ('"high"', '$["model-index"][0].results[0].metrics[0].value'),
        ("[1, 2]", '$["model-index"][0].results[0].metrics[0].value'),
        ('"1e999"', '$["model-index"][0].results[0].metrics[0].value'),
    ],
)
def test_huggingface_bad_values_name_place(tmp_path: Path, value: str, pointer: str) -> None:
    text = ("---\nmodel-index:\n- name: m\n  results:\n  - metrics:\n"
            f"    - type: accuracy\n      value: {value}\n---\n")
    write(tmp_path, "README.md", text)
    with pytest.raises(DocumentError) as e:
        load_report(InputFiles(tmp_path), "README.md", "evaluation report")
    assert (e.value.path, e.value.pointer) == ("README.md", pointer)


def test_huggingface_infinite_value_names_its_line(tmp_path: Path) -> None:
    # YAML 1.2 reads 1e999 as a number (YAML 1.1 read it as text): an infinity,
    # refused where it is written (line 7 of the file, front matter included).
    text = ("---\nmodel-index:\n- name: m\n  results:\n  - metrics:\n"
            "    - type: accuracy\n      value: 1e999\n---\n")
    write(tmp_path, "README.md", text)
    with pytest.raises(DocumentError, match="not a finite number") as e:
        load_report(InputFiles(tmp_path), "README.md", "evaluation report")
    assert (e.value.path, e.value.line) == ("README.md", 7)


def test_huggingface_results_not_a_list(tmp_path: Path) -> None:
    write(tmp_path, "card.yaml", "model-index:\n- name: m\n  results: {a: 1}\n")
    with pytest.raises(DocumentError) as e:
        load_report(InputFiles(tmp_path), "card.yaml", "evaluation report")
    assert e.value.pointer == '$["model-index"][0].results'


def mlflow_run(root: Path, metrics: dict[str, str], **extra: str) -> None:
    for name, text in metrics.items():
        write(root, f"mlruns/0/abc/metrics/{name}", text)
    for rel, text in extra.items():
        write(root, f"mlruns/0/abc/{rel}", text)


def test_mlflow_run_last_value_by_step_then_timestamp(tmp_path: Path) -> None:
    mlflow_run(
        tmp_path,
        {
            "accuracy": "1700000000000 0.80 0\n1700000005000 0.90 2\n1700000001000 0.99 1\n",
            "loss": "1700000000000 0.5 3\n1700000009000 0.4 3\n1700000001000 0.7 3\n",
            "val/auc": "1700000000000 0.75\n",
            ".hidden": "not a metric",
        },
        **{"meta.yaml": "run_id: abc\nexperiment_id: '0'\nstatus: 3\n",
           "tags/model_version": "2.4.0\n"},
    )
    files = InputFiles(tmp_path)
    got = load_report(files, "mlruns/0/abc", "evaluation report")
    assert got == {"model_version": "2.4.0",
                   "metrics": {"accuracy": 0.9, "loss": 0.4, "val/auc": 0.75}, "slices": []}
    assert "mlruns/0/abc/metrics/val/auc" in files.records
    assert "mlruns/0/abc/meta.yaml" in files.records


@pytest.mark.parametrize(
    ("text", "line"),
    [("1700 0.5 0\nbogus line\n", 2), ("1700 high 0\n", 1), ("1 2 3 4\n", 1),
     ("1700 nan 0\n", 1), ("", None)],
)
def test_mlflow_bad_metric_files(tmp_path: Path, text: str, line: int | None) -> None:
    mlflow_run(tmp_path, {"acc": text})
    with pytest.raises(DocumentError) as e:
        load_report(InputFiles(tmp_path), "mlruns/0/abc", "evaluation report")
    assert (e.value.path, e.value.line) == ("mlruns/0/abc/metrics/acc", line)


def test_mlflow_nan_before_the_last_value_is_fine(tmp_path: Path) -> None:
    mlflow_run(tmp_path, {"loss": "1 nan 0\n2 0.3 1\n"})
    got = load_report(InputFiles(tmp_path), "mlruns/0/abc", "evaluation report")
    assert got["metrics"] == {"loss": 0.3}


def test_mlflow_folder_without_metrics(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    with pytest.raises(BundleError, match="MLflow run") as e:
        load_report(InputFiles(tmp_path), "reports", "evaluation report")
    assert e.value.path == "reports"


def test_mlflow_metric_symlink_escape(tmp_path: Path) -> None:
    write(tmp_path, "outside", "1 0.5 0\n")
    mlflow_run(tmp_path / "b", {"acc": "1 0.5 0\n"})
    os.symlink(tmp_path / "outside", tmp_path / "b/mlruns/0/abc/metrics/leak")
    with pytest.raises(BundleError, match="outside") as e:
        load_report(InputFiles(tmp_path / "b"), "mlruns/0/abc", "evaluation report")
    assert e.value.path == "mlruns/0/abc/metrics/leak"


def test_mlflow_meta_must_be_a_mapping(tmp_path: Path) -> None:
    mlflow_run(tmp_path, {"acc": "1 0.5 0\n"}, **{"meta.yaml": "- just a list\n"})
    with pytest.raises(DocumentError, match=r"meta\.yaml"):
        load_report(InputFiles(tmp_path), "mlruns/0/abc", "evaluation report")


@pytest.mark.parametrize("folders", [16, 17])
def test_mlflow_metrics_nest_at_most_16_folders_metrics_included(tmp_path: Path,
                                                                 folders: int) -> None:
    from gate.bundle.formats.mlflow import MAX_METRIC_DEPTH

    name = "/".join(f"p{i}" for i in range(folders - 1)) + "/auc"  # metrics/ is a folder too
    mlflow_run(tmp_path, {name: "1700000000000 0.5 0\n"})
    if folders <= MAX_METRIC_DEPTH:
        got = load_report(InputFiles(tmp_path), "mlruns/0/abc", "evaluation report")
        assert got["metrics"] == {name: 0.5}  # the longest name the hint allows
        return
    with pytest.raises(BundleError, match="metrics/ nests deeper than 16 folders") as e:
        load_report(InputFiles(tmp_path), "mlruns/0/abc", "evaluation report")
    assert e.value.hint is not None and "at most 16 '/' separated parts" in e.value.hint


def test_an_mlflow_reference_without_mlflow_installed_is_a_bundle_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails as if missing
    with pytest.raises(BundleError) as e:
        load_report(InputFiles(tmp_path), "runs:/abc", "evaluation report", "gate.yaml")
    assert e.value.path == "gate.yaml"
    assert e.value.message == ("evaluation report: 'runs:/abc' is an MLflow reference, and "
                               "MLflow's client is not installed (mlflow)")
    assert e.value.hint is not None and 'pip install "gate[mlflow]"' in e.value.hint


def test_a_registered_version_that_is_not_ready_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from gate.bundle.formats import mlflow_store

    version = SimpleNamespace(name="fraud", version="7", status="PENDING_REGISTRATION",
                              run_id="r1", tags={})
    client = SimpleNamespace(get_model_version=lambda name, v: version)
    monkeypatch.setattr(mlflow_store, "_client", lambda ref, role, manifest: client)
    with pytest.raises(BundleError) as e:
        load_report(InputFiles(tmp_path), "models:/fraud/7", "baseline report", "gate.yaml")
    assert e.value.path == "gate.yaml"
    assert e.value.message == ("baseline report: version 7 of registered model 'fraud' is "
                               "PENDING_REGISTRATION, not READY")


def test_report_missing_and_escaping(tmp_path: Path) -> None:
    files = InputFiles(tmp_path)
    with pytest.raises(BundleError, match="not found"):
        load_report(files, "nope.json", "evaluation report")
    with pytest.raises(BundleError, match=r"'\.\.'"):
        load_report(files, "../eval.json", "evaluation report")


# --- comparison -----------------------------------------------------------------------------


def test_compare_common_metrics_only() -> None:
    cand = {"auc": 0.9, "latency_ms": 12, "new": 1.0}
    base = {"auc": 0.8, "latency_ms": 10, "old": 2.0, "zero": 0}
    cand["zero"] = 0.5
    got = compare(cand, base)
    assert set(got) == {"auc", "latency_ms", "zero"}
    assert got["latency_ms"] == {"candidate": 12, "baseline": 10, "delta": 2,
                                 "relative_delta": 0.2}
    assert got["auc"]["delta"] == pytest.approx(0.1)
    assert got["auc"]["relative_delta"] == pytest.approx(0.125)
    assert got["zero"]["relative_delta"] is None
    assert cand == {"auc": 0.9, "latency_ms": 12, "new": 1.0, "zero": 0.5}  # inputs untouched


def test_compare_negative_baseline_uses_magnitude() -> None:
    got = compare({"m": -1.0}, {"m": -2.0})
    assert got["m"]["delta"] == 1.0
    assert got["m"]["relative_delta"] == 0.5


def test_compare_overflow_is_a_document_error() -> None:
    with pytest.raises(DocumentError) as e:
        compare({"m": 1e308}, {"m": -1e308}, path="base.json")
    assert (e.value.path, e.value.pointer) == ("base.json", "$.metrics.m")
    assert compare({"m": 10**400}, {"m": 1})["m"]["relative_delta"] is None
    assert compare({"m": 1.0}, {"m": 5e-324})["m"]["relative_delta"] is None


# --- the whole bundle -----------------------------------------------------------------------


def full_input(bundle: dict[str, Any]) -> dict[str, Any]:
    return {**bundle, "validations": [], "rollout": None, "ci": {"platform": "local"}}


def test_load_bundle_end_to_end(tmp_path: Path) -> None:
    write(tmp_path, "artifacts/model.safetensors", safetensors_bytes())
    write(tmp_path, "model_card.md", HF_CARD)
    write(tmp_path, "lineage/run.json", [ol_event("START", "t0", inputs=OL_INPUTS),
                                        ol_event("COMPLETE", "t1")])
    write(tmp_path, "reports/eval.json", {"model_version": "2.4.0",
                                          "metrics": {"accuracy": 0.93, "auc": 0.9}})
    write(tmp_path, "reports/production.json", {"model_version": "2.3.1",
                                                "metrics": {"accuracy": 0.9}})
    write(tmp_path, "gate.yaml", yaml.safe_dump({
        "version": 1,
        "model": {"name": "fraud", "version": "2.4.0", "artifacts": ["artifacts/"],
                  "card": "model_card.md"},
        "lineage": "lineage/run.json",
        "evaluation": {"report": "reports/eval.json", "baseline": "reports/production.json"},
    }))
    manifest = load_manifest(tmp_path / "gate.yaml")
    got = load_bundle(manifest)
    validate(full_input(got), "input", path=None, what="the input document")
    assert got["model"]["artifacts"][0]["format"] == "safetensors"
    assert got["model"]["card"]["license"] == "apache-2.0"
    assert got["lineage"]["datasets"][0]["role"] == "train"
    assert got["evaluation"]["model_version"] == "2.4.0"
    assert got["evaluation"]["baseline"]["model_version"] == "2.3.1"
    assert set(got["evaluation"]["comparison"]) == {"accuracy"}
    assert {"model_card.md", "lineage/run.json", "reports/eval.json",
            "reports/production.json", "artifacts/model.safetensors"} <= set(
        manifest.files.records)


def test_load_bundle_without_optional_sources(tmp_path: Path) -> None:
    write(tmp_path, "gate.yaml", "version: 1\nmodel: {name: fraud, version: 2.4.0}\n")
    got = load_bundle(load_manifest(tmp_path / "gate.yaml"))
    validate(full_input(got), "input", path=None, what="the input document")
    assert got == {
        "model": {"name": "fraud", "version": "2.4.0", "card": {}, "card_sections": {},
                  "artifacts": []},
        "lineage": {
            "run": {"id": None, "started_at": None, "ended_at": None, "producer": None},
            "code": {"repository": None, "commit": None},
            "datasets": [], "outputs": [], "raw": None,
        },
        "evaluation": {"model_version": None, "metrics": {}, "slices": [], "baseline": None,
                       "comparison": {}},
    }


def test_baseline_without_report(tmp_path: Path) -> None:
    write(tmp_path, "base.json", {"metrics": {"auc": 0.8}})
    got = load_evaluation(InputFiles(tmp_path), None, "base.json")
    assert got["metrics"] == {} and got["comparison"] == {}
    assert got["baseline"] == {"model_version": None, "metrics": {"auc": 0.8}, "slices": []}


def test_mlflow_baseline_and_native_candidate(tmp_path: Path) -> None:
    mlflow_run(tmp_path, {"auc": "1 0.8 0\n"})
    write(tmp_path, "eval.json", {"metrics": {"auc": 0.9}})
    got = load_evaluation(InputFiles(tmp_path), "eval.json", "mlruns/0/abc")
    assert got["comparison"]["auc"]["delta"] == pytest.approx(0.1)


def test_lineage_symlink_escape(tmp_path: Path) -> None:
    write(tmp_path, "secret.json", {"run": {}})
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "secret.json", tmp_path / "b/lineage.json")
    with pytest.raises(BundleError, match="symlink") as e:
        load_lineage(InputFiles(tmp_path / "b"), "lineage.json")
    assert e.value.path == "lineage.json"


def test_artifact_file_name_that_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    with open(os.fsencode(tmp_path / "model") + b"/bad\xffname.bin", "wb") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match="not printable") as e:
        load_artifacts(InputFiles(tmp_path), ["model"])
    assert e.value.path is not None and e.value.path.startswith("model/bad")


def test_large_bz2_joblib_is_recognised(tmp_path: Path) -> None:
    content = bz2.compress(pickle.dumps(os.urandom(300_000), protocol=4))
    assert len(content) > 65536
    assert artifact(tmp_path, "model.bin", content)["format"] == "joblib"


def test_lz4_joblib_by_extension(tmp_path: Path) -> None:
    content = b"\x04\x22\x4d\x18" + os.urandom(64)
    assert artifact(tmp_path, "model.joblib", content)["format"] == "joblib"
    assert artifact(tmp_path, "model.pkl", content)["format"] == "joblib"
    assert artifact(tmp_path, "model.bin", content)["format"] == "unknown"


def test_extension_of_the_shown_name_counts_for_a_symlink(tmp_path: Path) -> None:
    write(tmp_path, "blobs/0a1b", onnx_bytes())
    (tmp_path / "model").mkdir()
    os.symlink("../blobs/0a1b", tmp_path / "model/model.onnx")
    [entry] = load_artifacts(InputFiles(tmp_path), ["model"])
    assert (entry["path"], entry["format"]) == ("model/model.onnx", "onnx")


def test_a_markdown_card_is_read_once_for_its_mapping_and_its_sections(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "README.md", "---\nlicense: mit\n---\n# Model\n## Uses\nclassify\n")
    files = InputFiles(tmp_path)
    reads = count_reads(files, monkeypatch)
    assert read_card(files, "README.md") == ({"license": "mit"}, {"model": "", "uses": "classify"})
    assert reads == [tmp_path.resolve() / "README.md"]
