"""The gate-native evaluation report ``{model_version?, metrics, slices?}``, schema-checked."""

from __future__ import annotations

from typing import Any

from gate.schemas import validate


def report(
    model_version: str | None,
    metrics: dict[str, Any],
    slices: list[dict[str, Any]],
) -> dict[str, Any]:
    """One report in the shape every reader returns (extra keys dropped, count defaulted)."""
    return {
        "model_version": model_version,
        "metrics": dict(metrics),
        "slices": [
            {"name": s["name"], "metrics": dict(s["metrics"]), "count": s.get("count")}
            for s in slices
        ],
    }


def empty() -> dict[str, Any]:
    """What a bundle without this report has."""
    return report(None, {}, [])


def detect(doc: Any) -> bool:
    """The native reader is the fallback: it takes whatever no adapter claimed."""
    return True


def read(doc: Any, shown: str, role: str) -> dict[str, Any]:
    """Validate a native report against the ``evaluation`` schema and normalise it."""
    validate(doc, "evaluation", path=shown, what=f"the {role}")
    return report(doc.get("model_version"), doc["metrics"], doc.get("slices") or [])
