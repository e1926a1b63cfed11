"""The gate-native lineage document: ``input.lineage`` without ``raw``, checked by its schema."""

from __future__ import annotations

from typing import Any

from gate.schemas import validate

RUN_KEYS = ("id", "started_at", "ended_at", "producer")
CODE_KEYS = ("repository", "commit")
ROLES = ("train", "validation", "test", "eval", "other")


def empty() -> dict[str, Any]:
    """The lineage a bundle without a lineage file has: every fact unknown."""
    return shape({}, {}, [], [], None)


def shape(
    run: dict[str, Any],
    code: dict[str, Any],
    datasets: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    raw: Any,
) -> dict[str, Any]:
    """``input.lineage`` with every key present (unknown facts are null)."""
    return {
        "run": {k: run.get(k) for k in RUN_KEYS},
        "code": {k: code.get(k) for k in CODE_KEYS},
        "datasets": [
            {"name": d["name"], "uri": d.get("uri"), "sha256": d.get("sha256"),
             "role": d.get("role") or "other",
             "role_from": d.get("role_from", "declared" if d.get("role") else None)}
            for d in datasets
        ],
        "outputs": [
            {"name": o["name"], "uri": o.get("uri"), "sha256": o.get("sha256")} for o in outputs
        ],
        "raw": raw,
    }


def detect(doc: Any) -> bool:
    """The native reader is the fallback: it takes whatever no adapter claimed."""
    return True


def read(doc: Any, shown: str, role: str) -> dict[str, Any]:
    """Validate a native lineage document and fill in what it leaves out."""
    validate(doc, "lineage", path=shown, what=f"the {role} document")
    return shape(
        doc.get("run") or {},
        doc.get("code") or {},
        doc.get("datasets") or [],
        doc.get("outputs") or [],
        doc,
    )
