"""Exact expected output of every report format, for each variant in tests/report_cases.py.

Golden files live in tests/reports/golden/<variant>/<format>/. Regenerate after
an intended change with GATE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_cases import GOLDEN, VARIANTS, render

CASES = [(variant, fmt) for variant, formats in VARIANTS.items() for fmt in formats]


@pytest.mark.parametrize(("variant", "fmt"), CASES, ids=[f"{v}-{f}" for v, f in CASES])
def test_report_matches_golden(variant: str, fmt: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    actual = render(variant, fmt, tmp_path, monkeypatch)
    golden = GOLDEN / variant / fmt
    if os.environ.get("GATE_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name, text in actual.items():
            (golden / name).write_text(text, "utf-8")
    expected = {p.name: p.read_text("utf-8") for p in sorted(golden.iterdir())}
    assert sorted(actual) == sorted(expected)
    for name, text in expected.items():
        assert actual[name] == text, f"{variant}/{fmt}/{name} differs from the golden file"
