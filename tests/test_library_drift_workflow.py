"""The scheduled library-drift workflow: valid, weekly, and running the real-library tests."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "library-drift.yml"
LIBRARIES = ("mlflow", "huggingface_hub", "openlineage-python", "numpy", "torch")


@pytest.mark.slow  # runs check-jsonschema
def test_the_workflow_matches_githubs_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    proc = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_it_runs_weekly_on_the_newest_libraries_and_every_real_library_test() -> None:
    spec = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    triggers = spec[True] if True in spec else spec["on"]  # YAML 1.1 reads `on` as true
    assert triggers["schedule"][0]["cron"].endswith("* * 1")
    steps = spec["jobs"]["outputs"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)
    assert all(lib in script for lib in LIBRARIES)
    assert "--upgrade" in script
    words = shlex.split(script.replace("\\\n", " "))
    named = {w for w in words if w.startswith("tests/") and w.endswith(".py")}
    assert all((ROOT / w).is_file() for w in named)
    for path in (ROOT / "tests").glob("test_*.py"):  # every test on a library's real output
        if path.name == Path(__file__).name:
            continue
        text = path.read_text("utf-8")
        if any(m in text for m in ("from huggingface_hub", "from openlineage", "mlflow_support",
                                   "GATE_TORCH_EXPORT_DIR")):
            assert path.relative_to(ROOT).as_posix() in named, path.name
