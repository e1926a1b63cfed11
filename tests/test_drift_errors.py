"""Bad input to a drift check is exit 2, naming the check's side, its data and the feature;
never a traceback, never a pass (`gate drift` and `gate check` alike)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from gx_support import PG_ENV, free_port, pg_url

from gate.cli import cli

ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": "", "CI": ""}
GOOD = pd.DataFrame({"amount": [1.0, 2.5, 3.0, 4.5] * 50, "country": ["DE", "FR"] * 100})


def bundle(root: Path, reference: dict[str, Any], current: dict[str, Any],
           features: dict[str, list[str]] | None = None, **extra: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"version": 1, "model": {"name": "fraud-detector", "version": "2.4.0"},
                "library": ["drift"],
                "drift": [{"name": "transactions", "reference": reference, "current": current,
                           "features": features or {"numeric": ["amount"],
                                                    "categorical": ["country"]}, **extra}]}
    (root / "gate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return root


def run(root: Path, command: str = "drift") -> Result:
    return CliRunner().invoke(cli, [command, "--config", str(root / "gate.yaml"), "-o",
                                    str(root / "out")], env=ENV)


def assert_refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "gate: drift error" in result.output  # not an internal error, nor a validation one
    for word in words:
        assert word in result.output, (word, result.output)


def files(root: Path, ref: Any, cur: Any, ext: str = "parquet") -> tuple[dict[str, str], ...]:
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in (("ref", ref), ("cur", cur)):
        if ext == "parquet":
            frame.to_parquet(root / f"{name}.parquet", index=False)
        else:
            frame.to_csv(root / f"{name}.csv", index=False)
    return {"data": f"ref.{ext}"}, {"data": f"cur.{ext}"}


@pytest.mark.parametrize("side", ["reference", "current"])
def test_a_missing_column_names_the_side_the_data_and_the_feature(tmp_path: Path,
                                                                  side: str) -> None:
    broken = GOOD.rename(columns={"amount": "amount_eur"})
    ref, cur = files(tmp_path, broken if side == "reference" else GOOD,
                     broken if side == "current" else GOOD)
    result = run(bundle(tmp_path, ref, cur))
    name = "ref" if side == "reference" else "cur"
    assert_refused(result, f"drift 'transactions' {side} data ({name}.parquet) has no column "
                           "'amount'", "gate.yaml at $.drift[0]." + side)
    doc = json.loads((tmp_path / "out" / "drift-report.json").read_text())
    assert doc["decision"] == "error" and doc["exit_code"] == 2
    assert not (tmp_path / "out" / "recalibration-plan.json").exists()


def test_a_numeric_feature_with_text_on_one_side(tmp_path: Path) -> None:
    text = GOOD.assign(amount=GOOD["amount"].map(lambda v: f"{v} EUR"))
    ref, cur = files(tmp_path, GOOD, text)
    assert_refused(run(bundle(tmp_path, ref, cur)), "drift 'transactions' current",
                   "feature 'amount' is declared numeric", "cur.parquet holds text values")


def test_a_categorical_feature_typed_differently_on_the_two_sides(tmp_path: Path) -> None:
    coded = GOOD.assign(country=[1, 2] * 100)
    ref, cur = files(tmp_path, GOOD, coded)
    assert_refused(run(bundle(tmp_path, ref, cur)),
                   "feature 'country' has text values in the reference (ref.parquet) and "
                   "number values in the current data (cur.parquet)")


def test_zero_rows_is_an_error_not_no_drift(tmp_path: Path) -> None:
    ref, cur = files(tmp_path, GOOD, GOOD.iloc[:0], ext="csv")
    assert_refused(run(bundle(tmp_path, ref, cur)),
                   "drift 'transactions' current data (cur.csv) has no rows (features amount, "
                   "country)")
    db = tmp_path / "d.db"
    with sqlite3.connect(db) as c:
        GOOD.to_sql("t", c, index=False)
    c.close()
    url = "sqlite:///d.db"
    empty = bundle(tmp_path, {"sql": {"url": url, "table": "t"}},
                   {"sql": {"url": url, "query": "SELECT * FROM t WHERE amount > 99"}})
    assert_refused(run(empty), "drift 'transactions' current data (sqlite:///d.db query) "
                               "has no rows")
    assert_refused(run(empty, "check"), "has no rows")  # gate check fails closed too


def test_an_unreachable_database_names_the_source_with_the_password_masked(
        tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql+psycopg2://gate:s3cret-pw@127.0.0.1:{port}/features"
    ref, _ = files(tmp_path, GOOD, GOOD)
    result = run(bundle(tmp_path, ref, {"sql": {"url": url, "table": "ml.features"}}))
    assert_refused(result, "drift 'transactions' current: cannot connect to the database "
                           f"postgresql+psycopg2://gate:***@127.0.0.1:{port}/features")
    assert "s3cret-pw" not in result.output
    missing = run(bundle(tmp_path, ref, {"sql": {"url": "sqlite:///nope.db", "table": "t"}}))
    assert_refused(missing, "nope.db", "file not found")


def test_sqlite_column_mixing_numbers_and_text(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (amount, country TEXT)")
        c.executemany("INSERT INTO t VALUES (?, ?)", [(1.5, "DE"), ("n/a", "FR"), (3, "DE")])
    c.close()
    url = "sqlite:///d.db"
    result = run(bundle(tmp_path, {"sql": {"url": url, "table": "t"}},
                        {"sql": {"url": url, "table": "t"}}))
    assert_refused(result, "drift 'transactions' reference: feature 'amount' mixes numbers "
                           "and text in sqlite:///d.db table t")


def test_declared_twice_or_too_many_categories(tmp_path: Path) -> None:
    ref, cur = files(tmp_path, GOOD, GOOD)
    twice = bundle(tmp_path, ref, cur, {"numeric": ["amount"], "categorical": ["amount"]})
    assert_refused(run(twice), "feature 'amount' is declared both numeric and categorical")
    ids = GOOD.assign(country=[f"user-{i}" for i in range(len(GOOD))])
    ref, cur = files(tmp_path / "ids", ids, ids)
    many = bundle(tmp_path / "ids", ref, cur, max_categories=50)
    assert_refused(run(many), "feature 'country' has more than 50 distinct values in ref.parquet")


def test_a_feature_all_missing_on_one_side_fails_rather_than_passes(tmp_path: Path) -> None:
    gone = GOOD.assign(amount=float("nan"))
    ref, cur = files(tmp_path, GOOD, gone)
    result = run(bundle(tmp_path, ref, cur))
    assert result.exit_code == 1, result.output
    assert "GATE-DRIFT-006" in result.output
    assert "feature 'amount' has no value in the current data (200 rows, all missing)" \
        in result.output


def test_a_missing_sqlite_table_or_a_query_that_does_not_run(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "d.db") as c:
        GOOD.to_sql("t", c, index=False)
    c.close()
    url = "sqlite:///d.db"
    table = run(bundle(tmp_path, {"sql": {"url": url, "table": "nope"}},
                       {"sql": {"url": url, "table": "t"}}))
    assert_refused(table, "drift 'transactions' reference: cannot read columns from table "
                          "'nope' in sqlite:///d.db", "no such table: nope")
    query = run(bundle(tmp_path, {"sql": {"url": url, "table": "t"}},
                       {"sql": {"url": url, "query": "SELEC * FROM t"}}))
    assert_refused(query, "drift 'transactions' current: cannot read columns from the query "
                          "in sqlite:///d.db", "syntax error")


@pytest.mark.postgres
def test_a_missing_postgresql_table(tmp_path: Path) -> None:
    if pg_url() is None:
        pytest.skip(f'{PG_ENV} is not set: start PostgreSQL with `eval "$(bash .ci/postgres.sh)"`')
    ref, _ = files(tmp_path, GOOD, GOOD)
    url = "${" + PG_ENV + "}"
    result = run(bundle(tmp_path, ref, {"sql": {"url": url, "table": "gate_drift.nope"}}))
    assert_refused(result, "drift 'transactions' current: cannot read columns from table "
                           "'gate_drift.nope'")


@pytest.mark.parametrize(("text", "words"), [
    ("{", ("drift-state.json:1:2", "cannot read the drift state: not valid JSON")),
    ('{"kind": "other"}', ("drift-state.json", "the drift state is not a gate drift-state "
                                               "document")),
])
def test_a_damaged_drift_state_is_an_error_until_reset(tmp_path: Path, text: str,
                                                       words: tuple[str, ...]) -> None:
    ref, cur = files(tmp_path, GOOD, GOOD)
    root = bundle(tmp_path, ref, cur)
    state = tmp_path / "out" / "drift-state.json"
    state.parent.mkdir()
    state.write_text(text)
    assert_refused(run(root), *words, "pass --reset-state to start the record over")
    assert state.read_text() == text  # never silently started over
    reset = CliRunner().invoke(cli, ["drift", "--config", str(root / "gate.yaml"), "-o",
                                     str(tmp_path / "out"), "--reset-state"], env=ENV)
    assert reset.exit_code == 0, reset.output
    assert json.loads(state.read_text())["kind"] == "gate.drift-state"


def test_a_missing_or_unreadable_data_file(tmp_path: Path) -> None:
    _, cur = files(tmp_path, GOOD, GOOD)
    assert_refused(run(bundle(tmp_path, {"data": "nope.parquet"}, cur)), "nope.parquet",
                   "drift 'transactions' reference data: file not found")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    assert_refused(run(bundle(tmp_path, {"data": "bad.parquet"}, cur)), "bad.parquet",
                   "drift 'transactions' reference: cannot read the data as parquet")


def test_two_checks_with_one_name(tmp_path: Path) -> None:
    ref, cur = files(tmp_path, GOOD, GOOD)
    root = bundle(tmp_path, ref, cur)
    manifest = yaml.safe_load((root / "gate.yaml").read_text())
    manifest["drift"].append(dict(manifest["drift"][0]))
    (root / "gate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    assert_refused(run(root), "gate.yaml at $.drift[1].name",
                   "two drift checks are named 'transactions'")


@pytest.mark.parametrize(("missing", "sides"), [
    (("pandas",), None),
    (("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.exc"), {"sql": {"url": "sqlite:///d.db",
                                                                     "table": "t"}}),
])
def test_without_the_drift_extra_it_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...],
        sides: dict[str, Any] | None) -> None:
    """A missing library of the `drift` extra is an error naming it and the extra (exit 2,
    drift-report.json written), not an internal error; `gate check` says the same."""
    ref, cur = files(tmp_path, GOOD, GOOD)
    root = bundle(tmp_path, sides or ref, sides or cur)
    for name in missing:  # as if not installed: importing it raises ModuleNotFoundError
        monkeypatch.setitem(sys.modules, name, None)
    for command in ("drift", "check"):
        result = run(root, command)
        assert_refused(result, f"the manifest has drift checks, but {missing[0]} cannot be "
                               "imported", 'pip install "gate-release[drift]"')
        assert "internal error" not in result.output
    doc = json.loads((tmp_path / "out" / "drift-report.json").read_text())
    assert doc["decision"] == "error" and doc["error"]["pointer"] == "$.drift"


def test_a_source_error_without_its_own_hint_gets_the_drift_hint(tmp_path: Path) -> None:
    """The validation sources raise ValidationErrors; re-raised for a drift check, their
    default hint (about "the validation named above") gives way to the drift check's."""
    root = bundle(tmp_path, {"sql": {"url": "sqlite:///pipe.db", "table": "t"}},
                  {"sql": {"url": "sqlite:///pipe.db", "table": "t"}})
    os.mkfifo(tmp_path / "pipe.db")  # never opened: refused as not a regular file
    result = run(root)
    assert_refused(result, "drift 'transactions' reference: cannot read the sqlite database: "
                           "it is a named pipe", "-> fix the drift check named above")
    assert "validation" not in result.output
