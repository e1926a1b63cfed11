"""Monitoring samples for `gate rollout`: the native form, or Prometheus HTTP API responses.

A monitoring file (JSON or YAML) maps each side to its metrics::

    {"canary":   {"latency_ms": [101.2, 98.7, ...], "error_rate": {...}},
     "baseline": {"latency_ms": [...], "error_rate": "prom/baseline-errors.json"}}

A metric's value is a list of numbers, a Prometheus HTTP API response (the
JSON of ``/api/v1/query`` or ``/api/v1/query_range``: vector, matrix or
scalar; every series' values become samples), or the path of a file holding
one, relative to the monitoring file's folder. NaN and infinite Prometheus
values are dropped and counted. Several ``--metrics`` files merge; a metric
may be given once per side. Each file holds every sample since the stage
began: the sequential test relies on it.

Every sample must be a finite number of at most MAX_MAGNITUDE in size (a
``1e999`` or a 400-digit integer is an error naming its place, never an
overflow later), and inside its metric's range (``rollout.ranges`` in
gate.yaml, ``[min, max]`` with null for no bound; 0 or more by default), so a
negative error rate cannot pass for a healthy canary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.documents import InputFiles, read_document
from gate.errors import DocumentError, GateError, json_path

SIDES = ("canary", "baseline")
MAX_MAGNITUDE = 1e15  # larger samples are refused: sums of squares stay finite
DEFAULT_RANGE: tuple[float | None, float | None] = (0.0, None)
OPTIONAL_KEYS = {"source", "collected_at", "description"}  # free-form notes a file may carry
_HINT = ("write {canary: {metric: [numbers]}, baseline: {...}}; a metric may also be a "
         "Prometheus /api/v1/query(_range) response or the path of a file holding one")


@dataclass(frozen=True)
class Monitoring:
    """Samples per side and metric, and where they came from."""

    canary: dict[str, list[float]] = field(default_factory=dict)
    baseline: dict[str, list[float]] = field(default_factory=dict)
    files: list[dict[str, str]] = field(default_factory=list)  # [{path, sha256}]
    dropped: dict[str, int] = field(default_factory=dict)  # "side.metric" -> NaN/Inf dropped
    origins: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    """"side.metric" -> (file, JSON path, inline list) where its samples were read."""

    def side(self, name: str) -> dict[str, list[float]]:
        return self.canary if name == "canary" else self.baseline


def _fail(msg: str, path: str, pointer: str) -> DocumentError:
    return DocumentError(msg, path=path, pointer=pointer, hint=_HINT)


def _number(v: Any, path: str, pointer: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(f"expected a number, found {type(v).__name__} {v!r}", path, pointer)
    if isinstance(v, float) and not math.isfinite(v):
        raise _fail(f"{v} is not a finite number (the JSON holds a number too large for a "
                    "float, such as 1e999)", path, pointer)
    if abs(v) > MAX_MAGNITUDE:
        shown = f"{v:.3g}" if isinstance(v, float) else f"an integer of {len(str(abs(v)))} digits"
        raise _fail(f"{shown} is larger than {MAX_MAGNITUDE:g} in size, which no monitoring "
                    "sample should be", path, pointer)
    return float(v)


def prometheus_values(doc: Mapping[str, Any], path: str, pointer: str) -> tuple[list[float], int]:
    """(finite samples, number dropped) from one Prometheus HTTP API response."""
    if doc.get("status") != "success":
        why = doc.get("error") or f"status is {doc.get('status')!r}"
        raise DocumentError(
            f"the Prometheus response is an error ({doc.get('errorType', 'unknown')}): {why}",
            path=path, pointer=pointer, hint="fix the query and fetch the response again",
        )
    data = doc.get("data")
    if not isinstance(data, Mapping):
        raise _fail("a Prometheus response needs a 'data' object", path, f"{pointer}.data")
    kind = data.get("resultType")
    result = data.get("result")
    raw: list[Any] = []
    if kind == "scalar":
        raw = [result]
    elif kind in ("vector", "matrix") and isinstance(result, list):
        key = "value" if kind == "vector" else "values"
        for i, series in enumerate(result):
            where = json_path(["data", "result", i], pointer)
            if not isinstance(series, Mapping) or key not in series:
                histogram = isinstance(series, Mapping) and ("histogram" in series
                                                             or "histograms" in series)
                raise _fail(
                    "native histograms are not samples; query a quantile or a rate instead"
                    if histogram else f"a {kind} series needs '{key}'", path, where)
            raw.extend([series[key]] if kind == "vector" else series[key])
    else:
        raise _fail(f"resultType {kind!r} is not supported (vector, matrix or scalar are)",
                    path, f"{pointer}.data.resultType")
    values: list[float] = []
    dropped = 0
    for point in raw:
        if not (isinstance(point, list) and len(point) == 2 and isinstance(point[1], str)):
            raise _fail("a Prometheus sample must be [timestamp, \"value\"]", path, pointer)
        try:
            value = float(point[1])
        except ValueError as e:
            raise _fail(f"sample value {point[1]!r} is not a number", path, pointer) from e
        if math.isfinite(value):
            values.append(_number(value, path, pointer))
        else:
            dropped += 1
    return values, dropped


def _load(path: Path, shown: str, files: list[dict[str, str]]) -> Any:
    doc, _ = read_document(  # a FIFO or device is refused
        path, shown, missing="monitoring file not found",
        missing_hint="pass the file your monitoring job wrote with --metrics",
        unreadable="cannot read the monitoring file",
        not_utf8="the monitoring file is not UTF-8 text",
        on_digest=lambda sha: files.append({"path": shown, "sha256": sha}))
    return doc


def _metric(value: Any, path: Path, shown: str, pointer: str,
            files: list[dict[str, str]]) -> tuple[list[float], int]:
    if isinstance(value, list):
        return [_number(v, shown, json_path([i], pointer)) for i, v in enumerate(value)], 0
    if isinstance(value, str):
        try:
            ref = InputFiles(path.parent).resolve(value, "monitoring")
        except GateError as e:
            raise DocumentError(f"{pointer}: {e.message}", path=shown, pointer=pointer,
                                hint="name a file inside the monitoring file's folder") from e
        ref_shown = str(Path(shown).parent / value)
        doc = _load(ref, ref_shown, files)
        if not isinstance(doc, Mapping):
            raise _fail("a referenced file must hold a Prometheus response", ref_shown, "$")
        return prometheus_values(doc, ref_shown, "$")
    if isinstance(value, Mapping) and "status" in value:
        return prometheus_values(value, shown, pointer)
    raise _fail("a metric must be a list of numbers, a Prometheus response or a file path",
                shown, pointer)


def read_monitoring(paths: Sequence[Path], *, shown: Sequence[str] | None = None) -> Monitoring:
    """Read and merge the ``--metrics`` files; errors name the file and the JSON path."""
    out = Monitoring()
    names = list(shown) if shown is not None else [str(p) for p in paths]
    for path, name in zip(paths, names, strict=True):
        doc = _load(path, name, out.files)
        if not isinstance(doc, Mapping):
            raise _fail("the monitoring file must be a mapping with canary and baseline", name,
                        "$")
        unknown = sorted(set(doc) - set(SIDES) - OPTIONAL_KEYS)
        if unknown:
            raise _fail(f"unknown key {unknown[0]!r} (expected canary and baseline)", name,
                        json_path([unknown[0]]))
        for side in SIDES:
            metrics = doc.get(side, {})
            if not isinstance(metrics, Mapping):
                raise _fail(f"{side} must map metric names to samples", name, f"$.{side}")
            for metric, value in metrics.items():
                pointer = json_path([side, metric])
                if metric in out.side(side):
                    raise _fail(f"{side} metric {metric!r} is given by more than one file",
                                name, pointer)
                values, dropped = _metric(value, path, name, pointer, out.files)
                out.side(side)[metric] = values
                if isinstance(value, str):  # a referenced Prometheus file
                    out.origins[f"{side}.{metric}"] = (str(Path(name).parent / value), "", False)
                else:
                    out.origins[f"{side}.{metric}"] = (name, pointer, isinstance(value, list))
                if dropped:
                    out.dropped[f"{side}.{metric}"] = dropped
    return out


def check_ranges(data: Monitoring, ranges: Mapping[str, Sequence[float | None]],
                 manifest: str) -> None:
    """Every sample lies in its metric's range (``rollout.ranges``; default 0 or more)."""
    for metric, bounds in ranges.items():
        lo, hi = bounds
        if lo is not None and hi is not None and lo > hi:
            raise DocumentError(f"the range of {metric} is empty ({lo} > {hi})", path=manifest,
                                pointer=json_path(["rollout", "ranges", metric]),
                                hint="write [min, max] with min <= max (null: no bound)")
    for side in SIDES:
        for metric, values in data.side(side).items():
            lo, hi = ranges.get(metric, DEFAULT_RANGE)
            for i, v in enumerate(values):
                if (lo is None or v >= lo) and (hi is None or v <= hi):
                    continue
                file, pointer, inline = data.origins.get(f"{side}.{metric}", ("", "", False))
                where = json_path([i], pointer) if inline else pointer or None
                shown = f"[{_bound(lo)}, {_bound(hi)}]"
                raise DocumentError(
                    f"{side} sample {v:g} of {metric} is outside its range {shown}"
                    + ("" if inline else f" (sample {i + 1} of the series)"),
                    path=file or None, pointer=where,
                    hint=(f"fix the monitoring data; if {metric} may really take such values, "
                          f"give its range in gate.yaml: rollout: {{ranges: {{{metric}: "
                          "[min, max]}}}} (null for no bound)"),
                )


def _bound(x: float | None) -> str:
    return "null" if x is None else f"{x:g}"
