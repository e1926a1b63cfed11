"""The code and its tests stay lint- and type-clean: ruff, and mypy --strict over gate/ and
tests/ (the same checks as `make lint`), so CI fails where a change breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        which = shutil.which(name)
        assert which, f"{name} is not installed: make test installs it (the test extra)"
        return which
    return str(found)


def test_ruff_is_clean() -> None:
    proc = subprocess.run([tool("ruff"), "check", "gate", "tests", "benchmarks"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # about 30 s without a cache
def test_mypy_strict_is_clean_over_the_code_and_the_tests(tmp_path: Path) -> None:
    proc = subprocess.run([tool("mypy"), "--strict", "--cache-dir", str(tmp_path / "cache"),
                           "gate", "tests"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
