"""The same drift check on pandas (files), SQLite, PostgreSQL and Spark gives the same numbers.

One data set (with NaN, infinities, NULLs, ties, a constant column, a never-seen
category) is written as Parquet and CSV files, a SQLite database, PostgreSQL
tables and read by Spark from the Parquet files. The reference quantiles are
computed by each engine at integer ranks and the bins are right-closed on the
same edges, so counts are identical and the statistics agree to rounding of the
engines' sums; the binned statistics are within their declared precision of
scipy's on the raw rows.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from gx_support import PG_ENV, pg_url, spark_session, spark_skip_reason
from scipy import stats as sp

from gate.drift import run_drift
from gate.manifest import load_manifest

FEATURES = {"numeric": ["amount", "age", "score", "constant"],
            "categorical": ["country", "segment"]}


def frames(n_ref: int = 14_000, n_cur: int = 12_000, seed: int = 7) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)

    def frame(n: int, shift: float, countries: list[str]) -> Any:
        amount = rng.lognormal(3 + shift, 1, n)
        amount[rng.random(n) < 0.02] = np.nan
        amount[:3] = [np.inf, -np.inf, np.nan]
        country = rng.choice(countries, n).astype(object)
        country[rng.random(n) < 0.01] = None
        return pd.DataFrame({
            "amount": amount,
            "age": rng.integers(18, 90, n),
            "score": np.round(rng.normal(0.5 + shift / 4, 0.2, n), 2),
            "constant": np.full(n, 7.0),
            "country": country,
            "segment": rng.integers(1, 5 if shift == 0 else 6, n),
        })

    return (frame(n_ref, 0.0, ["DE", "FR", "IT", "ES"]),
            frame(n_cur, 0.3, ["DE", "FR", "IT", "ES", "NZ"]))


def write_manifest(root: Path, sides: dict[str, dict[str, Any]], **extra: Any) -> Path:
    manifest = {"version": 1, "model": {"name": "fraud-detector", "version": "2.4.0"},
                "policies": [],
                "drift": [{"name": "transactions", **sides, "features": FEATURES, **extra}]}
    (root / "gate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return root / "gate.yaml"


def sqlite_db(path: Path, ref: Any, cur: Any) -> None:
    with sqlite3.connect(path) as db:
        for name, frame in (("ref", ref), ("cur", cur)):
            frame.to_sql(name, db, index=False)
    db.close()


def features(path: Path) -> dict[str, dict[str, Any]]:
    (check,) = run_drift(load_manifest(path))
    return {f["name"]: f for f in check["features"]}


def assert_same(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], label: str) -> None:
    assert a.keys() == b.keys()
    for name, fa in a.items():
        fb = b[name]
        for key in ("kind", "n", "missing_share", "method", "ks_method", "categories"):
            assert fa.get(key) == fb.get(key), (label, name, key)
        if "unseen" in fa:
            assert fa["unseen"] == fb["unseen"], (label, name)
        for stat, value in fa["statistics"].items():
            other = fb["statistics"][stat]
            if value is None:
                assert other is None, (label, name, stat)
            else:
                assert other == pytest.approx(value, rel=1e-9, abs=1e-12), (label, name, stat)
        for stat, value in fa.get("precision", {}).items():
            assert fb["precision"][stat] == pytest.approx(value, rel=1e-9), (label, name, stat)


def check_against_scipy(got: dict[str, dict[str, Any]], ref: Any, cur: Any) -> None:
    """Every engine's numbers are scipy's on the raw rows, within the declared precision."""
    for name in FEATURES["numeric"]:
        a = ref[name].to_numpy(dtype=float)
        b = cur[name].to_numpy(dtype=float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        f = got[name]
        assert f["n"] == {"reference": a.size, "current": b.size}
        ks = float(sp.ks_2samp(a, b).statistic)
        assert -1e-12 <= ks - f["statistics"]["ks"] <= f["precision"]["ks"] + 1e-12
        w = sp.wasserstein_distance(a, b) / max(float(np.std(a)), 0.001)
        assert abs(f["statistics"]["wasserstein_norm"] - w) <= \
            f["precision"]["wasserstein_norm"] + 1e-9
    country = got["country"]
    assert country["unseen"]["values"] == ["NZ"]
    assert country["missing_share"]["reference"] == pytest.approx(
        ref["country"].isna().mean())
    assert got["amount"]["missing_share"]["reference"] == pytest.approx(
        1 - np.isfinite(ref["amount"].to_numpy(dtype=float)).mean())


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    return frames()


@pytest.fixture
def files(tmp_path: Path, data: tuple[Any, Any]) -> Path:
    ref, cur = data
    root = tmp_path / "bundle"
    (root / "data").mkdir(parents=True)
    ref.to_parquet(root / "data" / "ref.parquet", index=False)
    cur.to_parquet(root / "data" / "cur.parquet", index=False)
    ref.to_csv(root / "data" / "ref.csv", index=False)
    cur.to_csv(root / "data" / "cur.csv", index=False)
    sqlite_db(root / "data" / "drift.db", ref, cur)
    return root


@pytest.mark.slow  # every file format and SQLite
def test_files_and_sqlite_give_the_same_numbers(files: Path, data: tuple[Any, Any]) -> None:
    parquet = features(write_manifest(files, {"reference": {"data": "data/ref.parquet"},
                                              "current": {"data": "data/cur.parquet"}}))
    csv = features(write_manifest(files, {"reference": {"data": "data/ref.csv"},
                                          "current": {"data": "data/cur.csv"}}))
    url = "sqlite:///data/drift.db"
    sqlite = features(write_manifest(files, {
        "reference": {"sql": {"url": url, "table": "ref"}},
        "current": {"sql": {"url": url, "query": "SELECT * FROM cur"}}}))
    assert_same(parquet, csv, "csv")
    assert_same(parquet, sqlite, "sqlite")
    assert parquet["amount"]["method"] == "binned"
    check_against_scipy(sqlite, *data)


def test_the_exact_path_agrees_too(tmp_path: Path) -> None:
    ref, cur = frames(900, 700, seed=11)
    root = tmp_path / "small"
    root.mkdir()
    ref.to_parquet(root / "ref.parquet", index=False)
    cur.to_parquet(root / "cur.parquet", index=False)
    sqlite_db(root / "small.db", ref, cur)
    files_ = features(write_manifest(root, {"reference": {"data": "ref.parquet"},
                                            "current": {"data": "cur.parquet"}}))
    sqlite = features(write_manifest(root, {
        "reference": {"sql": {"url": "sqlite:///small.db", "table": "ref"}},
        "current": {"sql": {"url": "sqlite:///small.db", "table": "cur"}}}))
    assert_same(files_, sqlite, "sqlite exact")
    a = ref["amount"].to_numpy(dtype=float)
    b = cur["amount"].to_numpy(dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    ks = sp.ks_2samp(a, b)
    assert files_["amount"]["method"] == "exact" and files_["amount"]["ks_method"] == "exact"
    assert files_["amount"]["statistics"]["ks"] == pytest.approx(float(ks.statistic), rel=1e-12)
    assert files_["amount"]["statistics"]["ks_p_value"] == pytest.approx(float(ks.pvalue),
                                                                          rel=1e-8)
    assert files_["amount"]["precision"] == {"ks": 0.0, "wasserstein_norm": 0.0}


@pytest.fixture
def pg_tables(data: tuple[Any, Any]) -> Iterator[tuple[str, str]]:
    url = pg_url()
    if url is None:
        pytest.skip(f'{PG_ENV} is not set: start PostgreSQL with `eval "$(bash .ci/postgres.sh)"`')
    import sqlalchemy as sa

    ref, cur = data
    schema, suffix = "gate_drift", uuid.uuid4().hex[:8]
    names = (f"ref_{suffix}", f"cur_{suffix}")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    for name, frame in zip(names, (ref, cur), strict=True):
        frame.to_sql(name, engine, schema=schema, index=False)
    yield f"{schema}.{names[0]}", f"{schema}.{names[1]}"
    with engine.begin() as c:
        for name in names:
            c.execute(sa.text(f"DROP TABLE {schema}.{name}"))
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_pandas_sqlite_postgresql_and_spark_give_the_same_numbers(
        files: Path, data: tuple[Any, Any], pg_tables: tuple[str, str]) -> None:
    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    spark_session()  # the active session the Spark source uses
    results: dict[str, dict[str, dict[str, Any]]] = {
        "pandas": {"reference": {"data": "data/ref.parquet"},
                   "current": {"data": "data/cur.parquet"}},
        "sqlite": {"reference": {"sql": {"url": "sqlite:///data/drift.db", "table": "ref"}},
                   "current": {"sql": {"url": "sqlite:///data/drift.db", "table": "cur"}}},
        "postgresql": {"reference": {"sql": {"url": "${" + PG_ENV + "}", "table": pg_tables[0]}},
                       "current": {"sql": {"url": "${" + PG_ENV + "}",
                                           "query": f"SELECT * FROM {pg_tables[1]}"}}},
        "spark": {"reference": {"spark": {"path": "data/ref.parquet"}},
                  "current": {"spark": {"path": "data/cur.parquet"}}},
    }
    got = {engine: features(write_manifest(files, sides)) for engine, sides in results.items()}
    for engine in ("sqlite", "postgresql", "spark"):
        assert_same(got["pandas"], got[engine], engine)
        check_against_scipy(got[engine], *data)
    assert math.isclose(got["spark"]["amount"]["statistics"]["psi"],
                        got["postgresql"]["amount"]["statistics"]["psi"], rel_tol=1e-12)
