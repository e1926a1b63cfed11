"""What gate's Great Expectations adapter costs over raw GX.

The same 10-expectation suite over the same generated CSV (1M rows by
default), once through gate (``load_manifest`` + ``run_validations``: suite
check against GX's registry, reading and hashing the file, validation, result
mapping) and once as a GX user would write it (``read_csv`` on the default
pandas data source, ``batch.validate(suite)``). Each run is one fresh Python
process with GX already imported, so the import is not counted in either; the
GX import time is measured on its own, in a third process. Both sides use the
same ephemeral context settings (progress bars off, analytics off).

    python benchmarks/gx_overhead.py                 # 1M rows, work files in benchmarks/.work/
    python benchmarks/gx_overhead.py --rows 200000 --json
    python benchmarks/gx_overhead.py --repeat 5      # median of 5 runs per side

It also times the whole command, end to end in fresh processes with imports
included: ``gate check`` on the same bundle against a raw-GX script.

Target: gate / raw GX <= 1.15.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET = 1.15
SUITE: dict[str, Any] = {
    "name": "benchmark",
    "meta": {},
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": ["slice", "region", "score", "label", "latency_ms"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "score"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "score", "min_value": 0, "max_value": 1}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "label", "value_set": [0, 1]}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "region", "value_set": ["eu", "uk", "us", "apac"]}},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "slice", "regex": "^segment-[0-9]+$"}},
        {"type": "expect_column_mean_to_be_between",
         "kwargs": {"column": "latency_ms", "min_value": 5, "max_value": 20}},
        {"type": "expect_column_max_to_be_between",
         "kwargs": {"column": "latency_ms", "max_value": 40}, "severity": "warning"},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "latency_ms", "max_value": 25, "mostly": 0.99}},
    ],
}


def generate(work: Path, rows: int) -> Path:
    """The bundle: gate.yaml, suite.json and a CSV of ``rows`` rows (reused if present)."""
    import numpy as np
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    data = work / f"predictions_{rows}.csv"
    if not data.exists():
        rng = np.random.default_rng(1)
        pd.DataFrame({
            "slice": np.char.add("segment-", rng.integers(0, 50, rows).astype(str)),
            "region": rng.choice(["eu", "uk", "us", "apac"], rows),
            "score": rng.random(rows).round(6),
            "label": (rng.random(rows) < 0.08).astype(int),
            "latency_ms": rng.gamma(4.0, 2.5, rows).round(3),
        }).to_csv(data, index=False)
    (work / "suite.json").write_text(json.dumps(SUITE, indent=1))
    (work / "gate.yaml").write_text(
        "version: 1\nmodel: {name: benchmark, version: '1'}\n"
        f"validations:\n  - {{name: bench, suite: suite.json, data: {data.name}}}\npolicies: []\n")
    return data


def _context(gx: Any) -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False))


def worker(kind: str, work: Path, data: Path) -> dict[str, Any]:
    """One measurement, run in a fresh process (see main)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3, if installed
    if kind == "import":
        start = time.perf_counter()
        import great_expectations

        return {"seconds": time.perf_counter() - start, "gx": great_expectations.__version__}
    import great_expectations as gx

    if kind in ("raw", "raw-e2e"):
        from great_expectations.core import ExpectationSuite

        start = time.perf_counter()
        context = _context(gx)
        batch = context.data_sources.pandas_default.read_csv(str(data))
        result = batch.validate(ExpectationSuite(name="benchmark",
                                                 expectations=SUITE["expectations"]))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "success": bool(result.success),
                "evaluated": len(result.results)}
    sys.path.insert(0, str(HERE.parent))
    from gate.manifest import load_manifest
    from gate.validations import run_validations

    start = time.perf_counter()
    entries, findings = run_validations(load_manifest(work / "gate.yaml"))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "success": entries[0]["success"],
            "evaluated": entries[0]["statistics"]["evaluated"], "findings": len(findings)}


def run(kind: str, work: Path, data: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--work", str(work),
                          "--data", str(data)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def wall(command: list[str], ok: tuple[int, ...] = (0,)) -> float:
    """Seconds a command takes, start-up and imports included."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"{command[0]} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def end_to_end(work: Path, data: Path) -> dict[str, float] | None:
    """``gate check`` vs a raw-GX script, each a fresh process; None without the gate command."""
    gate = Path(sys.executable).parent / "gate"
    if not gate.exists():
        return None
    raw = wall([sys.executable, __file__, "--worker", "raw-e2e", "--work", str(work),
                "--data", str(data)])
    # exit 1: two expectations of the suite fail (on purpose), so the gate blocks
    check = wall([str(gate), "check", "--config", str(work / "gate.yaml"),
                  "--output-dir", str(work / "gate-report")], ok=(0, 1))
    return {"raw_gx_script_s": round(raw, 2), "gate_check_s": round(check, 2),
            "ratio": round(check / raw, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=HERE / ".work")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; the median counts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--worker", choices=["import", "raw", "raw-e2e", "gate"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.work, args.data)))
        return 0
    data = generate(args.work, args.rows)
    imported = run("import", args.work, data)
    raws, gates = [], []
    for _ in range(max(1, args.repeat)):  # alternate, so drift on the machine hits both sides
        raw = run("raw", args.work, data)
        gate = run("gate", args.work, data)
        assert raw["evaluated"] == gate["evaluated"] == len(SUITE["expectations"])
        assert raw["success"] == gate["success"]
        raws.append(raw["seconds"])
        gates.append(gate["seconds"])
    raw_s, gate_s = statistics.median(raws), statistics.median(gates)
    figures: dict[str, Any] = {
        "rows": args.rows, "csv_mb": round(data.stat().st_size / 1e6, 1),
        "expectations": len(SUITE["expectations"]), "great_expectations": imported["gx"],
        "python": platform.python_version(), "cpus": os.cpu_count(), "runs": len(raws),
        "gx_import_s": round(imported["seconds"], 2), "raw_gx_s": round(raw_s, 2),
        "gate_s": round(gate_s, 2), "ratio": round(gate_s / raw_s, 3), "target": TARGET,
        "end_to_end": end_to_end(args.work, data),
    }
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        runs = f", median of {figures['runs']} runs" if figures["runs"] > 1 else ", one run each"
        print(f"{figures['rows']:,} rows ({figures['csv_mb']} MB CSV), "
              f"{figures['expectations']} expectations, GX {figures['great_expectations']}, "
              f"Python {figures['python']}, {figures['cpus']} CPUs{runs}")
        print(f"  GX import        {figures['gx_import_s']:6.2f} s (not counted below)")
        print(f"  raw GX           {figures['raw_gx_s']:6.2f} s")
        print(f"  gate adapter     {figures['gate_s']:6.2f} s")
        verdict = "within" if figures["ratio"] <= TARGET else "OVER"
        print(f"  ratio            {figures['ratio']:6.3f}x ({verdict} the {TARGET}x target)")
        e2e = figures["end_to_end"]
        if e2e:
            print(f"  end to end, imports included: raw-GX script {e2e['raw_gx_script_s']:.2f} s, "
                  f"gate check {e2e['gate_check_s']:.2f} s ({e2e['ratio']:.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
