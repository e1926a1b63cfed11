"""A Spark table or path, summarised by Spark: aggregates, exact quantiles, Bucketizer.

The DataFrame comes from the validations' SparkSource (the active session or
one started from Spark's own configuration; bundle paths confined and hashed).
Quantiles are ``approxQuantile`` with relative error 0, which Spark computes
exactly (the value at rank ``ceil(p * n)``); bins are counted by
``pyspark.ml.feature.Bucketizer`` and a ``groupBy``. Only aggregates reach the
Python process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.documents import InputFiles
from gate.drift.summarisers import (
    BOOLEAN,
    NUMBER,
    OTHER,
    TEXT,
    Bins,
    Overview,
    overview_from_row,
    rank_probabilities,
)
from gate.errors import DriftError, GateError
from gate.validations.sources.spark import SparkSource


class SparkSummariser:
    """``spark: {table | path, format, options}`` as for validations."""

    def __init__(self, spec: Mapping[str, Any], files: InputFiles, *, what: str,
                 manifest: str) -> None:
        self.source = SparkSource(spec, files, manifest, what=what)
        self.what = what
        self.manifest = manifest
        self.shown = self.source.shown
        self._frame: Any = None

    @property
    def frame(self) -> Any:
        if self._frame is None:
            self._frame = self.source.frame()
        return self._frame

    def _guard(self, doing: str, action: Any) -> Any:
        try:
            return action()
        except GateError:
            raise
        except Exception as e:  # AnalysisException, Py4JJavaError, ...: all from the JVM
            why = " ".join(str(e).split()[:60]) or type(e).__name__
            raise DriftError(f"{self.what}: Spark cannot {doing} on {self.shown}: {why}",
                             path=self.manifest,
                             hint="check the table or path, its format and options") from e

    def _num(self, name: str) -> Any:
        from pyspark.sql import functions as f

        return f.col(f"`{name}`").cast("double")

    def _valid(self, name: str) -> Any:
        from pyspark.sql import functions as f

        x = self._num(name)
        return x.isNotNull() & ~f.isnan(x) & (f.abs(x) != f.lit(float("inf")))

    def kinds(self, columns: Sequence[str]) -> dict[str, str | None]:
        from pyspark.sql import types as t

        fields = self._guard("read the schema", lambda: {fl.name: fl.dataType
                                                       for fl in self.frame.schema.fields})
        out: dict[str, str | None] = {}
        for name in columns:
            kind = fields.get(name)
            out[name] = (None if kind is None else NUMBER if isinstance(kind, t.NumericType)
                         else TEXT if isinstance(kind, t.StringType)
                         else BOOLEAN if isinstance(kind, t.BooleanType) else OTHER)
        return out

    def overview(self, numeric: Sequence[str], categorical: Sequence[str]) -> Overview:
        from pyspark.sql import functions as f

        exprs = [f.count(f.lit(1))]
        for name in numeric:
            valid, x = self._valid(name), self._num(name)
            exprs += [f.count(f.when(valid, 1)), f.min(f.when(valid, x)),
                      f.max(f.when(valid, x)), f.sum(f.when(valid, x))]
        exprs += [f.count(f.col(f"`{name}`")) for name in categorical]
        row = self._guard("count the rows", lambda: self.frame.agg(*exprs).collect()[0])
        return overview_from_row(row, numeric, categorical)

    def value_counts(self, column: str, *, numeric: bool, limit: int) -> list[tuple[Any, int]]:
        if numeric:
            frame = self.frame.where(self._valid(column)).select(self._num(column).alias("v"))
        else:
            frame = self.frame.where(f"`{column}` IS NOT NULL").select(
                self.frame[f"`{column}`"].alias("v"))
        rows = self._guard(f"count the values of '{column}'",
                           lambda: frame.groupBy("v").count().orderBy("v").limit(limit)
                           .collect())
        return [(float(r[0]) if numeric else r[0], int(r[1])) for r in rows]

    def quantiles(self, requests: Mapping[str, tuple[Sequence[int], int]]
                  ) -> dict[str, list[float]]:
        """One ``approxQuantile`` job over every column (missing values made null, which it
        ignores), at the union of the columns' probabilities; each column reads its own."""
        from pyspark.sql import functions as f

        columns = list(requests)
        wanted = {c: rank_probabilities(ranks, valid) for c, (ranks, valid) in requests.items()}
        probs = sorted({p for ps in wanted.values() for p in ps})
        index = {p: i for i, p in enumerate(probs)}
        frame = self.frame.select(*[f.when(self._valid(c), self._num(c)).alias(f"q{i}")
                                    for i, c in enumerate(columns)])
        names = [f"q{i}" for i in range(len(columns))]
        got = self._guard(f"compute the quantiles of {', '.join(columns)}",
                          lambda: frame.approxQuantile(names, probs, 0.0))
        return {c: [float(got[i][index[p]]) for p in wanted[c]] for i, c in enumerate(columns)}

    def bins(self, requests: Mapping[str, tuple[Sequence[float], float]]) -> dict[str, Bins]:
        """One job for every column: a multi-column ``Bucketizer``, then the columns stacked
        into (feature, bucket, value) rows and one ``groupBy``."""
        from pyspark.ml.feature import Bucketizer
        from pyspark.sql import functions as f

        columns = list(requests)
        inf, nan = float("inf"), float("nan")
        # Bucketizer's buckets are [s_i, s_i+1): on -x against the negated edges a value's
        # bucket is the number of edges >= x, so its right-closed bin is k minus it. A
        # missing value is NaN, which the "keep" bucket takes, and is dropped below.
        frame = self.frame.select(*[
            f.when(self._valid(c), -self._num(c)).otherwise(f.lit(nan)).alias(f"x{i}")
            for i, c in enumerate(columns)])
        splits = [[-inf, *(-float(e) for e in reversed(requests[c][0])), inf] for c in columns]
        bucketed = Bucketizer(splitsArray=splits, inputCols=[f"x{i}" for i in range(len(columns))],
                              outputCols=[f"j{i}" for i in range(len(columns))],
                              handleInvalid="keep").transform(frame)
        stacked = bucketed.selectExpr(
            f"stack({len(columns)}, "
            + ", ".join(f"{i}, j{i}, x{i}" for i in range(len(columns))) + ") AS (f, j, x)")
        center = f.lit(0.0)
        for i, c in enumerate(columns):
            center = f.when(f.col("f") == i, f.lit(float(requests[c][1]))).otherwise(center)
        grouped = stacked.where(~f.isnan("x")).groupBy("f", "j").agg(
            f.count(f.lit(1)), f.sum(-f.col("x")), f.sum((-f.col("x") - center) ** 2))
        rows = self._guard(f"count the bins of {', '.join(columns)}", grouped.collect)
        counts = {c: [0] * (len(requests[c][0]) + 1) for c in columns}
        sums = {c: [0.0] * (len(requests[c][0]) + 1) for c in columns}
        squares = {c: [0.0] * (len(requests[c][0]) + 1) for c in columns}
        for fi, j, n, total, sq in rows:
            c = columns[int(fi)]
            b = len(requests[c][0]) - int(j)
            counts[c][b], sums[c][b], squares[c][b] = int(n), float(total), float(sq)
        return {c: Bins(counts[c], sums[c], squares[c]) for c in columns}

    def close(self) -> None:
        self._frame = None
