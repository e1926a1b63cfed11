"""The wheel ships every subpackage of gate and the policy library."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; the suite still collects there
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "gate").rglob("__init__.py")
    }
    assert found | {"gate.policy_library", "gate.policy_library.data"} == listed


@pytest.mark.slow  # builds a wheel
def test_wheel_ships_the_library_and_schemas(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("gate_release-*.whl")  # the distribution is gate-release
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("model_card", "artifacts", "lineage", "evaluation", "validation", "rollout"):
        assert f"gate/policy_library/{package}.rego" in names
    assert "gate/policy_library/data/defaults.yaml" in names
    schemas = {n for n in names if n.startswith("gate/schemas/") and n.endswith(".json")}
    assert len(schemas) == len(list((ROOT / "gate" / "schemas").glob("*.schema.json")))
