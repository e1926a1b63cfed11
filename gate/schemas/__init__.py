"""The published JSON Schemas (package data) and the one place documents are checked."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from gate.errors import DocumentError, GateError

SCHEMAS = (
    "manifest", "input", "evaluation", "lineage", "rollback-plan", "decision", "exceptions",
    "rollout-decision",
)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema called ``name`` (see SCHEMAS)."""
    if name not in SCHEMAS:
        raise GateError(f"no schema called '{name}'", hint=f"choose one of: {', '.join(SCHEMAS)}")
    text = resources.files("gate.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Any:
    # jsonschema costs ~90 ms to import; only pay for it when a document is checked.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def _json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def validate(
    doc: Any,
    name: str,
    *,
    path: str | None,
    what: str,
    error: type[GateError] = DocumentError,
) -> None:
    """Raise ``error`` naming the file and JSON path of the first (most relevant) problem."""
    from jsonschema.exceptions import best_match

    problem = best_match(_validator(name).iter_errors(doc))
    if problem is None:
        return
    where = _json_path(problem.absolute_path)
    raise error(
        f"{what} does not match its schema at {where}: {problem.message}",
        path=path,
        pointer=where,
        hint=f"fix the value at {where} (`gate schema {name}` prints the schema)",
    )
