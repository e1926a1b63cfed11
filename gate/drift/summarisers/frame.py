"""A data file of the bundle (csv, parquet, jsonl, json), summarised with pandas and numpy.

The file is read by the validations' FileSource (confined to the bundle,
hashed, parsed from memory), so it is held in memory once: for data that does
not fit, point the check at the database or Spark table it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gate.documents import InputFiles
from gate.drift.summarisers import (
    BOOLEAN,
    EMPTY,
    MIXED,
    NUMBER,
    OTHER,
    TEXT,
    Bins,
    NumericOverview,
    Overview,
)
from gate.validations.sources.files import FileSource

_INFERRED = {"string": TEXT, "unicode": TEXT, "bytes": TEXT, "boolean": BOOLEAN,
             "integer": NUMBER, "floating": NUMBER, "mixed-integer-float": NUMBER,
             "decimal": NUMBER, "empty": EMPTY}


class FrameSummariser:
    """``data: PATH`` (``format:`` as for validations)."""

    def __init__(self, spec: Mapping[str, Any], files: InputFiles, *, what: str,
                 manifest: str) -> None:
        self.source = FileSource(spec, files, manifest, what=what)
        self.shown = self.source.shown
        self._frame: Any = None

    @property
    def frame(self) -> Any:
        if self._frame is None:
            self._frame = self.source.read()
        return self._frame

    def kinds(self, columns: Sequence[str]) -> dict[str, str | None]:
        import pandas as pd

        out: dict[str, str | None] = {}
        for name in columns:
            if name not in self.frame.columns:
                out[name] = None
                continue
            series = self.frame[name]
            kind = series.dtype.kind
            if kind in "iuf":
                out[name] = NUMBER
            elif kind == "b":
                out[name] = BOOLEAN
            else:
                inferred = pd.api.types.infer_dtype(series, skipna=True)
                out[name] = _INFERRED.get(inferred, MIXED if inferred.startswith("mixed")
                                          else OTHER)
        return out

    def _finite(self, column: str) -> Any:
        values = self.frame[column].to_numpy(dtype=float, na_value=np.nan)
        return values[np.isfinite(values)]

    def overview(self, numeric: Sequence[str], categorical: Sequence[str]) -> Overview:
        nums = {}
        for name in numeric:
            v = self._finite(name)
            nums[name] = NumericOverview(
                valid=int(v.size), minimum=float(v.min()) if v.size else None,
                maximum=float(v.max()) if v.size else None,
                total=float(v.sum()) if v.size else None)
        cats = {name: int(self.frame[name].notna().sum()) for name in categorical}
        return Overview(rows=len(self.frame), numeric=nums, categorical=cats)

    def value_counts(self, column: str, *, numeric: bool, limit: int) -> list[tuple[Any, int]]:
        if numeric:
            values, counts = np.unique(self._finite(column), return_counts=True)
            pairs = list(zip(values.tolist(), counts.tolist(), strict=True))
        else:
            series = self.frame[column]
            counts = series[series.notna()].value_counts(sort=False)
            pairs = [(_plain(k), int(v)) for k, v in counts.items()]
        return pairs[:limit]

    def quantiles(self, requests: Mapping[str, tuple[Sequence[int], int]]
                  ) -> dict[str, list[float]]:
        out = {}
        for column, (ranks, _valid) in requests.items():
            values = np.sort(self._finite(column))
            out[column] = [float(values[r - 1]) for r in ranks]
        return out

    def bins(self, requests: Mapping[str, tuple[Sequence[float], float]]) -> dict[str, Bins]:
        return {column: self._bins(column, edges, center)
                for column, (edges, center) in requests.items()}

    def _bins(self, column: str, edges: Sequence[float], center: float) -> Bins:
        v = self._finite(column)
        index = np.searchsorted(np.asarray(edges, dtype=float), v, side="left")
        size = len(edges) + 1
        return Bins(counts=np.bincount(index, minlength=size).tolist(),
                    sums=np.bincount(index, weights=v, minlength=size).tolist(),
                    squares=np.bincount(index, weights=(v - center) ** 2,
                                        minlength=size).tolist())

    def close(self) -> None:
        self._frame = None


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
