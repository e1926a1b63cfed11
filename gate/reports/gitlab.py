"""``--format gitlab``: a code-quality report and a dotenv file for GitLab CI.

* gl-code-quality-report.json (in the output folder, or PATH with
  ``--format gitlab=PATH``): GitLab's code-quality format, one issue per
  finding, at the input or policy file it concerns, relative to
  $CI_PROJECT_DIR. Severity: critical -> blocker, high -> critical, medium ->
  major, low -> minor, info -> info; a finding that does not block the deploy
  is at most major, and a waived one is info. The fingerprint is the sha256
  of the finding's id, message and location, so it stays the same from one
  pipeline to the next while the finding does.
* gate.env (always in the output folder), for ``artifacts:reports:dotenv``:
  GATE_DECISION, GATE_EXIT_CODE, GATE_REPORT_DIR, GATE_ROLLBACK_PLAN and
  GATE_ROLLBACK_PLAN_SHA256 (both empty when the gate wrote no plan). GitLab
  reads one ``KEY=value`` per line, with no quoting, comments or blank lines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate.ci import repo_root
from gate.decision import CheckReport, Finding
from gate.fsutil import dump_json, write_text
from gate.names import CODE_QUALITY_FILE, DOTENV_FILE, PLAN_FILE
from gate.reports import STDOUT, EmitContext, is_stdout
from gate.reports.locate import fingerprint, primary_location, rebase

_SEVERITY = {"critical": "blocker", "high": "critical", "medium": "major", "low": "minor",
             "info": "info"}
_NON_BLOCKING_CAP = {"blocker": "major", "critical": "major"}


def severity(finding: Finding) -> str:
    """Code-quality severity of a finding."""
    if finding.effect == "waived":
        return "info"
    sev = _SEVERITY.get(finding.severity, "major")
    return sev if finding.effect == "fail" else _NON_BLOCKING_CAP.get(sev, sev)


def issue(report: CheckReport, f: Finding, base: Path) -> dict[str, Any]:
    """One code-quality issue."""
    loc = primary_location(report, f, base)
    description = f"{f.id}: {f.message}"
    if f.waiver is not None:
        description += f" (waived: {f.waiver.reason})"
    out: dict[str, Any] = {
        "type": "issue",
        "description": description,
        "check_name": f.id,
        "fingerprint": fingerprint(f, loc),
        "severity": severity(f),
        "categories": ["Bug Risk"],
        "location": {"path": loc.path if loc else report.manifest or "gate.yaml",
                     "lines": {"begin": (loc.line if loc else None) or 1}},
    }
    body = [b for b in (f.title, f.description, f"Fix: {f.remediation}" if f.remediation else "")
            if b]
    if body:
        out["content"] = {"body": "\n\n".join(body)}
    return out


def code_quality(report: CheckReport, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The code-quality report: every finding (and the error, if the gate could not run)."""
    base = repo_root(env)
    issues = [issue(report, f, base) for f in report.findings]
    if report.error is not None:
        e = report.error
        path = rebase(report, e.path, base) if e.path else report.manifest or "gate.yaml"
        issues.insert(0, {
            "type": "issue", "description": f"gate could not run: {e.message}",
            "check_name": "gate.error",
            "fingerprint": hashlib.sha256(f"gate.error\x1f{e.message}".encode()).hexdigest(),
            "severity": "blocker", "categories": ["Bug Risk"],
            "location": {"path": path, "lines": {"begin": e.line or 1}},
        })
    return issues


def dotenv(report: CheckReport, env: Mapping[str, str], out_dir: Path) -> str:
    """gate.env: the decision for downstream jobs."""
    base = repo_root(env)
    plan = report.rollback_plan if report.rollback_plan and "path" in report.rollback_plan \
        else None
    values = {
        "GATE_DECISION": report.outcome,
        "GATE_EXIT_CODE": str(report.exit_code),
        "GATE_REPORT_DIR": rebase(report, str(out_dir), base),
        "GATE_ROLLBACK_PLAN": rebase(report, str(out_dir / PLAN_FILE), base) if plan else "",
        "GATE_ROLLBACK_PLAN_SHA256": str(plan["sha256"]) if plan else "",
    }
    head = (report.audit.get("ledger") or {}).get("head")
    if head:  # the audit ledger's head, published apart from the ledger (gate.audit.hooks)
        values["GATE_LEDGER_HEAD"] = str(head)
    # GitLab's parser takes the rest of the line as the value: no quoting is possible,
    # so a line break (which no value here should have) becomes a space.
    return dotenv_lines(values)


def dotenv_lines(values: Mapping[str, str]) -> str:
    """A dotenv file's text: GitLab takes the rest of each line as the value, unquoted, so a
    value's line breaks become spaces."""
    return "".join(f"{k}={' '.join(v.splitlines())}\n" for k, v in values.items())


class GitlabReporter:
    """Code quality and dotenv for a GitLab CI job."""

    name = "gitlab"
    takes_path = True  # the code-quality report

    def owns_stdout(self, target: Path | None) -> bool:
        return is_stdout(target)

    def emit(self, report: CheckReport, target: Path | None, ctx: EmitContext) -> None:
        quality = dump_json(code_quality(report, ctx.env))
        if target == STDOUT:
            ctx.stdout.write(quality)
        else:
            write_text(target or ctx.out_dir / CODE_QUALITY_FILE, quality)
        write_text(ctx.out_dir / DOTENV_FILE, dotenv(report, ctx.env, ctx.out_dir))
