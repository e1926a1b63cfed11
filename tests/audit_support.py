"""Shared by the audit tests: ledgers to test against, writer processes, the gate CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.audit.store import LedgerStore, open_ledger

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = "GATE_TEST_PG_URL"
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": "", "GITHUB_OUTPUT": "",
       "GITHUB_STEP_SUMMARY": ""}

# A writer process: appends COUNT events in batches of BATCH, printing each committed head.
# With MODE=stall it prints "mid" from inside its first transaction (after one record is
# inserted, before the commit) and waits there to be killed.
WRITER = r"""
import sys, time
from gate.audit.store import open_ledger
url, name, mode = sys.argv[1], sys.argv[2], sys.argv[5]
count, batch = int(sys.argv[3]), int(sys.argv[4])

def event(i):
    return {"kind": "test.event", "at": "2026-12-01T00:00:00.000000+00:00",
            "model": {"name": name, "version": str(i)}, "event": {"writer": name, "i": i},
            "pad": "x" * 200}

class Stall(list):
    def __iter__(self):
        for n, e in enumerate(list.__iter__(self)):
            yield e
            if n == 0:
                print("mid", flush=True)
                time.sleep(600)

store = open_ledger(url)
i = 0
while i < count:
    events = [event(j) for j in range(i, min(count, i + batch))]
    recs = store.append(Stall(events) if mode == "stall" else events)
    i += len(events)
    print(f"{recs[-1].seq} {i}", flush=True)
store.close()
"""


def pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def pg_table_url() -> str:
    """A PostgreSQL ledger in a fresh table of the test server (skips without one)."""
    url = pg_url()
    if url is None:
        pytest.skip(f'{PG_ENV} is not set: start PostgreSQL with `eval "$(bash .ci/postgres.sh)"`')
    return f"{url}?table=ledger_{uuid.uuid4().hex[:12]}"


def drop_pg_table(url: str) -> None:
    import psycopg2

    table = url.rsplit("table=", 1)[1]
    db = psycopg2.connect(psql_url(url).split("?")[0])
    with db, db.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    db.close()


def psql_url(url: str) -> str:
    """The URL as libpq (psql) reads it: no SQLAlchemy driver suffix, no ?table=."""
    return url.replace("postgresql+psycopg2://", "postgresql://").split("?")[0]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger: a SQLite file, and a table in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    url = pg_table_url()
    yield url
    drop_pg_table(url)


def event(n: int, kind: str = "test.event", model: str = "m") -> dict[str, Any]:
    return {"kind": kind, "at": f"2026-12-01T00:00:{n % 60:02d}.000000+00:00",
            "model": {"name": model, "version": f"1.{n}"}, "event": {"n": n}}


def fill(url: str, n: int) -> LedgerStore:
    store = open_ledger(url)
    store.append([event(i) for i in range(n)])
    return store


def writer(url: str, name: str, count: int, batch: int = 1,
           mode: str = "run") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, name, str(count), str(batch), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def gate(*args: str, cwd: Path, env: dict[str, str] | None = None,
         prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The real gate command in a process of its own."""
    return subprocess.run([*prefix, sys.executable, "-c", "from gate.cli import main; main()",
                           *args], check=False, cwd=cwd, capture_output=True, text=True,
                          timeout=300,
                          env={**os.environ, **ENV, **(env or {})})
