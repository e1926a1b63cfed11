"""A Hugging Face model card's ``model-index`` -> an evaluation report.

Each result's metrics give ``metrics[type] = value`` (a number, a numeric
string, or ``"value ± error"``, of which the value is kept). huggingface_hub
writes one result per task, dataset, config, split *and* dataset revision,
and cards written by other tools repeat a split per source or per metric
arguments; gate merges every result of one task type, dataset, config and
split into one slice (the first value of a metric type listed wins). When a
metric type then appears in more than one slice (several splits, configs,
datasets or tasks), the top-level value is the one from the first result
listed (a card's headline result comes first), and every slice is reported,
so a policy can address each one. A slice is named ``config/split`` from the
result's dataset; the dataset (``type``, else ``name``) goes in front when the
slices span more than one dataset or when config and split are both absent,
and the task type in front of that when they span more than one task. Slices
have no count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from gate.bundle.formats.evaluation import report
from gate.errors import DocumentError, json_path
from gate.schemas import first_problem

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
                                "task": {"type": ["object", "null"],
                                         "properties": {"type": _LABEL}},
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


def _dataset(ds: dict[str, Any]) -> str:
    """A result's dataset as slice names show it: its ``type``, else its ``name``."""
    return _label(ds.get("type")) or _label(ds.get("name"))


Result = tuple[dict[str, Any], str, dict[str, Any]]  # (dataset, task type, metrics)


def _merged(results: list[Result]) -> list[Result]:
    """One entry per task type, dataset, config and split, in first-listed order."""
    groups: dict[tuple[str, ...], Result] = {}
    for ds, task, values in results:
        key = (task, _dataset(ds), _label(ds.get("config")), _label(ds.get("split")))
        if key in groups:
            for metric_type, value in values.items():
                groups[key][2].setdefault(metric_type, value)
        else:
            groups[key] = (ds, task, dict(values))
    return list(groups.values())


def _slices(results: list[Result]) -> list[dict[str, Any]]:
    datasets = {_dataset(ds) for ds, _, _ in results}
    tasks = {task for _, task, _ in results}
    slices: list[dict[str, Any]] = []
    used: set[str] = set()
    for n, (ds, task, values) in enumerate(results, start=1):
        dataset = _dataset(ds)
        parts = [_label(ds.get("config")), _label(ds.get("split"))]
        if len(datasets) > 1 or not any(parts):
            parts.insert(0, dataset)
        if len(tasks) > 1:
            parts.insert(0, task)
        base = "/".join(p for p in parts if p) or f"result-{n}"
        name, k = base, 2
        while name in used:  # only where labels hold '/': 'a/b' + 'c' and 'a' + 'b/c'
            name, k = f"{base}#{k}", k + 1
        used.add(name)
        slices.append({"name": name, "metrics": values, "count": None})
    return slices


def read(doc: Any, shown: str, role: str) -> dict[str, Any]:
    """Metrics (and, for repeated metrics, slices) from the card's model-index."""
    _check(doc, shown, role)
    results: list[Result] = []
    for i, entry in enumerate(doc["model-index"]):
        for j, result in enumerate(entry["results"]):
            values: dict[str, Any] = {}
            for k, metric in enumerate(result["metrics"]):
                parts = ["model-index", i, "results", j, "metrics", k, "value"]
                values.setdefault(metric["type"], _number(metric["value"], shown, parts))
            task = result.get("task")
            task_type = _label(task.get("type")) if isinstance(task, dict) else ""
            results.append((result.get("dataset") or {}, task_type, values))
    results = _merged(results)
    counts = Counter(t for _, _, values in results for t in values)
    metrics: dict[str, Any] = {}
    for _, _, values in results:
        for metric_type, value in values.items():
            metrics.setdefault(metric_type, value)
    slices = _slices(results) if any(c > 1 for c in counts.values()) else []
    return report(None, metrics, slices)
