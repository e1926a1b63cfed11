"""Per-source summarisers: what each engine computes so that only summaries cross the wire.

A drift check asks each side's engine for the same few things (``Summariser``):
the kind of each column, one overview pass (rows; per numeric feature the count
of finite values, min, max and sum; per categorical feature the count of
non-missing values), and then per feature either its value counts (GROUP BY,
capped: the exact path), its reference quantiles at given ranks (a sort in the
engine), or its counts, sums and centred sums of squares per bin (the binned
path). Missing means NULL, and for numbers also NaN and +/-Infinity.

Bins are right-closed: bin ``b`` of edges ``e`` holds ``e[b-1] < x <= e[b]``
(bin 0 everything up to ``e[0]``, the last bin everything above the last edge),
so a bin's index is the number of edges strictly below the value. Quantiles are
discrete (``inverted_cdf``): the value at 1-based rank ``r`` of the sorted finite
values. Both are defined with integers, so every engine gives the same edges and
the same counts.

Adapters: ``frame`` (pandas, for files), ``sql`` (SQLAlchemy: SQLite,
PostgreSQL, any dialect with window functions) and ``spark``. Each reuses the
validation source of the same manifest key to open its data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gate.documents import InputFiles

# Column kinds as the summarisers report them; None: the column does not exist. EMPTY:
# no value to tell from (every row missing), which goes with any kind on the other side.
NUMBER, TEXT, BOOLEAN, OTHER, MIXED, EMPTY = "number", "text", "boolean", "other", "mixed", "empty"


@dataclass(frozen=True)
class NumericOverview:
    """One numeric feature on one side, from the overview pass."""

    valid: int  # finite values
    minimum: float | None
    maximum: float | None
    total: float | None  # their sum


@dataclass(frozen=True)
class Overview:
    """One side, from the overview pass."""

    rows: int
    numeric: Mapping[str, NumericOverview] = field(default_factory=dict)
    categorical: Mapping[str, int] = field(default_factory=dict)  # non-missing values


@dataclass(frozen=True)
class Bins:
    """Per bin (len(edges) + 1 of them): count, sum and sum of (x - center)^2."""

    counts: Sequence[int]
    sums: Sequence[float]
    squares: Sequence[float]


class Summariser(Protocol):
    """One side of a drift check, answering from its engine."""

    shown: str  # what input.drift says the data is (a bundle path, a masked URL, a table)

    def kinds(self, columns: Sequence[str]) -> dict[str, str | None]:
        """Each column's kind (NUMBER, TEXT, BOOLEAN, OTHER, MIXED, EMPTY), None if absent."""
        ...

    def overview(self, numeric: Sequence[str], categorical: Sequence[str]) -> Overview:
        """One pass: rows, and per feature the counts and extremes above."""
        ...

    def value_counts(self, column: str, *, numeric: bool, limit: int) -> list[tuple[Any, int]]:
        """At most ``limit`` (value, count) pairs of non-missing values (GROUP BY)."""
        ...

    def quantiles(self, requests: Mapping[str, tuple[Sequence[int], int]]
                  ) -> dict[str, list[float]]:
        """Per column (ranks, its count of finite values): the finite values at those
        1-based ranks of its sorted finite values. All columns at once, so an engine
        with a cost per job (Spark) can answer in one."""
        ...

    def bins(self, requests: Mapping[str, tuple[Sequence[float], float]]) -> dict[str, Bins]:
        """Per column (edges, center): counts, sums and squares about the center of its
        finite values per right-closed bin. All columns at once, as ``quantiles``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _optional_float(value: Any) -> float | None:
    """An engine's aggregate (None over no value) as a float."""
    return None if value is None else float(value)


def overview_from_row(row: Sequence[Any], numeric: Sequence[str],
                      categorical: Sequence[str]) -> Overview:
    """The overview from its one row: COUNT(*), then per numeric feature (valid, min, max,
    sum), then per categorical feature its count of non-missing values."""
    nums = {}
    for i, name in enumerate(numeric):
        valid, lo, hi, total = row[1 + 4 * i: 5 + 4 * i]
        nums[name] = NumericOverview(int(valid or 0), _optional_float(lo), _optional_float(hi),
                                     _optional_float(total))
    base = 1 + 4 * len(numeric)
    cats = {name: int(row[base + i] or 0) for i, name in enumerate(categorical)}
    return Overview(rows=int(row[0]), numeric=nums, categorical=cats)


def rank_probabilities(ranks: Sequence[int], valid: int) -> list[float]:
    """The probabilities to ask an engine whose discrete percentile at ``p`` is the value at
    rank ``ceil(p * n)`` (PostgreSQL's ``percentile_disc``, Spark's ``approxQuantile`` with
    relative error 0) for the 1-based ``ranks`` of ``valid`` values: ``(r - 1/2) / n`` lands
    on rank ``r`` whatever the rounding of ``p * n``."""
    return [(r - 0.5) / valid for r in ranks]


def summariser(spec: Mapping[str, Any], files: InputFiles, *, what: str,
               manifest: str) -> Summariser:
    """The summariser for one side (``data``, ``sql`` or ``spark``), not yet reading anything."""
    if "sql" in spec:
        from gate.drift.summarisers.sql import SqlSummariser

        return SqlSummariser(spec, files, what=what, manifest=manifest)
    if "spark" in spec:
        from gate.drift.summarisers.spark import SparkSummariser

        return SparkSummariser(spec, files, what=what, manifest=manifest)
    from gate.drift.summarisers.frame import FrameSummariser

    return FrameSummariser(spec, files, what=what, manifest=manifest)


def bin_tree(edges: Sequence[str], value: str, lo: int = 0, hi: int | None = None) -> str:
    """A nested CASE (a binary search) giving the number of ``edges`` strictly below ``value``.

    ``edges`` are SQL expressions of ascending numbers (bound parameters); the
    depth is log2 of their number, well inside any SQL parser's limit.
    """
    hi = len(edges) if hi is None else hi
    if lo == hi:
        return str(lo)
    mid = (lo + hi) // 2
    return (f"CASE WHEN {value} > {edges[mid]} THEN {bin_tree(edges, value, mid + 1, hi)} "
            f"ELSE {bin_tree(edges, value, lo, mid)} END")
