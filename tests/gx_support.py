"""Helpers shared by the tests/test_validations_*.py and tests/test_drift_*.py modules.

Plain functions rather than conftest fixtures so each test module states what
it uses. The Spark session is started once per test session (it is the
slowest thing here) and shared by every test that needs it; the PostgreSQL
server is the one `.ci/postgres.sh` started (GATE_TEST_PG_URL).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import yaml

from gate.manifest import Manifest, load_manifest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "validations"
PG_ENV = "GATE_TEST_PG_URL"


def write(root: Path, rel: str, content: str | bytes | Any) -> Path:
    """Write text, bytes, or (anything else) JSON to root/rel."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def suite(*expectations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A GX 1.x ExpectationSuite document."""
    return {"name": "test_suite", "meta": {}, "expectations": list(expectations), **extra}


def exp(etype: str, severity: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """One expectation as GX 1.x writes it."""
    doc: dict[str, Any] = {"type": etype, "kwargs": kwargs, "meta": {}}
    if severity:
        doc["severity"] = severity
    return doc


def bundle(root: Path, validations: list[dict[str, Any]], files: dict[str, Any] | None = None,
           ) -> Manifest:
    """Write a minimal bundle (gate.yaml + files) and load its manifest."""
    for rel, content in (files or {}).items():
        write(root, rel, content)
    manifest = {"version": 1, "model": {"name": "fraud-detector", "version": "2.4.0"},
                "validations": validations, "policies": []}
    write(root, "gate.yaml", yaml.safe_dump(manifest, sort_keys=False))
    return load_manifest(root / "gate.yaml")


def example(tmp_path: Path) -> Path:
    """A copy of examples/validations (tests must not touch the repository's files)."""
    target = tmp_path / "example"
    shutil.copytree(EXAMPLES, target)
    return target


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``roots`` with its size and mtime: to prove nothing was written."""
    out: dict[str, tuple[int, int]] = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            st = p.lstat()
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def free_port() -> int:
    """A local port nobody listens on (bound, then let go): a database that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def spark_skip_reason() -> str | None:
    """Why Spark tests cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'gate-release[spark]')"
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        return "Spark needs Java (17+): none on PATH and JAVA_HOME unset"
    return None


@functools.lru_cache(maxsize=1)
def spark_session() -> Any:
    """One local Spark session for the whole test run: one core, loopback only, no UI."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("gate-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .getOrCreate()
    )
