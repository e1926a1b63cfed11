"""NumPy ``.npy``/``.npz`` and ``torch.export`` ``.pt2`` artifacts get their names.

The NumPy files are written by numpy itself. The ``.pt2`` archives are of two
kinds: two frozen regression fixtures written by ``torch.export.save`` (torch
2.13.0, CPU build: ``tests/fixtures/torch_export/``; the scheduled
library-drift job rebuilds them with the newest torch and points
``GATE_TORCH_EXPORT_DIR`` at them), and variants built here with ``zipfile``
in the layout those fixtures show, for the members torch writes only with
AOTInductor or TorchBind objects (a compiled ``.so``, a pickled custom object).
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gate.bundle.artifacts import load_artifacts
from gate.cli import cli
from gate.documents import InputFiles

FIXTURES = Path(os.environ.get("GATE_TORCH_EXPORT_DIR") or
                Path(__file__).parent / "fixtures" / "torch_export")
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}


def formats(folder: Path) -> dict[str, str]:
    return {a["path"]: a["format"] for a in load_artifacts(InputFiles(folder), ["."])}


def test_numpy_files_written_by_numpy(tmp_path: Path) -> None:
    np.save(tmp_path / "weights.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    mixed = np.zeros(2, dtype=[("id", "<i8"), ("meta", "O")])
    np.save(tmp_path / "mixed.npy", mixed, allow_pickle=True)
    with (tmp_path / "v2.npy").open("wb") as f:
        np.lib.format.write_array(f, np.ones(3), version=(2, 0))
    np.save(tmp_path / "renamed.npy", np.ones(2))
    (tmp_path / "renamed.npy").rename(tmp_path / "renamed.bin")  # content, not name
    np.savez(tmp_path / "arrays.npz", a=np.ones(3), b=np.zeros((2, 2)))
    np.savez_compressed(tmp_path / "packed.npz", a=np.ones(3))
    np.savez(tmp_path / "with_objects.npz", a=np.ones(3), b=np.array([[1], "x"], dtype=object))
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps([1, 2], protocol=4))
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': <f8")
    assert formats(tmp_path) == {
        "weights.npy": "numpy", "objects.npy": "pickle", "mixed.npy": "pickle",
        "v2.npy": "numpy", "renamed.bin": "numpy", "arrays.npz": "npz", "packed.npz": "npz",
        "with_objects.npz": "pickle", "pickle.npy": "pickle", "broken.npy": "unknown",
    }


def test_torch_export_archives_written_by_torch(tmp_path: Path) -> None:
    # model.pt2: torch.export.save of a program with example inputs, which it keeps as
    # a torch.save file (a zip holding data.pkl); plain.pt2: the same without them.
    with zipfile.ZipFile(FIXTURES / "model.pt2") as archive:
        sample = archive.read("model/data/sample_inputs/model.pt")
        assert archive.read("model/archive_format") == b"pt2"
    assert sample.startswith(b"PK\x03\x04")
    got = formats(FIXTURES)
    assert got["model.pt2"] == "pytorch"  # pickled sample inputs: code-executing
    assert got["plain.pt2"] == "torch_export"


def pt2(path: Path, extra: dict[str, bytes]) -> Path:
    """A .pt2 in the layout torch.export.save writes (root folder = the file's stem)."""
    root = path.stem
    members = {
        "archive_format": b"pt2", "archive_version": b"0", "byteorder": b"little",
        ".data/version": b"6\n", "models/model.json": json.dumps({"graph_module": {}}).encode(),
        "data/weights/model_weights_config.json": b'{"config": {}}',
        # Raw weights are never unpickled: bytes that happen to look like a pickle are fine.
        "data/weights/weight_0": b"\x80\x02\x00\x00" + bytes(8),
        "data/sample_inputs/model.pt": b"",
        **extra,
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{root}/{name}", data)
    return path


def test_torch_export_members_that_run_code(tmp_path: Path) -> None:
    pt2(tmp_path / "plain.pt2", {})
    pt2(tmp_path / "aoti.pt2", {"data/aotinductor/model-cpu/abc.wrapper.so": b"\x7fELF\x02\x01"})
    pt2(tmp_path / "custom.pt2",
        {"data/constants/custom_obj_0": pickle.dumps(object, protocol=2)})
    pt2(tmp_path / "renamed.zip", {})  # the archive_format file decides, not the name
    other = tmp_path / "other.pt2"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("other/archive_format", b"not-pt2")
    assert formats(tmp_path) == {"plain.pt2": "torch_export", "aoti.pt2": "pytorch",
                                 "custom.pt2": "pytorch", "renamed.zip": "torch_export",
                                 "other.pt2": "zip"}


def test_the_library_flags_code_executing_arrays_and_archives(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "models").mkdir(parents=True)
    np.save(folder / "models" / "embeddings.npy", np.ones((4, 2)))
    np.save(folder / "models" / "vocab.npy", np.array(["a", None], dtype=object),
            allow_pickle=True)
    pt2(folder / "models" / "plain.pt2", {})
    (folder / "models" / "model.pt2").write_bytes((FIXTURES / "model.pt2").read_bytes())
    manifest = {"version": 1, "model": {"name": "m", "version": "1", "artifacts": ["models"]},
                "library": ["artifacts"],
                "rollback": {"target": {"version": "0"},
                             "steps": [{"name": "route", "run": ["true"]}]}}
    (folder / "gate.yaml").write_text(json.dumps(manifest))
    result = CliRunner().invoke(cli, ["check", "--config", str(folder / "gate.yaml"),
                                      "--output-dir", str(tmp_path / "out")], env=ENV)
    assert result.exit_code == 1, result.output
    flagged = json.loads((tmp_path / "out" / "decision.json").read_text())["findings"]
    unsafe = sorted((f["details"]["artifact"], f["details"]["format"])
                    for f in flagged if f["id"] == "GATE-ART-003")
    assert unsafe == [("models/model.pt2", "pytorch"), ("models/vocab.npy", "pickle")]


@pytest.mark.parametrize("name", ["model.pt2", "plain.pt2"])
def test_the_frozen_fixtures_are_torch_export_archives(name: str) -> None:
    with zipfile.ZipFile(FIXTURES / name) as archive:
        root = Path(name).stem
        assert f"{root}/models/model.json" in archive.namelist()
