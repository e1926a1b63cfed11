"""Run the manifest's suites: check them all, then validate each over its data.

Every suite is read and checked against GX's registry before any data is
touched, so a typo in a suite fails in a second, not after a long scan. An
expectation that raised inside GX (a missing column, a kwarg the backend
cannot evaluate) is an error, never a failed or skipped check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.decision import Finding
from gate.errors import ValidationError, json_path
from gate.manifest import Manifest
from gate.validations.context import ephemeral_context, quiet
from gate.validations.results import ExpectationOutcome, findings_for, plain, validation_entry
from gate.validations.sources import open_source
from gate.validations.suite import Suite, build_gx_suite, load_suite


def run_all(manifest: Manifest) -> tuple[list[dict[str, Any]], list[Finding]]:
    """``input.validations`` entries and findings for every validation of the manifest."""
    specs = manifest.validations
    shown = manifest.path.name
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec["name"] in seen:
            raise ValidationError(f"two validations are named '{spec['name']}'", path=shown,
                                  pointer=json_path(["validations", i, "name"]),
                                  hint="give each validation its own name; finding ids use it")
        seen.add(spec["name"])
    suites = [load_suite(manifest.files, spec["suite"], spec["name"]) for spec in specs]
    context = ephemeral_context(shown)
    with quiet():
        gx_suites = [build_gx_suite(s, spec["name"]) for s, spec in zip(suites, specs, strict=True)]
    entries: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for i, (spec, suite, gx_suite) in enumerate(zip(specs, suites, gx_suites, strict=True)):
        name = spec["name"]
        source = open_source(spec, manifest.files, shown)
        with quiet():
            batch = source.batch(context, f"gate-{i}-{name}")
            outcomes = validate(batch, gx_suite, suite, name, source.shown)
        entries.append(validation_entry(name, suite, source.shown, outcomes))
        findings.extend(findings_for(name, suite, source.shown, outcomes))
    return entries, findings


def validate(batch: Any, gx_suite: Any, suite: Suite, name: str,
             data: str) -> dict[str, ExpectationOutcome]:
    """Each expectation's outcome, keyed by ``Expectation.key``; errors are ValidationErrors."""
    result_format: dict[str, Any] = {"result_format": "SUMMARY"}  # GX's default
    if suite.id_columns:
        result_format["unexpected_index_column_names"] = list(suite.id_columns)
    try:
        result = batch.validate(gx_suite, result_format=result_format)
    except Exception as exc:  # GX re-raises pandas, SQLAlchemy and Spark errors as they come
        raise ValidationError(
            f"validation '{name}': the suite could not run on {data}: "
            f"{' '.join(str(exc).split()) or type(exc).__name__}",
            path=suite.path, hint="check the suite's expectations against the data",
        ) from exc
    by_key = {str(r.expectation_config.id): r for r in result.results}
    outcomes: dict[str, ExpectationOutcome] = {}
    for e in suite.expectations:
        r = by_key.get(e.key)
        if r is None:
            raise ValidationError(
                f"validation '{name}': GX returned no result for expectation #{e.index + 1} "
                f"({e.label})", path=suite.path, pointer=e.pointer,
                hint="this is a bug in gate or GX; the gate fails closed rather than skip it",
            )
        error = exception_message(r.exception_info)
        if error is not None:
            raise ValidationError(
                f"validation '{name}': expectation #{e.index + 1} ({e.label}) cannot run on "
                f"{data}: {error}",
                path=suite.path, pointer=e.pointer,
                hint="check the column names and kwargs in the suite against the data",
            )
        outcomes[e.key] = ExpectationOutcome(success=bool(r.success), result=plain(r.result or {}))
    return outcomes


def exception_message(info: Any) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any.

    GX reports it either flat (``{raised_exception, exception_message}``) or per
    metric (``{metric id: {raised_exception, exception_message}}``).
    """
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return _clean(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception", True):
            return _clean(value.get("exception_message"))
    return None


def _clean(message: Any) -> str:
    text = " ".join(str(message or "an unknown error").split())
    return text.removeprefix("Error: ")
