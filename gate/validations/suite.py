"""A suite file (GX's own ExpectationSuite JSON, or the same in YAML) -> a checked Suite.

GX builds a suite leniently: an expectation whose type it does not know, or
whose kwargs its model rejects, is dropped with a log line and the rest of
the suite runs (a 3-expectation document can validate as a 1-expectation
suite). A release gate must not pass on checks that never ran, so every
expectation is checked here first, against GX's own registry and models, and
any problem is a ValidationError naming the suite file and the expectation.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.documents import InputFiles
from gate.errors import GateError, ValidationError, json_path
from gate.validations.context import import_gx

GX_SEVERITIES = ("critical", "warning", "info")  # GX 1.x FailureSeverity values
# What GX 1.x writes for an expectation; `id` and `rendered_content` are GX's
# bookkeeping, replaced or ignored here.
EXPECTATION_KEYS = {"type", "kwargs", "meta", "notes", "description", "severity", "id",
                    "rendered_content"}
DOMAIN_KEYS = ("column", "column_A", "column_B", "column_list")


@dataclass(frozen=True)
class Expectation:
    """One expectation of a suite, as written, plus the key its result is matched by."""

    index: int
    type: str
    kwargs: Mapping[str, Any]
    severity: str = "critical"
    meta: Mapping[str, Any] = field(default_factory=dict)
    notes: Any = None
    description: str | None = None
    # GX returns results in its own order; each expectation gets a fresh id to
    # match them back (ids in the file may be missing or copied twice).
    key: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return col if isinstance(col, str) else None

    @property
    def pointer(self) -> str:
        return json_path(["expectations", self.index])

    @property
    def label(self) -> str:
        """``expect_x`` or ``expect_x (column 'c')``, for messages."""
        return f"{self.type} (column '{self.column}')" if self.column else self.type


@dataclass(frozen=True)
class Suite:
    """A suite file, checked for shape; ``path`` is as written in gate.yaml."""

    name: str
    path: str
    expectations: tuple[Expectation, ...]
    suite_parameters: Mapping[str, Any] = field(default_factory=dict)
    # meta.gate.id_columns: columns that identify a row (a slice name), quoted
    # beside each unexpected value so a finding says *which* slice failed
    id_columns: tuple[str, ...] = ()


def load_suite(files: InputFiles, rel: str, validation: str) -> Suite:
    """Read a suite file named in gate.yaml and check its shape (no GX needed)."""
    try:
        doc = files.load(rel, "validation suite")
    except GateError as e:
        raise ValidationError(f"validation '{validation}': suite: {e.message}", path=e.path or rel,
                              line=e.line, col=e.col, pointer=e.pointer, hint=e.hint) from e
    return parse_suite(doc, rel, validation)


def _fail(validation: str, rel: str, why: str, pointer: str | None = None,
          hint: str | None = None) -> ValidationError:
    return ValidationError(f"validation '{validation}': {why}", path=rel, pointer=pointer,
                           hint=hint or "fix the suite; it is GX's ExpectationSuite JSON format")


def parse_suite(doc: Any, rel: str, validation: str) -> Suite:
    """The Suite in a parsed suite document; ValidationError at the first bad place."""
    if not isinstance(doc, Mapping):
        raise _fail(validation, rel, "the suite is not a mapping with an 'expectations' list")
    if "expectation_suite_name" in doc or any(
        isinstance(e, Mapping) and "expectation_type" in e for e in doc.get("expectations") or []
    ):
        raise _fail(validation, rel, "this is a GX 0.x suite ('expectation_type', "
                    "'expectation_suite_name'); gate reads the GX 1.x format",
                    hint="re-save the suite with GX 1.x, or rename 'expectation_type' to 'type' "
                         "and 'expectation_suite_name' to 'name'")
    exps = doc.get("expectations")
    if not isinstance(exps, list):
        raise _fail(validation, rel, "the suite has no 'expectations' list",
                    pointer="$.expectations")
    if not exps:
        raise _fail(validation, rel, "the suite has no expectations, so it would check nothing",
                    pointer="$.expectations", hint="add expectations, or remove the validation")
    params = doc.get("suite_parameters") or {}
    if not isinstance(params, Mapping):
        raise _fail(validation, rel, "'suite_parameters' must be a mapping",
                    pointer="$.suite_parameters")
    name = doc.get("name") or validation
    meta = doc.get("meta")
    gate_meta = meta.get("gate") if isinstance(meta, Mapping) else None
    id_columns = gate_meta.get("id_columns", []) if isinstance(gate_meta, Mapping) else []
    if not isinstance(id_columns, list) or not all(isinstance(c, str) for c in id_columns):
        raise _fail(validation, rel, "meta.gate.id_columns must be a list of column names",
                    pointer="$.meta.gate.id_columns")
    return Suite(name=str(name), path=rel, suite_parameters=dict(params),
                 id_columns=tuple(id_columns),
                 expectations=tuple(_expectation(e, i, rel, validation)
                                    for i, e in enumerate(exps)))


def _expectation(doc: Any, i: int, rel: str, validation: str) -> Expectation:
    where = json_path(["expectations", i])
    if not isinstance(doc, Mapping):
        raise _fail(validation, rel, f"expectation #{i + 1} is not a mapping", pointer=where)
    etype = doc.get("type")
    if not isinstance(etype, str) or not etype:
        raise _fail(validation, rel, f"expectation #{i + 1} has no 'type'", pointer=where)
    extra = sorted(set(doc) - EXPECTATION_KEYS)
    if extra:
        raise _fail(validation, rel, f"expectation #{i + 1} ({etype}) has unknown keys: "
                    f"{', '.join(extra)}", pointer=where,
                    hint=f"an expectation has only {', '.join(sorted(EXPECTATION_KEYS))}; "
                         "arguments go under 'kwargs'")
    kwargs = doc.get("kwargs", {})
    if not isinstance(kwargs, Mapping):
        raise _fail(validation, rel, f"expectation #{i + 1} ({etype}): 'kwargs' must be a mapping",
                    pointer=f"{where}.kwargs")
    severity = doc.get("severity") or "critical"
    if severity not in GX_SEVERITIES:
        raise _fail(validation, rel, f"expectation #{i + 1} ({etype}): severity '{severity}' is "
                    f"not one of {', '.join(GX_SEVERITIES)}", pointer=f"{where}.severity")
    meta = doc.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise _fail(validation, rel, f"expectation #{i + 1} ({etype}): 'meta' must be a mapping",
                    pointer=f"{where}.meta")
    description = doc.get("description")
    return Expectation(index=i, type=etype, kwargs=dict(kwargs), severity=severity,
                       meta=dict(meta), notes=doc.get("notes"),
                       description=str(description) if description else None)


def build_gx_suite(suite: Suite, validation: str) -> Any:
    """The GX ExpectationSuite for ``suite``, refusing anything GX would drop or reject."""
    import_gx()
    from great_expectations.core import ExpectationSuite
    from great_expectations.expectations import registry
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    registry.register_core_expectations()
    known = set(registry.list_registered_expectation_implementations())
    unknown = [e for e in suite.expectations if e.type not in known]
    if unknown:
        first = unknown[0]
        close = difflib.get_close_matches(first.type, sorted(known), n=1)
        names = ", ".join(f"'{e.type}' (#{e.index + 1})" for e in unknown)
        raise _fail(validation, suite.path,
                    f"Great Expectations does not know the expectation type {names}; GX would "
                    "silently drop it and run the rest of the suite",
                    pointer=f"{first.pointer}.type",
                    hint=(f"did you mean '{close[0]}'? " if close else "")
                    + "use an expectation type from the GX gallery (core expectations only)")
    configs = []
    for e in suite.expectations:
        config = ExpectationConfiguration(type=e.type, kwargs=dict(e.kwargs), meta=dict(e.meta),
                                          notes=e.notes, description=e.description,
                                          severity=FailureSeverity(e.severity), id=e.key)
        try:
            config.to_domain_obj()  # GX's own model check of the kwargs
        except Exception as exc:  # pydantic, GX and TypeErrors alike mean "bad kwargs"
            raise _fail(validation, suite.path,
                        f"expectation #{e.index + 1} ({e.label}) has invalid kwargs: "
                        f"{_why(exc)}", pointer=f"{e.pointer}.kwargs",
                        hint=f"see the GX reference for {e.type}") from exc
        configs.append(config)
    gx_suite = ExpectationSuite(name=suite.name, expectations=configs,
                                suite_parameters=dict(suite.suite_parameters))
    if len(gx_suite.expectations) != len(suite.expectations):  # belt and braces: never run less
        raise _fail(validation, suite.path,
                    f"GX kept {len(gx_suite.expectations)} of {len(suite.expectations)} "
                    "expectations of the suite")
    return gx_suite


def _why(exc: BaseException) -> str:
    """A pydantic or GX error as one line: 'field: problem; field: problem'."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
        except Exception:  # noqa: BLE001  # a foreign .errors() is only a nicety here
            items = None
        if isinstance(items, list) and items:
            # a Union field fails once per member type; one line per field reads better
            by_loc: dict[str, list[str]] = {}
            for item in items:
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "__root__")
                msgs = by_loc.setdefault(loc, [])
                if str(item.get("msg")) not in msgs:
                    msgs.append(str(item.get("msg")))
            return "; ".join(f"{loc}: {' / '.join(m)}" if loc else " / ".join(m)
                             for loc, m in by_loc.items())
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())
