"""GX validation results -> ``input.validations`` entries and findings (pure; no GX here).

The runner hands over, per expectation, whether it passed and GX's ``result``
dict; this module owns how they look to policies and reports:

* an entry per validation, results in suite order;
* one finding per failed expectation, id ``gx.<validation>.<type>[.<column>]``,
  kind and severity from the expectation's GX ``severity``
  (critical -> failure; warning -> warning; info -> advisory warning);
* every value plain JSON: numpy scalars become Python numbers, NaN becomes null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from gate.decision import Finding, Kind
from gate.validations.suite import DOMAIN_KEYS, Expectation, Suite

SAMPLE_SIZE = 5  # unexpected values quoted in a finding's message


@dataclass(frozen=True)
class ExpectationOutcome:
    """What GX reported for one expectation: pass/fail and its ``result`` dict (plain)."""

    success: bool
    result: Mapping[str, Any] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """``value`` as plain JSON data; NaN, infinities, NA and NaT become None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, (str, int, float, Decimal)):
        return _scalar(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    return _other(value)


def _scalar(value: str | int | float | Decimal) -> Any:
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def _other(value: Any) -> Any:
    """Dates, bytes, numpy and pandas values, without importing numpy or pandas."""
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return plain(tolist())
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return str(value)


def finding_id(validation: str, e: Expectation) -> str:
    base = f"gx.{validation}.{e.type}"
    return f"{base}.{e.column}" if e.column else base


def result_entry(e: Expectation, outcome: ExpectationOutcome) -> dict[str, Any]:
    """One ``input.validations[].results`` item."""
    r = outcome.result
    return {
        "expectation": e.type,
        "column": e.column,
        "kwargs": plain(e.kwargs),
        "severity": e.severity,
        "success": bool(outcome.success),
        "observed_value": plain(r.get("observed_value")),
        "unexpected_count": _int(r.get("unexpected_count")),
        "unexpected_percent": _number(r.get("unexpected_percent")),
    }


def validation_entry(name: str, suite: Suite, data: str,
                     outcomes: Mapping[str, ExpectationOutcome]) -> dict[str, Any]:
    """One ``input.validations`` entry; ``outcomes`` is keyed by ``Expectation.key``."""
    results = [result_entry(e, outcomes[e.key]) for e in suite.expectations]
    passed = sum(1 for r in results if r["success"])
    return {
        "name": name,
        "suite": suite.path,
        "data": data,
        "success": passed == len(results),
        "statistics": {"evaluated": len(results), "successful": passed,
                       "unsuccessful": len(results) - passed},
        "results": results,
    }


def findings_for(name: str, suite: Suite, data: str,
                 outcomes: Mapping[str, ExpectationOutcome]) -> list[Finding]:
    """One finding per failed expectation, in suite order."""
    return [_finding(name, suite, data, e, outcomes[e.key])
            for e in suite.expectations if not outcomes[e.key].success]


def _finding(name: str, suite: Suite, data: str, e: Expectation,
             outcome: ExpectationOutcome) -> Finding:
    r = outcome.result
    details: dict[str, Any] = {
        "validation": name,
        "suite": suite.path,
        "data": data,
        "expectation": e.type,
        "column": e.column,
        "kwargs": plain(e.kwargs),
        "observed_value": plain(r.get("observed_value")),
        "unexpected_count": _int(r.get("unexpected_count")),
        "unexpected_percent": _number(r.get("unexpected_percent")),
    }
    for key in ("element_count", "missing_count", "partial_unexpected_list",
                "partial_unexpected_index_list"):
        if key in r:
            details[key] = plain(r[key])
    kind: Kind
    if e.severity == "critical":
        kind, severity, enforcement = "failure", "critical", ""
    elif e.severity == "warning":
        kind, severity, enforcement = "warning", "", ""
    else:  # info
        kind, severity, enforcement = "warning", "info", "advisory"
    remediation = e.meta.get("remediation")
    return Finding(
        id=finding_id(name, e),
        kind=kind,
        message=_message(name, e, r),
        rule=f"gx.{name}.{e.type}",
        title=e.description or f"{name}: {e.label}",
        description=_notes(e.notes),
        severity=severity,
        enforcement=enforcement,
        remediation=str(remediation) if remediation else (
            f"check the data behind validation '{name}' ({data}); if the expectation itself "
            f"is wrong, change it in {suite.path}"),
        file=suite.path,
        line=None,
        details=details,
    )


def _message(name: str, e: Expectation, r: Mapping[str, Any]) -> str:
    head = f"{name}: {e.label} failed"
    count, total = _int(r.get("unexpected_count")), _int(r.get("element_count"))
    if count is not None:
        pct = _number(r.get("unexpected_percent"))
        what = f"{count} of {total} values" if total is not None else f"{count} values"
        head += f": {what}" + (f" ({pct:.4g}%)" if pct is not None else "") + " unexpected"
        rows = [row for row in plain(r.get("partial_unexpected_index_list") or [])
                if isinstance(row, dict)][:SAMPLE_SIZE]
        sample = plain(r.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
        if rows:  # the suite named id columns: say which rows (slices) failed
            ids = list(plain(r.get("unexpected_index_column_names") or []))
            head += ": " + "; ".join(
                ", ".join(f"{k}={_show(row[k])}" for k in sorted(row, key=_first(ids)))
                for row in rows)
        elif sample:
            head += f", e.g. {', '.join(_show(v) for v in sample)}"
    elif "observed_value" in r:
        head += f": observed {_show(plain(r.get('observed_value')))}"
    expected = _expected(e.kwargs)
    return f"{head}; expected {expected}" if expected else head


def _first(ids: list[Any]) -> Any:
    """Sort key putting the id columns first, in their order, then the value column."""
    return lambda k: (ids.index(k) if k in ids else len(ids), str(k))


def _expected(kwargs: Mapping[str, Any]) -> str:
    shown = [f"{k}={_show(plain(v))}" for k, v in kwargs.items()
             if k not in DOMAIN_KEYS and v is not None]
    return ", ".join(shown)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"  # 0.921, not 0.9209999999999999
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _notes(notes: Any) -> str:
    if isinstance(notes, Sequence) and not isinstance(notes, str):
        return "\n".join(str(n) for n in notes)
    return str(notes) if notes else ""


def _int(value: Any) -> int | None:
    v = plain(value)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _number(value: Any) -> float | None:
    v = plain(value)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
