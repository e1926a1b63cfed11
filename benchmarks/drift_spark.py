"""Drift in Spark local mode: 1 million rows of 16 numeric and 4 categorical features.

Spark writes a reference and a current Parquet data set (half the rows each;
eight numeric features and one categorical shifted) into a bundle folder, then
``gate drift`` runs in a fresh process on ``spark: {path: ...}`` sides: exact
reference quantiles (``approxQuantile`` with relative error 0), bins counted by
``Bucketizer`` and ``groupBy``, categories by ``groupBy``. Reported: wall time
(JVM start included), the peak RSS of the gate (Python) process, and the peak
RSS of the JVM it started, sampled from /proc. The same data through gate's
pandas path must give the same numbers (checked).

  .venv/bin/python benchmarks/drift_spark.py [--rows 1000000] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GATE = Path(sys.executable).with_name("gate")
FEATURES = {"numeric": [f"n{i:02d}" for i in range(1, 17)],
            "categorical": ["c1", "c2", "c3", "c4"]}

WRITE = r"""
import sys
from pyspark.sql import SparkSession, functions as F
rows, folder = int(sys.argv[1]), sys.argv[2]
spark = (SparkSession.builder.master("local[2]").appName("bench-data")
         .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
         .getOrCreate())
def side(n, shift, seed, current):
    df = spark.range(n)
    for i in range(16):
        s = shift if i % 2 else 0.0
        z = F.randn(seed + i)
        kind = i % 4
        col = (50 + 10 * s + 10 * z if kind == 0 else F.exp(3 + s + z) if kind == 1
               else 20 * s + F.rand(seed + i) * 100 if kind == 2
               else F.floor(F.rand(seed + i) * int(50 + 20 * s)))
        if i % 5 == 0:
            col = F.when(F.rand(seed + 100 + i) < 0.01, F.lit(None)).otherwise(col)
        df = df.withColumn(f"n{i + 1:02d}", col.cast("double"))
    sets = [["DE", "FR", "IT", "ES", "NL"], [f"m{i}" for i in range(20)], ["web", "app", "pos"],
            ["a", "b", "c", "d"] + (["new"] if current else [])]
    for i, values in enumerate(sets):
        index = F.floor(F.rand(seed + 200 + i) * len(values)).cast("int")
        df = df.withColumn(f"c{i + 1}", F.element_at(F.array(*[F.lit(v) for v in values]),
                                                      index + 1))
    return df.drop("id")
side(rows // 2, 0.0, 1, False).write.mode("overwrite").parquet(f"{folder}/ref")
side(rows // 2, 0.2, 1000, True).write.mode("overwrite").parquet(f"{folder}/cur")
spark.stop()
"""


def tree_rss(pid: int) -> tuple[int, int]:
    """(peak RSS of pid so far, current RSS of its descendants), in KiB, from /proc."""
    def field(p: int, name: str) -> int:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def children(p: int) -> list[int]:
        out: list[int] = []
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                text = (task / "children").read_text().split()
                out += [int(c) for c in text]
        except OSError:
            pass
        return out

    todo, rest = children(pid), 0
    while todo:
        c = todo.pop()
        rest = max(rest, field(c, "VmHWM"))
        todo += children(c)
    return field(pid, "VmHWM"), rest


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str, int]:
    """(wall s, gate peak RSS MiB, JVM peak RSS MiB, stdout, exit code)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        own = jvm = 0
        while proc.poll() is None:
            a, b = tree_rss(proc.pid)
            own, jvm = max(own, a), max(jvm, b)
            time.sleep(0.05)
        wall = time.perf_counter() - started
        out.seek(0)
        return wall, own / 1024, jvm / 1024, out.read(), proc.returncode


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="total rows (reference + current)")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "NO_COLOR": "1",
           "PYSPARK_SUBMIT_ARGS": f"--master local[{args.cores}] --driver-memory 2g "
                                  "pyspark-shell"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bundle"
        root.mkdir()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", WRITE, str(args.rows), str(root / "data")],
                       check=True, env=env, capture_output=True)
        print(f"generated {args.rows:,} rows with Spark in {time.perf_counter() - started:.1f} s",
              flush=True)
        results = {}
        for engine, sides in (
                ("spark", {"reference": {"spark": {"path": "data/ref", "format": "parquet"}},
                           "current": {"spark": {"path": "data/cur", "format": "parquet"}}}),
                ("pandas", {"reference": {"data": "data/ref.parquet"},
                            "current": {"data": "data/cur.parquet"}})):
            if engine == "pandas":  # the same rows as single files, for the pandas path
                import pandas as pd

                for side in ("ref", "cur"):
                    pd.read_parquet(root / "data" / side).to_parquet(
                        root / "data" / f"{side}.parquet", index=False)
            manifest = {"version": 1, "model": {"name": "bench", "version": "1"},
                        "library": ["drift"],
                        "drift": [{"name": "bench", **sides, "features": FEATURES}]}
            (root / "gate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
            wall, own, jvm, out, code = measured(
                [str(GATE), "drift", "-c", str(root / "gate.yaml"), "-o",
                 str(root / f"out-{engine}"), "-f", "json"], env)
            if code not in (0, 1):
                raise SystemExit(f"gate drift on {engine} exited {code}")
            results[engine] = (wall, own, jvm, json.loads(out)["checks"][0]["features"])
            print(f"gate drift on {engine}: {wall:.1f} s, gate peak RSS {own:.0f} MiB"
                  + (f", JVM peak RSS {jvm:.0f} MiB" if engine == "spark" else ""), flush=True)
    same = all(
        (a is None and b is None) or (a is not None and b is not None
                                      and abs(a - b) <= 1e-9 * max(1.0, abs(a)))
        for fa, fb in zip(results["spark"][3], results["pandas"][3], strict=True)
        for a, b in ((fa["statistics"][k], fb["statistics"][k]) for k in fa["statistics"]))
    print(f"\nsame numbers on Spark and pandas: {'yes' if same else 'NO'}")
    print("\n| 2 CPUs, local mode | wall | gate peak RSS | JVM peak RSS |")
    print("|---|---|---|---|")
    for engine in ("spark", "pandas"):
        wall, own, jvm, _ = results[engine]
        print(f"| {engine}, {args.rows:,} rows | {wall:.1f} s | {own:.0f} MiB | "
              f"{f'{jvm:.0f} MiB' if engine == 'spark' else '-'} |")


if __name__ == "__main__":
    main()
