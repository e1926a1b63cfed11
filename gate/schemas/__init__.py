"""The published JSON Schemas (package data) and the one place documents are checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from gate.errors import DocumentError, GateError, json_path
from gate.schemas.fastpath import proves_valid

SCHEMAS = (
    "manifest", "input", "evaluation", "lineage", "rollback-plan", "decision", "exceptions",
    "rollout-decision", "rollout-state", "journal-record", "signoff", "recalibration-plan",
    "drift-report",
)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema called ``name`` (see SCHEMAS)."""
    if name not in SCHEMAS:
        raise GateError(f"no schema called '{name}'", hint=f"choose one of: {', '.join(SCHEMAS)}")
    from gate.documents import parse_json  # the one JSON reader, as for every document

    text = resources.files("gate.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = parse_json(text)
    return schema


_COMPILED: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    # jsonschema costs ~45 ms to import; only pay for it when a document is checked.
    from jsonschema import Draft202012Validator

    key = id(schema)  # schemas are module constants or cached loads: their identity is stable
    if key not in _COMPILED:
        _COMPILED[key] = (schema, Draft202012Validator(schema))
    return _COMPILED[key][1]


def first_problem(
    doc: Any, schema: str | Mapping[str, Any], prefix: Sequence[Any] = ()
) -> tuple[str, str] | None:
    """(JSON path, message) of the most relevant way ``doc`` fails ``schema``, or None.

    ``schema`` is a published schema's name or a schema of its own; ``prefix``
    is the path of ``doc`` inside the file it came from.
    """
    root = load_schema(schema) if isinstance(schema, str) else schema
    if proves_valid(root, doc):  # the common case, without jsonschema's per-value cost
        return None
    from jsonschema.exceptions import best_match

    compiled = _validator(root)
    problem = best_match(compiled.iter_errors(doc))
    if problem is None:
        return None
    return json_path([*prefix, *problem.absolute_path]), problem.message


def validate(
    doc: Any,
    name: str,
    *,
    path: str | None,
    what: str,
    error: type[GateError] = DocumentError,
) -> None:
    """Raise ``error`` naming the file and JSON path of the first (most relevant) problem."""
    found = first_problem(doc, name)
    if found is None:
        return
    where, message = found
    raise error(
        f"{what} does not match its schema at {where}: {message}",
        path=path,
        pointer=where,
        hint=f"fix the value at {where} (`gate schema {name}` prints the schema)",
    )
