"""The wheel ships every subpackage of gate and the policy library; the suite collects
with the test extra alone."""

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
    assert "gate/policy_library/outlines.json" in names  # the library's parse, shipped
    schemas = {n for n in names if n.startswith("gate/schemas/") and n.endswith(".json")}
    assert len(schemas) == len(list((ROOT / "gate" / "schemas").glob("*.schema.json")))


BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Block())
"""


@pytest.mark.slow  # collects the whole suite twice in new interpreters
def test_the_suite_collects_without_the_optional_extras(tmp_path: Path) -> None:
    """With every optional extra's packages unimportable, modules that need one are skipped
    naming the extra (never a collection error); under CI the same skips fail the run."""
    import os
    import subprocess

    from conftest import OPTIONAL

    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=sorted(OPTIONAL)))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(tmp_path)
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
           "-rs", str(ROOT / "tests")]
    local = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=600, check=False)
    assert local.returncode == 0, local.stdout[-3000:]
    assert "error" not in local.stdout.splitlines()[-1], local.stdout[-3000:]
    assert "needs pandas, from the 'drift' extra (pip install -e '.[drift]')" in local.stdout
    ci = subprocess.run(cmd, cwd=ROOT, env={**env, "CI": "true"}, capture_output=True,
                        text=True, timeout=600, check=False)
    assert ci.returncode != 0
    assert "skipped under CI, where every real peer must be installed" in ci.stdout
