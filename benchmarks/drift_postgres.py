"""Drift in PostgreSQL: computed in the database by gate, against the same data pulled into pandas.

For each size, a reference and a current table (half the rows each) of 16
numeric and 4 categorical features are generated inside PostgreSQL
(generate_series; eight numeric features and one categorical one shifted in the
current table, 1 % NULLs in some). Then, each in a fresh process:

* ``gate drift`` on a bundle whose check reads both tables over SQL: the
  database sorts (reference quantiles) and counts (bins, categories); wall time
  and the gate process's peak RSS;
* the pandas way: both tables pulled into DataFrames (``read_sql`` in chunks
  over a server-side cursor), then the same statistics computed by gate's
  pandas summariser; wall time and peak RSS.

Both must give the same numbers (checked). Sizes default to 1 M, 3 M and
10 M rows in total, so the gate column also shows memory staying flat as the
rows grow. PostgreSQL is the one GATE_TEST_PG_URL names, else a throwaway
server started (and stopped) with .ci/postgres.sh.

  .venv/bin/python benchmarks/drift_postgres.py [--rows 1000000,3000000,10000000]
      [--pandas-rows 1000000,10000000] [--keep]
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
from typing import Any

from pg_server import postgres_url

REPO = Path(__file__).resolve().parent.parent
GATE = Path(sys.executable).with_name("gate")
SCHEMA = "bench_drift"

NORMAL = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"


def numeric_columns(shift: float) -> list[str]:
    """16 numeric features; the odd ones move by ``shift`` in the current window."""
    cols = []
    for i in range(16):
        s = shift if i % 2 else 0.0
        kind = i % 4
        if kind == 0:
            expr = f"({10 * s} + 50 + 10 * {NORMAL})"
        elif kind == 1:
            expr = f"exp({3 + s} + {NORMAL})"
        elif kind == 2:
            expr = f"({20 * s} + random() * 100)"
        else:
            expr = f"floor(random() * {int(50 + 20 * s)})"
        if i % 5 == 0:
            expr = f"CASE WHEN random() < 0.01 THEN NULL ELSE {expr} END"
        cols.append(f"({expr})::float8 AS n{i + 1:02d}")
    return cols


def categorical_columns(current: bool) -> list[str]:
    sets = [["DE", "FR", "IT", "ES", "NL"], [f"m{i}" for i in range(20)],
            ["web", "app", "pos"], ["a", "b", "c", "d"] + (["new"] if current else [])]
    return [f"(ARRAY{values})[1 + floor(random() * {len(values)})::int] AS c{i + 1}"
            for i, values in enumerate(sets)]


def create_tables(url: str, rows: int) -> tuple[str, str]:
    import sqlalchemy as sa

    half = rows // 2
    names = (f"{SCHEMA}.ref_{rows}", f"{SCHEMA}.cur_{rows}")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        for name, current in zip(names, (False, True), strict=True):
            exists = c.execute(sa.text("SELECT to_regclass(:n)"), {"n": name}).scalar()
            if exists:
                continue
            cols = numeric_columns(0.2 if current else 0.0) + categorical_columns(current)
            started = time.perf_counter()
            c.execute(sa.text(f"CREATE UNLOGGED TABLE {name} AS SELECT {', '.join(cols)} "
                              f"FROM generate_series(1, {half})"))
            c.execute(sa.text(f"ANALYZE {name}"))
            print(f"  generated {name}: {half:,} rows in {time.perf_counter() - started:.1f} s",
                  flush=True)
    engine.dispose()
    return names


def drop_tables(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    engine.dispose()


FEATURES = {"numeric": [f"n{i:02d}" for i in range(1, 17)],
            "categorical": ["c1", "c2", "c3", "c4"]}


def bundle(root: Path, names: tuple[str, str]) -> Path:
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    url = "${GATE_BENCH_PG_URL}"
    manifest = {"version": 1, "model": {"name": "bench", "version": "1"},
                "library": ["drift"],
                "drift": [{"name": "bench",
                           "reference": {"sql": {"url": url, "table": names[0]}},
                           "current": {"sql": {"url": url, "table": names[1]}},
                           "features": FEATURES}]}
    (root / "gate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return root


# The pandas way, in a fresh process: pull both tables, then gate's pandas summariser.
PANDAS = r"""
import json, sys, time
import pandas as pd, sqlalchemy as sa
from gate.drift.runner import Check
from gate.drift.summarisers.frame import FrameSummariser
from gate.manifest import load_manifest
from pathlib import Path

url, ref, cur, manifest = sys.argv[1:5]
started = time.perf_counter()
engine = sa.create_engine(url)
frames = {}
with engine.connect().execution_options(stream_results=True) as conn:
    for side, table in (("reference", ref), ("current", cur)):
        chunks = pd.read_sql_query(f"SELECT * FROM {table}", conn, chunksize=100_000)
        frames[side] = pd.concat(chunks, ignore_index=True)
pulled = time.perf_counter() - started

class Pulled(Check):
    def open(self, side):
        s = FrameSummariser.__new__(FrameSummariser)
        s._frame, s.shown = frames[side], f"pandas {side}"
        return s

m = load_manifest(Path(manifest))
result = Pulled(m.drift[0], 0, m).run()
print(json.dumps({"pulled_s": pulled, "features": result["features"]}))
"""


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of ``cmd`` run in a fresh process."""
    meter = ("import resource, subprocess, sys, time\n"
             "t = time.perf_counter()\n"
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "wall = time.perf_counter() - t\n"
             "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
             "sys.stderr.write(p.stderr[-3000:])\n"
             "print(f'{wall} {rss} {p.returncode}')\n"
             "sys.stdout.write(p.stdout)\n")
    out = subprocess.run([sys.executable, "-c", meter, *cmd], capture_output=True, text=True,
                         env=env, check=True)
    head, _, rest = out.stdout.partition("\n")
    wall, rss, code = head.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"{cmd[0]} exited {code}: {out.stderr}")
    return float(wall), float(rss), rest


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    for fa, fb in zip(a, b, strict=True):
        for key, value in fa["statistics"].items():
            other = fb["statistics"][key]
            if (value is None) != (other is None):
                return False
            if value is not None and abs(value - other) > 1e-9 * max(1.0, abs(value)):
                return False
    return True


def run_sizes(url: str, sizes: list[int], pandas_sizes: set[int], *,
              keep: bool) -> list[dict[str, Any]]:
    """Each size: gate drift in the database, and the same rows pulled into pandas."""
    env = {**os.environ, "GATE_BENCH_PG_URL": url, "NO_COLOR": "1"}
    rows_out = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                print(f"{n:,} rows:", flush=True)
                names = create_tables(url, n)
                root = bundle(Path(tmp) / f"b{n}", names)
                wall, rss, out = measured([str(GATE), "drift", "-c", str(root / "gate.yaml"),
                                           "-o", str(root / "out"), "-f", "json"], env)
                gate_doc = json.loads(out)
                features = gate_doc["checks"][0]["features"]
                print(f"  gate drift (in the database): {wall:.1f} s, peak RSS {rss:.0f} MiB, "
                      f"decision {gate_doc['decision']}", flush=True)
                row = {"rows": n, "gate_s": wall, "gate_rss": rss}
                if n in pandas_sizes:
                    pw, prss, pout = measured(
                        [sys.executable, "-c", PANDAS, url, *names, str(root / "gate.yaml")],
                        env)
                    pdoc = json.loads(pout)
                    row.update(pandas_s=pw, pandas_rss=prss, pulled_s=pdoc["pulled_s"],
                               same=same(features, pdoc["features"]))
                    print(f"  pulled into pandas: {pw:.1f} s (pull {pdoc['pulled_s']:.1f} s), "
                          f"peak RSS {prss:.0f} MiB, same numbers: {row['same']}", flush=True)
                rows_out.append(row)
    finally:
        if not keep:
            drop_tables(url)
    return rows_out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000,3000000,10000000",
                        help="total rows (reference + current), comma-separated")
    parser.add_argument("--pandas-rows", default="1000000,10000000",
                        help="sizes at which to also pull the data into pandas")
    parser.add_argument("--keep", action="store_true", help="keep the generated tables")
    args = parser.parse_args()
    sizes = [int(x) for x in args.rows.split(",")]
    pandas_sizes = {int(x) for x in args.pandas_rows.split(",") if x}
    with postgres_url() as url:
        rows_out = run_sizes(url, sizes, pandas_sizes, keep=args.keep)
    print("\n| rows (reference + current) | gate drift, in PostgreSQL | peak RSS | "
          "pulled into pandas | peak RSS | same numbers |")
    print("|---|---|---|---|---|---|")
    for r in rows_out:
        pandas = (f"{r['pandas_s']:.1f} s | {r['pandas_rss']:.0f} MiB | "
                  f"{'yes' if r['same'] else 'NO'}") if "pandas_s" in r else "- | - | -"
        print(f"| {r['rows']:,} | {r['gate_s']:.1f} s | {r['gate_rss']:.0f} MiB | {pandas} |")


if __name__ == "__main__":
    main()
