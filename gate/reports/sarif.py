"""``--format sarif`` (default file gate.sarif): SARIF 2.1.0 for code scanning.

One reporting descriptor per evaluated rule and per finding id (title,
description and remediation from the rule's METADATA), one result per finding.
A result's level comes from its severity (critical and high: error; medium:
warning; low and info: note), except that a finding that does not block the
deploy (a warning) is never an error. Its location is the input file the
finding points into where known (``_loc``, or a detail naming an input file),
else the policy; the policy line is always a related location. A waived
finding carries an accepted external suppression with the waiver's reason.
Paths are relative to the repository root (``%SRCROOT%``), which GitHub code
scanning and SARIF viewers resolve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate import DIST_NAME, __version__
from gate.ci import repo_root
from gate.decision import CheckReport, Finding
from gate.fsutil import dump_json
from gate.names import SARIF_FILE
from gate.reports import DocumentReporter, EmitContext
from gate.reports.locate import (
    Location,
    fingerprint,
    policy_location,
    primary_location,
    public_details,
)

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "%SRCROOT%"
LIBRARY_ID = "GATE_LIBRARY"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
          "info": "note"}


def information_uri() -> str | None:
    """The project's home page, from the installed package's metadata ([project.urls])."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata(DIST_NAME).get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    by_label = {label.strip().lower(): url.strip() for label, _, url in
                (u.partition(",") for u in urls)}
    for label in ("homepage", "repository", "source", "documentation"):
        url = by_label.get(label)
        if url:
            return str(url)
    return None


def level(finding: Finding) -> str:
    """SARIF level: from severity, and never ``error`` for a finding that does not block."""
    lvl = _LEVEL.get(finding.severity, "warning")
    return "warning" if lvl == "error" and finding.effect != "fail" else lvl


def _physical(loc: Location) -> dict[str, Any]:
    if loc.in_repo:
        artifact = {"uri": loc.path, "uriBaseId": ROOT_ID}
    else:  # gate-library/<name>.rego: a file inside the installed gate package
        artifact = {"uri": loc.path.partition("/")[2], "uriBaseId": LIBRARY_ID}
    # A finding about a whole file starts at its first line: code scanning needs a line,
    # and a region without one is a SARIF2017 warning.
    region: dict[str, Any] = {"startLine": loc.line or 1}
    if loc.line and loc.column:
        region["startColumn"] = loc.column
    return {"artifactLocation": artifact, "region": region}


def _location(loc: Location) -> dict[str, Any]:
    out: dict[str, Any] = {"physicalLocation": _physical(loc)}
    if loc.pointer:
        out["logicalLocations"] = [{"fullyQualifiedName": loc.pointer, "kind": "member"}]
    return out


def _text(value: str, fallback: str) -> dict[str, str]:
    return {"text": value or fallback}


def _help(rule: str, title: str, description: str, remediation: str) -> dict[str, str]:
    """Every rule has help (GitHub code scanning requires it): the fix, else what it checks."""
    if remediation:
        return {"text": remediation, "markdown": f"**How to fix:** {remediation}"}
    about = description or title or f"the policy rule {rule}"
    return {"text": f"{about} (policy rule {rule}).",
            "markdown": f"{about} (policy rule `{rule}`)."}


def _rules(report: CheckReport) -> list[dict[str, Any]]:
    """One reporting descriptor per id: evaluated rules first, then ids only findings name."""
    rules: dict[str, dict[str, Any]] = {}
    by_id: dict[str, Finding] = {}
    for f in report.findings:
        by_id.setdefault(f.id, f)
    entries = [(r.id, r.title, r.kind, r.rule, r.description, r.remediation)
               for r in report.rules]
    entries += [(f.id, f.title, f.kind, f.rule, f.description, f.remediation)
                for f in report.findings]
    for rid, title, kind, rule, about, fix in entries:
        if rid in rules:
            continue
        first = by_id.get(rid)
        description = (first.description if first else "") or about
        remediation = (first.remediation if first else "") or fix
        default = level(first) if first else ("error" if kind == "failure" else "warning")
        desc: dict[str, Any] = {
            "id": rid,
            "shortDescription": _text(title, rid),
            "fullDescription": _text(description or title, rid),
            "help": _help(rule, title, description, remediation),
            "defaultConfiguration": {"level": default},
            "properties": {"rule": rule, "kind": kind, "tags": ["ml-release-gate", kind]},
        }
        if first:
            desc["properties"].update(severity=first.severity, enforcement=first.enforcement)
        rules[rid] = desc
    return list(rules.values())


def _result(report: CheckReport, f: Finding, index: int, base: Path) -> dict[str, Any]:
    policy = policy_location(report, f, base)
    primary = primary_location(report, f, base)
    message = f.message
    if f.remediation:
        message += f"\nFix: {f.remediation}"
    result: dict[str, Any] = {
        "ruleId": f.id,
        "ruleIndex": index,
        "level": level(f),
        "message": {"text": message},
    }
    if primary is not None:
        result["locations"] = [_location(primary)]
    if policy is not None and policy != primary:
        result["relatedLocations"] = [{
            "id": 1, **_location(policy),
            "message": {"text": f"the policy rule {f.rule} that reported this"},
        }]
    result["partialFingerprints"] = {"gateFinding/v1": fingerprint(f, primary)}
    if f.waiver is not None:
        justification = f.waiver.reason
        if f.waiver.approved_by:
            justification += f" (approved by {f.waiver.approved_by})"
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": justification}]
    result["properties"] = {
        "severity": f.severity, "enforcement": f.enforcement, "effect": f.effect,
        "details": public_details(f),
    }
    return result


def _invocation(report: CheckReport) -> dict[str, Any]:
    inv: dict[str, Any] = {"executionSuccessful": report.error is None,
                           "exitCode": report.exit_code}
    notes = [{"level": "note", "message": {"text": n}} for n in report.notes]
    if report.error is not None:
        notes.insert(0, {"level": "error", "message": {"text": report.error.render()}})
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv


def render_sarif(report: CheckReport, env: Mapping[str, str]) -> dict[str, Any]:
    """The SARIF log of one run of `gate check`."""
    base = repo_root(env)
    rules = _rules(report)
    index = {r["id"]: i for i, r in enumerate(rules)}
    driver: dict[str, Any] = {"name": "gate", "version": __version__,
                              "semanticVersion": __version__}
    home = information_uri()
    if home:
        driver["informationUri"] = home
    run: dict[str, Any] = {
        "tool": {"driver": {**driver, "rules": rules}},
        "originalUriBaseIds": {
            ROOT_ID: {"uri": base.as_uri() + "/"},
            LIBRARY_ID: {"description": {"text": "gate's built-in policy library, installed "
                                                 "with gate (gate-library/ in its reports)"}},
        },
        "invocations": [_invocation(report)],
        "results": [_result(report, f, index[f.id], base) for f in report.findings],
        "properties": {"decision": report.outcome, "model": dict(report.model)},
    }
    name = report.model.get("name")
    if name:  # one category per model, so two gated models in one repo do not close each other
        run["automationDetails"] = {"id": f"gate/{name}/"}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


class SarifReporter(DocumentReporter[CheckReport]):
    """SARIF 2.1.0, for GitHub code scanning and any SARIF viewer."""

    name = "sarif"
    default_file = SARIF_FILE

    def render(self, report: CheckReport, ctx: EmitContext) -> str:
        return dump_json(render_sarif(report, ctx.env))
