"""The audit ledger under load: 2 writer processes append 10,000 records between them.

For each store (a SQLite file; a PostgreSQL table) two processes append at
once, one record per transaction (as two CI pipelines would), then the whole
chain is read back and verified. Reported: appends per second (all of them
over the wall time of the slowest writer), the time to verify the whole
chain, and the checks that nothing was lost or forked: 10,000 records with
seq 1..10,000, every event of every writer present exactly once, no two
records with the same parent.

PostgreSQL: $GATE_TEST_PG_URL, else a throwaway server started with
.ci/postgres.sh (and stopped afterwards). Run on demand:
  .venv/bin/python benchmarks/ledger_load.py [--appends 10000] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pg_server import postgres_url

ROOT = Path(__file__).resolve().parent.parent


def writer(url: str, name: str, count: int) -> None:
    """One writer process: ``count`` appends, one event per transaction."""
    from gate.audit.store import open_ledger

    store = open_ledger(url)
    for i in range(count):
        store.append([{"kind": "bench.event", "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                       "model": {"name": "bench", "version": name},
                       "decision_sha256": "0" * 64, "inputs": [], "engine": None, "ci": {},
                       "signers": [], "event": {"writer": name, "i": i}}])
    store.close()


def run(url: str, appends: int, label: str) -> dict[str, object]:
    from gate.audit.chain import verify
    from gate.audit.store import open_ledger

    per = appends // 2
    cmd = [sys.executable, __file__, "--writer", url]
    start = time.perf_counter()
    procs = [subprocess.Popen([*cmd, name, str(per)], cwd=ROOT) for name in ("a", "b")]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"{label}: a writer failed ({codes})")
    store = open_ledger(url)
    t0 = time.perf_counter()
    records = list(store.records())
    verdict = verify(records)
    verify_s = time.perf_counter() - t0
    store.close()
    seen = {("a", i) for i in range(per)} | {("b", i) for i in range(per)}
    got = [(r.body["event"]["writer"], r.body["event"]["i"]) for r in records]
    result = {
        "store": label,
        "records": len(records),
        "appends_per_s": round(2 * per / wall, 1),
        "wall_s": round(wall, 2),
        "verify_s": round(verify_s, 3),
        "chain_ok": verdict.ok,
        "seq_contiguous": [r.seq for r in records] == list(range(1, len(records) + 1)),
        "nothing_lost": sorted(got) == sorted(seen) and len(got) == len(set(got)),
        "no_fork": len({r.body["prev"] for r in records}) == len(records),
    }
    print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=10_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--writer", nargs=3, metavar=("URL", "NAME", "COUNT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args.writer[0], args.writer[1], int(args.writer[2]))
        return 0
    results = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(f"sqlite:///{Path(tmp) / 'ledger.db'}", args.appends, "sqlite"))
    if args.only in (None, "postgres"):
        with postgres_url() as url:
            table = f"bench_{uuid.uuid4().hex[:8]}"
            try:
                results.append(run(f"{url}?table={table}", args.appends, "postgres"))
            finally:
                import psycopg2

                db = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
                with db, db.cursor() as cur:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                db.close()
    ok = all(r["chain_ok"] and r["nothing_lost"] and r["no_fork"] and r["seq_contiguous"]
             for r in results)
    print("all intact" if ok else "LEDGER DAMAGED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
