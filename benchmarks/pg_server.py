"""A PostgreSQL server for a benchmark: $GATE_TEST_PG_URL when set, else a throwaway one
started with .ci/postgres.sh and stopped when the block ends."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "postgres.sh"


@contextmanager
def postgres_url() -> Iterator[str]:
    """The server's SQLAlchemy URL, for the duration of the block."""
    url = os.environ.get("GATE_TEST_PG_URL")
    if url:
        yield url
        return
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                         check=True).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines()
               if line.startswith("export "))
    try:
        yield env["GATE_TEST_PG_URL"]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], check=False, capture_output=True,
                       env={**os.environ, "GATE_TEST_PG_DIR": env["GATE_TEST_PG_DIR"]})
