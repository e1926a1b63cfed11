"""Suites over SQL tables and queries: SQLite files in the bundle, and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gx_support import PG_ENV, bundle, exp, free_port, pg_url, snapshot, suite

from gate.errors import ValidationError
from gate.validations import run_validations
from gate.validations.sources.sql import expand_env

ROWS = [("region=eu", 0.95, 1200), ("region=uk", 0.93, 900), ("region=us", 0.87, 40)]
SUITE = suite(
    exp("expect_column_values_to_be_between", column="roc_auc", min_value=0.9),
    exp("expect_column_values_to_be_between", "warning", column="n", min_value=100),
    exp("expect_table_row_count_to_be_between", min_value=3),
    meta={"gate": {"id_columns": ["slice"]}},
)
AUC_ID = "gx.{}.expect_column_values_to_be_between.roc_auc"


def sqlite_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE slices (slice TEXT, roc_auc REAL, n INTEGER)")
        db.executemany("INSERT INTO slices VALUES (?, ?, ?)", ROWS)
    db.close()
    return path


@pytest.mark.slow  # runs GX, whose first use takes about 2 s
def test_sqlite_table_and_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_db(tmp_path / "my data" / "eval.db")  # a space: the URI is quoted
    monkeypatch.setenv("GATE_TEST_DB", "my data/eval.db")
    m = bundle(tmp_path, [
        {"name": "table", "suite": "s.json", "sql": {"url": "sqlite:///my data/eval.db",
                                                     "table": "slices"}},
        {"name": "query", "suite": "s.json", "sql": {
            "url": "sqlite:///${GATE_TEST_DB}",
            "query": "SELECT * FROM slices WHERE slice <> 'region=uk'"}},
    ], {"s.json": SUITE})
    before = snapshot(tmp_path)
    (table, query), findings = run_validations(m)
    assert snapshot(tmp_path) == before  # opened read-only, no temp tables, no journal
    assert table["data"] == "sqlite:///my data/eval.db table slices"
    assert query["data"] == "sqlite:///my data/eval.db query"
    assert table["results"][2]["observed_value"] == 3
    assert query["results"][2]["observed_value"] == 2 and query["results"][2]["success"] is False
    ids = [f.id for f in findings]
    assert AUC_ID.format("table") in ids and AUC_ID.format("query") in ids
    auc = next(f for f in findings if f.id == AUC_ID.format("table"))
    assert "slice='region=us', roc_auc=0.87" in auc.message
    assert m.files.records["my data/eval.db"].role == "validation data"


@pytest.mark.parametrize(("sql", "words"), [
    ({"url": "sqlite:///eval.db", "table": "nope"}, "cannot read table 'nope'"),
    ({"url": "sqlite:///eval.db", "query": "SELEC * FROM slices"}, "cannot read the query"),
    ({"url": "sqlite:///missing.db", "table": "slices"}, "file not found"),
    ({"url": "sqlite:///../eval.db", "table": "slices"}, "leaves the bundle"),
    ({"url": "sqlite:///${GATE_TEST_UNSET_VARIABLE}", "table": "slices"},
     "GATE_TEST_UNSET_VARIABLE, which is not set"),
    ({"url": "not a url", "table": "slices"}, "not a SQLAlchemy URL"),
])
@pytest.mark.slow  # runs GX, whose first use takes about 2 s
def test_sql_problems_are_errors_naming_the_validation(tmp_path: Path, sql: dict[str, str],
                                                       words: str) -> None:
    sqlite_db(tmp_path / "eval.db")
    m = bundle(tmp_path, [{"name": "slices", "suite": "s.json", "sql": sql}], {"s.json": SUITE})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    assert "validation 'slices'" in info.value.message
    assert words in info.value.message
    assert info.value.exit_code == 2


@pytest.mark.slow  # runs GX, whose first use takes about 2 s
def test_a_database_that_cannot_be_reached_is_an_error_without_the_password(
        tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql+psycopg2://gate:s3cret-pw@127.0.0.1:{port}/eval"
    m = bundle(tmp_path, [{"name": "slices", "suite": "s.json",
                           "sql": {"url": url, "table": "slices"}}], {"s.json": SUITE})
    with pytest.raises(ValidationError) as info:
        run_validations(m)
    err = info.value
    assert "cannot connect to the database" in err.message and "validation 'slices'" in err.message
    assert f"postgresql+psycopg2://gate:***@127.0.0.1:{port}/eval" in err.message
    assert "s3cret-pw" not in err.render()


def test_env_expansion() -> None:
    env = {"USER_": "u", "PW": "p@ss"}
    assert expand_env("x://${USER_}:${PW}@h/${USER_}", "v", env) == "x://u:p@ss@h/u"
    assert expand_env("no refs $HOME", "v", env) == "no refs $HOME"
    # one placeholder syntax across gate.yaml: ${env.NAME}, as rollback steps write it
    assert expand_env("x://${env.USER_}:${env.PW}@h", "v", env) == "x://u:p@ss@h"
    assert expand_env("x://${model.name}", "v", env) == "x://${model.name}"  # not an env ref
    with pytest.raises(ValidationError, match="the environment variable NOPE, which"):
        expand_env("x://${env.NOPE}@h", "v", env)
    with pytest.raises(ValidationError, match="MISSING_A, MISSING_B"):
        expand_env("${MISSING_B}${MISSING_A}", "v", env)


@pytest.fixture
def pg_table() -> Iterator[tuple[str, str]]:
    """(schema, table) of a fresh table of slices in the test PostgreSQL, dropped afterwards."""
    url = pg_url()
    if url is None:
        pytest.skip(f'{PG_ENV} is not set: start PostgreSQL with `eval "$(bash .ci/postgres.sh)"`')
    import sqlalchemy as sa

    schema, table = "gate_eval", f"slices_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        c.execute(sa.text(f"CREATE TABLE {schema}.{table} "
                          "(slice TEXT PRIMARY KEY, roc_auc DOUBLE PRECISION, n INTEGER)"))
        c.execute(sa.text(f"INSERT INTO {schema}.{table} VALUES (:s, :a, :n)"),
                  [{"s": s, "a": a, "n": n} for s, a, n in ROWS])
    yield schema, table
    with engine.begin() as c:
        c.execute(sa.text(f"DROP TABLE {schema}.{table}"))
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow  # runs GX, whose first use takes about 2 s
def test_postgresql_table_and_query(tmp_path: Path, pg_table: tuple[str, str]) -> None:
    schema, table = pg_table
    url = "${" + PG_ENV + "}"  # the secret stays in the environment, as in CI
    m = bundle(tmp_path, [
        {"name": "pg-table", "suite": "s.json", "sql": {"url": url, "table": f"{schema}.{table}"}},
        {"name": "pg-query", "suite": "s.json", "sql": {
            "url": url, "query": f"SELECT * FROM {schema}.{table} WHERE n >= 100"}},
    ], {"s.json": SUITE})
    (by_table, by_query), findings = run_validations(m)
    assert by_table["data"].endswith(f"table {schema}.{table}") and "***" in by_table["data"]
    assert by_table["statistics"] == {"evaluated": 3, "successful": 1, "unsuccessful": 2}
    assert by_query["results"][2]["observed_value"] == 2
    assert by_query["results"][1]["success"] is True
    assert [f.id for f in findings] == [
        AUC_ID.format("pg-table"),
        "gx.pg-table.expect_column_values_to_be_between.n",
        "gx.pg-query.expect_table_row_count_to_be_between",  # eu and uk pass on AUC
    ]
    assert "slice='region=us', roc_auc=0.87" in findings[0].message
    import sqlalchemy as sa

    password = sa.engine.make_url(pg_url() or "").password
    assert password and str(password) not in by_table["data"]  # shown masked


@pytest.mark.postgres
@pytest.mark.slow  # runs GX, whose first use takes about 2 s
def test_postgresql_missing_table(tmp_path: Path, pg_table: tuple[str, str]) -> None:
    m = bundle(tmp_path, [{"name": "pg", "suite": "s.json", "sql": {
        "url": "${" + PG_ENV + "}", "table": f"{pg_table[0]}.no_such_table"}}], {"s.json": SUITE})
    with pytest.raises(ValidationError, match=r"cannot read table 'gate_eval\.no_such_table'"):
        run_validations(m)
