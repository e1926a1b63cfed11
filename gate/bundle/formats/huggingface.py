"""A Hugging Face model card's ``model-index`` -> an evaluation report.

Each result's metrics give ``metrics[type] = value`` (a number, a numeric
string, or ``"value ± error"``, of which the value is kept). When the card
lists more than one result giving the same metric type (several splits,
configs or datasets), the top-level value is the one from the first result
listed (a card's headline result comes first), and every result also
becomes a slice, so a policy can address each one. A slice is named
``config/split`` from the result's dataset; the dataset (``type``, else
``name``) goes in front when the results span more than one dataset or when
config and split are both absent; a name already taken gets ``#2``, ``#3``...
Within one result the first metric of a type wins. Slices have no count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from gate.bundle.formats.evaluation import report
from gate.errors import DocumentError
from gate.schemas import first_problem, json_path

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
VALUE = re.compile(rf"^\s*({_NUMBER})\s*(?:(?:±|\+/-)\s*{_NUMBER}\s*)?$")
_LABEL = {"type": ["string", "number", "null"]}
DATASET_KEYS = ("type", "name", "config", "split")
SCHEMA = {
    "type": "object",
    "required": ["model-index"],
    "properties": {
        "model-index": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["results"],
                "properties": {
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["metrics"],
                            "properties": {
                                "dataset": {
                                    "type": ["object", "null"],
                                    "properties": {k: _LABEL for k in DATASET_KEYS},
                                },
                                "metrics": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["type", "value"],
                                        "properties": {
                                            "type": {"type": "string", "minLength": 1},
                                            "value": {},  # checked by _number
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
HINT = "each model-index result needs metrics with a `type` and a numeric `value`"


def detect(doc: Any) -> bool:
    """A card (front matter or YAML) that carries a ``model-index``."""
    return isinstance(doc, dict) and "model-index" in doc


def _check(doc: Any, shown: str, role: str) -> None:
    found = first_problem(doc, SCHEMA)
    if found is not None:
        where, message = found
        raise DocumentError(f"the {role}'s model-index at {where}: {message}",
                            path=shown, pointer=where, hint=f"fix the value at {where}; {HINT}")


def _number(value: Any, shown: str, parts: list[Any]) -> float | int:
    if isinstance(value, str) and (match := VALUE.match(value)):
        value = float(match.group(1))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problem = f"{value!r:.60} is not a number"
    elif isinstance(value, float) and not math.isfinite(value):
        problem = f"{value} is not a finite number"
    else:
        return value
    where = json_path(parts)
    raise DocumentError(f"the metric value at {where}: {problem}", path=shown, pointer=where,
                        hint=f"write the value as a number, e.g. 0.93 or '0.93 ± 0.01'; {HINT}")


def _label(value: Any) -> str:
    return "" if value is None else str(value)


def _slices(results: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    datasets = {_label(ds.get("type")) or _label(ds.get("name")) for ds, _ in results}
    slices: list[dict[str, Any]] = []
    used: set[str] = set()
    for n, (ds, values) in enumerate(results, start=1):
        dataset = _label(ds.get("type")) or _label(ds.get("name"))
        parts = [_label(ds.get("config")), _label(ds.get("split"))]
        if len(datasets) > 1 or not any(parts):
            parts.insert(0, dataset)
        base = "/".join(p for p in parts if p) or f"result-{n}"
        name, k = base, 2
        while name in used:
            name, k = f"{base}#{k}", k + 1
        used.add(name)
        slices.append({"name": name, "metrics": values, "count": None})
    return slices


def read(doc: Any, shown: str, role: str) -> dict[str, Any]:
    """Metrics (and, for repeated metrics, slices) from the card's model-index."""
    _check(doc, shown, role)
    results: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for i, entry in enumerate(doc["model-index"]):
        for j, result in enumerate(entry["results"]):
            values: dict[str, Any] = {}
            for k, metric in enumerate(result["metrics"]):
                parts = ["model-index", i, "results", j, "metrics", k, "value"]
                values.setdefault(metric["type"], _number(metric["value"], shown, parts))
            results.append((result.get("dataset") or {}, values))
    counts = Counter(t for _, values in results for t in values)
    metrics: dict[str, Any] = {}
    for _, values in results:
        for metric_type, value in values.items():
            metrics.setdefault(metric_type, value)
    slices = _slices(results) if any(c > 1 for c in counts.values()) else []
    return report(None, metrics, slices)
