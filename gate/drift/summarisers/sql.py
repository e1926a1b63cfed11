"""A table or query in a database, summarised by the database itself through SQLAlchemy.

The connection comes from the validations' SqlSource (``${env.NAME}`` from the
environment, the password never shown, a SQLite file confined to the bundle,
hashed and opened read-only). Every statistic is an aggregate the database
computes; what comes back is one row per query, one row per bin, or at most
the capped number of (value, count) pairs.

Dialects: PostgreSQL uses ``percentile_disc`` for quantiles and
``width_bucket`` for bins; SQLite and any other dialect use
``ROW_NUMBER() OVER (ORDER BY x)`` and a nested CASE (a binary search over
bound edges). Bound parameters carry every number, so edges reach the
database bit for bit. On PostgreSQL the transaction is read-only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.documents import InputFiles
from gate.drift.summarisers import (
    BOOLEAN,
    EMPTY,
    MIXED,
    NUMBER,
    OTHER,
    TEXT,
    Bins,
    Overview,
    bin_tree,
    overview_from_row,
    rank_probabilities,
)
from gate.errors import DriftError
from gate.validations.sources.sql import SqlSource

_MAX_DOUBLE = "1.7976931348623157e308"
_PG_BOOL_OID = 16
_CONNECT_TIMEOUT_S = 15


class SqlSummariser:
    """``sql: {url, table | query}`` as for validations."""

    def __init__(self, spec: Mapping[str, Any], files: InputFiles, *, what: str,
                 manifest: str) -> None:
        self.source = SqlSource(spec, files, manifest, what=what)
        self.what = what
        self.manifest = manifest
        self.shown = self.source.shown
        self.backend = self.source.backend
        self._engine: Any = None
        self._conn: Any = None
        self._quote: Any = None

    # --- connection and text ---------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is not None:
            return self._conn
        import sqlalchemy as sa

        args: dict[str, Any] = {}
        if self.backend == "postgresql":
            args["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT_S}
        try:
            self._engine = sa.create_engine(self.source.url, **args)
            self._conn = self._engine.connect()
            if self.backend == "postgresql":
                self._conn.execute(sa.text("SET TRANSACTION READ ONLY"))
        except Exception as e:  # drivers and SQLAlchemy raise their own
            self.close()
            raise DriftError(
                f"{self.what}: cannot connect to the database {self.source.masked}: "
                f"{self.source.why(e)}",
                path=self.manifest,
                hint="check that the database is reachable from here and the url and "
                     "credentials are right (the driver must be installed, e.g. "
                     "pip install 'gate[drift,postgres]')",
            ) from e
        self._quote = self._engine.dialect.identifier_preparer.quote
        return self._conn

    def _from(self) -> str:
        if self.source.table:
            return ".".join(self._quote(part) for part in self.source.table.split("."))
        return f"({self.source.query}) AS gate_drift_source"

    def _col(self, name: str) -> str:
        return str(self._quote(name))

    def _num(self, name: str) -> str:
        if self.backend == "postgresql":
            return f"CAST({self._col(name)} AS DOUBLE PRECISION)"
        return self._col(name)

    def _valid(self, name: str) -> str:
        c = self._col(name)
        if self.backend == "postgresql":
            return (f"({c} IS NOT NULL AND {self._num(name)} NOT IN "
                    "('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8))")
        if self.backend == "sqlite":  # SQLite stores NaN as NULL; Infinity is a REAL
            return f"({c} IS NOT NULL AND {c} BETWEEN -{_MAX_DOUBLE} AND {_MAX_DOUBLE})"
        return f"({c} IS NOT NULL)"

    def _run(self, sql: str, params: Mapping[str, Any] | None, doing: str) -> Any:
        import sqlalchemy as sa

        conn = self._connection()
        try:
            return conn.execute(sa.text(sql), dict(params or {}))
        except Exception as e:  # the database's own error, e.g. a missing table
            what = (f"table '{self.source.table}'" if self.source.table else "the query")
            raise DriftError(
                f"{self.what}: cannot {doing} from {what} in {self.source.masked}: "
                f"{self.source.why(e)}",
                path=self.manifest,
                hint="check that the table exists (schema.table) and the user may select "
                     "from it, or that the query runs",
            ) from e

    # --- the Summariser protocol -------------------------------------------------------

    def kinds(self, columns: Sequence[str]) -> dict[str, str | None]:
        self._connection()
        probe = self._run(f"SELECT * FROM {self._from()} WHERE 1 = 0", None, "read columns")
        description = probe.cursor.description or []
        probe.close()
        present = {str(d[0]): d[1] for d in description}
        out: dict[str, str | None] = {name: None for name in columns if name not in present}
        wanted = [name for name in columns if name in present]
        if self.backend == "sqlite":  # types are per value: count them
            out.update(self._sqlite_kinds(wanted))
        else:
            dbapi = self._engine.dialect.dbapi
            for name in wanted:
                code = present[name]
                if self.backend == "postgresql" and code == _PG_BOOL_OID:
                    out[name] = BOOLEAN
                elif getattr(dbapi, "NUMBER", None) == code:
                    out[name] = NUMBER
                elif getattr(dbapi, "STRING", None) == code:
                    out[name] = TEXT
                else:
                    out[name] = OTHER
        return {name: out[name] for name in columns}

    def _sqlite_kinds(self, columns: Sequence[str]) -> dict[str, str | None]:
        if not columns:
            return {}
        parts = []
        for name in columns:
            c = self._col(name)
            parts += [f"SUM(CASE WHEN typeof({c}) IN ('integer', 'real') THEN 1 ELSE 0 END)",
                      f"SUM(CASE WHEN typeof({c}) = 'text' THEN 1 ELSE 0 END)",
                      f"COUNT({c})"]
        row = self._run(f"SELECT {', '.join(parts)} FROM {self._from()}", None,
                        "read column types").one()
        out: dict[str, str | None] = {}
        for i, name in enumerate(columns):
            numbers, texts, present = (int(row[3 * i + k] or 0) for k in range(3))
            out[name] = (EMPTY if present == 0 else NUMBER if numbers == present
                         else TEXT if texts == present else MIXED)
        return out

    def overview(self, numeric: Sequence[str], categorical: Sequence[str]) -> Overview:
        parts = ["COUNT(*)"]
        for name in numeric:
            valid, num = self._valid(name), self._num(name)
            parts += [f"COUNT(CASE WHEN {valid} THEN 1 END)",
                      f"MIN(CASE WHEN {valid} THEN {num} END)",
                      f"MAX(CASE WHEN {valid} THEN {num} END)",
                      f"SUM(CASE WHEN {valid} THEN {num} END)"]
        parts += [f"COUNT({self._col(name)})" for name in categorical]
        row = self._run(f"SELECT {', '.join(parts)} FROM {self._from()}", None,
                        "count the rows").one()
        return overview_from_row(row, numeric, categorical)

    def value_counts(self, column: str, *, numeric: bool, limit: int) -> list[tuple[Any, int]]:
        if numeric:
            expr, where = self._num(column), self._valid(column)
        else:
            expr, where = self._col(column), f"{self._col(column)} IS NOT NULL"
        rows = self._run(
            f"SELECT {expr} AS v, COUNT(*) AS n FROM {self._from()} WHERE {where} "
            f"GROUP BY {expr} ORDER BY {expr} LIMIT :limit", {"limit": int(limit)},
            f"count the values of '{column}'").all()
        return [(float(v) if numeric else v, int(n)) for v, n in rows]

    def quantiles(self, requests: Mapping[str, tuple[Sequence[int], int]]
                  ) -> dict[str, list[float]]:
        return {column: self._quantiles(column, ranks, valid)
                for column, (ranks, valid) in requests.items()}

    def bins(self, requests: Mapping[str, tuple[Sequence[float], float]]) -> dict[str, Bins]:
        return {column: self._bins(column, edges, center)
                for column, (edges, center) in requests.items()}

    def _quantiles(self, column: str, ranks: Sequence[int], valid: int) -> list[float]:
        num, where = self._num(column), self._valid(column)
        doing = f"compute the quantiles of '{column}'"
        if self.backend == "postgresql":
            probs = rank_probabilities(ranks, valid)
            row = self._run(
                f"SELECT percentile_disc(CAST(:p AS DOUBLE PRECISION[])) WITHIN GROUP "
                f"(ORDER BY {num}) FROM {self._from()} WHERE {where}", {"p": probs}, doing).one()
            return [float(v) for v in row[0]]
        names = [f"r{i}" for i in range(len(ranks))]
        rows = self._run(
            f"SELECT v FROM (SELECT {num} AS v, ROW_NUMBER() OVER (ORDER BY {num}) AS rn "
            f"FROM {self._from()} WHERE {where}) AS ranked "
            f"WHERE rn IN ({', '.join(':' + n for n in names)}) ORDER BY rn",
            dict(zip(names, (int(r) for r in ranks), strict=True)), doing).all()
        return [float(v) for (v,) in rows]

    def _bins(self, column: str, edges: Sequence[float], center: float) -> Bins:
        num, where = self._num(column), self._valid(column)
        params: dict[str, Any] = {"m": float(center)}
        if self.backend == "postgresql":
            # width_bucket counts the thresholds <= its operand; on -x against the negated
            # edges that is the number of edges >= x, so the right-closed bin is k minus it.
            params["t"] = [-float(e) for e in reversed(edges)]
            params["k"] = len(edges)
            index = f"(:k - width_bucket(-{num}, CAST(:t AS DOUBLE PRECISION[])))"
        else:
            names = [f":e{i}" for i in range(len(edges))]
            params.update({f"e{i}": float(e) for i, e in enumerate(edges)})
            index = bin_tree(names, num)
        rows = self._run(
            f"SELECT b, COUNT(*), SUM(v), SUM((v - :m) * (v - :m)) FROM (SELECT {index} AS b, "
            f"{num} AS v FROM {self._from()} WHERE {where}) AS binned GROUP BY b", params,
            f"count the bins of '{column}'").all()
        size = len(edges) + 1
        counts, sums, squares = [0] * size, [0.0] * size, [0.0] * size
        for b, n, total, sq in rows:
            counts[int(b)], sums[int(b)], squares[int(b)] = int(n), float(total), float(sq)
        return Bins(counts, sums, squares)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


