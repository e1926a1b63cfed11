"""CI runs the adversarial sweep: any wrong pass, escape, hang or traceback fails it.

benchmarks/adversarial_sweep.py writes ~200 hostile variants of every input
gate reads and runs gate on each in a fresh process (docs/inputs.md). It takes
one to two minutes on two cores, hence slow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = Path(__file__).resolve().parent.parent / "benchmarks" / "adversarial_sweep.py"


@pytest.mark.slow
def test_no_hostile_input_passes_escapes_hangs_or_crashes() -> None:
    proc = subprocess.run([sys.executable, str(SWEEP), "--jobs", "3", "--timeout", "20"],
                          capture_output=True, text=True, timeout=900, check=False)
    summary = proc.stdout[-6000:]
    assert proc.returncode == 0, summary + proc.stderr[-3000:]
    assert "wrong passes: 0  escapes: 0  hangs: 0  tracebacks: 0" in proc.stdout, summary


@pytest.mark.slow  # runs gate as a process
def test_the_sweep_sees_a_planted_escape_and_a_planted_pass(tmp_path: Path) -> None:
    # The detectors themselves, on one cheap case each: a sweep blind to reads
    # outside the bundle, or to exit 0, would report zeros and prove nothing.
    sys.path.insert(0, str(SWEEP.parent))
    try:
        import adversarial_sweep as sweep
    finally:
        sys.path.pop(0)
    leak = sweep.Case("planted escape", "check",
                      lambda c: ["--data", str(c.outside / "floors.yaml")])
    sweep.run_case(leak, tmp_path / "leak", 60)
    assert "escape" in sweep.verdict(leak), leak.result
    benign = sweep.Case("planted pass", "check", lambda c: None)
    sweep.run_case(benign, tmp_path / "benign", 60)
    assert "wrong pass" in sweep.verdict(benign), benign.result
