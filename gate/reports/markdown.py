"""``--format markdown`` (default file summary.md): the summary a reviewer reads in a PR.

The verdict and what it means for the deploy first, then the findings table,
how to fix each failing rule, the waivers, what happens next (the rollback
plan's steps), the validation suites, and every rule's status folded away.
On GitHub and GitLab, file locations link to the commit being checked. Text
that comes from policies is escaped, so a message cannot inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gate.ci import blob_url, repo_root
from gate.decision import CheckReport, Finding, plural
from gate.names import DECISION_FILE, PLAN_FILE, SUMMARY_FILE
from gate.reports import DocumentReporter, EmitContext
from gate.reports.locate import (
    Location,
    input_location,
    manifest_location,
    policy_location,
    rebase,
)

_VERDICT = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "🛑"}
_EFFECT = {"fail": "❌ fail", "warn": "⚠️ warn", "waived": "💤 waived"}
_STATUS = {"passed": "✅ passed", "failed": "❌ failed", "warned": "⚠️ warned",
           "waived": "💤 waived"}
_ENTITY = re.compile(r"&(#?[A-Za-z0-9]+;)")  # only what would read as an HTML entity
_SPECIAL = re.compile(r"([\\`*~\[\]|])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def text(value: str) -> str:
    """``value`` as literal Markdown text on one line (safe inside a table cell)."""
    out = _SPECIAL.sub(lambda m: "\\" + m.group(0), value)
    out = _ENTITY.sub(r"&amp;\1", out).replace("<", "&lt;")
    return "<br>".join(out.splitlines()) if "\n" in out or "\r" in out else out


def code(value: str) -> str:
    """``value`` as a code span (safe inside a table cell)."""
    value = " ".join(value.splitlines())
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value.replace('|', chr(92) + '|')}{pad}{ticks}"


def source_link(env: Mapping[str, str], loc: Location) -> str:
    """``loc`` as a code span, linked to the commit under test on GitHub or GitLab."""
    shown = code(str(loc))
    if not loc.in_repo or loc.path.startswith(("../", "/")):
        return shown
    url = blob_url(env, loc.path, loc.line)
    return f"[{shown}]({url.replace(' ', '%20').replace(')', '%29')})" if url else shown


def _headline(report: CheckReport) -> list[str]:
    name = " ".join(v for v in (report.model.get("name"), report.model.get("version")) if v)
    title = f"## {_VERDICT[report.outcome]} gate: {report.outcome.upper()}"
    if name:
        title += f" · {text(name)}"
    if report.decision is None:
        return [title, "", "**The gate could not run, so the deploy is blocked (fail closed).**"]
    s = report.summary()
    if report.decision.blocks:
        verdict = "**The deploy is blocked.**"
    elif s["warn"]:
        verdict = "**The deploy may proceed**, with the warnings below."
    else:
        verdict = "**The deploy may proceed.**"
    if report.decision.fail_on_warn and report.outcome == "warn":
        verdict = "**The deploy is blocked:** warnings block it (--fail-on-warn)."
    return [title, "", f"{verdict} {report.counts_phrase()}"]


def _error(report: CheckReport) -> list[str]:
    if report.error is None:
        return []
    body = report.error.render().replace("```", "'''")
    return ["", "```text", body, "```"]


def _findings(report: CheckReport, env: Mapping[str, str], base: Path,
              limit: int | None) -> list[str]:
    findings = report.findings
    if not findings:
        return []
    shown = findings if limit is None else findings[:limit]
    out = ["", "| | Finding | Severity | Message | Where |", "|---|---|---|---|---|"]
    for f in shown:
        title = f" {text(f.title)}" if f.title else ""
        loc = (input_location(report, f, base) or policy_location(report, f, base)
               or manifest_location(report, base))
        where = source_link(env, loc) if loc else ""
        out.append(f"| {_EFFECT[f.effect]} | **{text(f.id)}**{title} | {f.severity} | "
                   f"{text(f.message)} | {where} |")
    if len(shown) < len(findings):
        rest = len(findings) - len(shown)
        out += ["", f"…and {plural(rest, 'more finding')}: see decision.json "
                "in the report folder."]
    return out


def _fixes(report: CheckReport) -> list[str]:
    seen: dict[str, Finding] = {}
    for f in report.findings:
        if f.effect != "waived" and f.remediation and f.id not in seen:
            seen[f.id] = f
    if not seen:
        return []
    out = ["", "### How to fix", ""]
    for f in seen.values():
        title = f" ({text(f.title)})" if f.title else ""
        out.append(f"- **{text(f.id)}**{title}: {text(f.remediation)}")
    return out


def _waivers(report: CheckReport) -> list[str]:
    waived = [f for f in report.findings if f.waiver is not None]
    refused = [f for f in report.findings if f.waiver_refused is not None]
    if not waived and not refused:
        return []
    out = ["", "### Waivers"]
    if waived:
        out += ["", "| Finding | Reason | Approved by | Expires |", "|---|---|---|---|"]
        for f in waived:
            w = f.waiver
            assert w is not None
            out.append(f"| **{text(f.id)}** {text(f.message)} | {text(w.reason)} | "
                       f"{text(w.approved_by or '—')} | {text(w.expires or 'never')} |")
    for f in refused:
        out += ["", f"A waiver for **{text(f.id)}** was refused: the rule is hard-mandatory, "
                "so no waiver can let it pass."]
    return out


def _step(step: Mapping[str, Any]) -> str:
    kind = str(step.get("kind", "?"))
    try:
        from gate.rollback.steps import STEP_KINDS  # the dry run's own wording

        what = STEP_KINDS[kind].describe(step[kind])
    except (ImportError, KeyError):
        what = kind
    policy = f"timeout {step['timeout_s']:g}s" if "timeout_s" in step else ""
    if step.get("retries"):
        policy += f", {plural(int(step['retries']), 'retry', 'retries')}"
    extra = f" ({policy})" if policy else ""
    if "verify" in step:
        extra += ", then verified"
    return f"**{text(str(step.get('name', kind)))}**: {kind} {code(what)}{extra}"


def _next(report: CheckReport, out_dir: Path, base: Path) -> list[str]:
    plan_info = report.rollback_plan
    if not plan_info or "path" not in plan_info:
        if report.decision is not None and report.decision.blocks:
            return ["", "### What happens next", "",
                    "The deploy stops here. No rollback plan was written."]
        return []
    plan = plan_info["plan"]
    path = rebase(report, str(out_dir / PLAN_FILE), base)
    steps: Sequence[Mapping[str, Any]] = plan.get("steps", [])
    out = ["", "### What happens next", "",
           f"The deploy stops, and the deploy job returns {text(plan['model']['name'])} "
           f"from {text(plan['model']['candidate_version'])} to "
           f"{text(str(plan['target'].get('version', '?')))} with "
           f"{code('gate rollback --execute ' + path)} "
           f"(plan sha256 {code(plan_info['sha256'][:12])}):", ""]
    if not steps:
        out.append("The plan has no steps: add `rollback.steps` to gate.yaml.")
    out += [f"{i}. {_step(s)}" for i, s in enumerate(steps, 1)]
    return out


def _validations(report: CheckReport) -> list[str]:
    if not report.validations:
        return []
    out = ["", "### Validations", "", "| Suite | Data | Result | Expectations passed |",
           "|---|---|---|---|"]
    for v in report.validations:
        stats = v.get("statistics", {})
        result = "✅ passed" if v.get("success") else "❌ failed"
        out.append(f"| **{text(str(v.get('name')))}** {code(str(v.get('suite')))} | "
                   f"{code(str(v.get('data')))} | {result} | "
                   f"{stats.get('successful', 0)} of {stats.get('evaluated', 0)} |")
    return out


def _rules(report: CheckReport, env: Mapping[str, str], base: Path) -> list[str]:
    if not report.rules:
        return []
    passed = sum(1 for r in report.rules if r.status == "passed")
    out = ["", f"<details><summary>Rules: {passed} of {len(report.rules)} passed</summary>", "",
           "| Rule | Status | Policy |", "|---|---|---|"]
    for r in report.rules:
        where = ""
        if r.file:
            probe = Finding(id=r.id, kind="failure", message="", rule=r.rule, file=r.file,
                            line=r.line)
            loc = policy_location(report, probe, base)
            where = source_link(env, loc) if loc else ""
        title = f" {text(r.title)}" if r.title else ""
        out.append(f"| **{text(r.id)}**{title} | {_STATUS.get(r.status, r.status)} | {where} |")
    return [*out, "", "</details>"]


def _footer(report: CheckReport, out_dir: Path, base: Path) -> list[str]:
    from gate import __version__

    parts = [f"gate {__version__}"]
    if report.engine:
        parts.append(" ".join(str(v) for v in (report.engine.get("name"),
                                               report.engine.get("version")) if v))
    decision = rebase(report, str(out_dir / DECISION_FILE), base)
    parts.append(f"full report: {code(decision)}")
    return ["", f"<sub>{' · '.join(parts)}</sub>"]


def render_markdown(report: CheckReport, env: Mapping[str, str], out_dir: Path,
                    *, max_findings: int | None = None) -> str:
    """The summary; ``max_findings`` caps the findings table (GitHub limits a summary's size)."""
    base = repo_root(env)
    lines = _headline(report) + _error(report)
    lines += _findings(report, env, base, max_findings)
    lines += _fixes(report) + _waivers(report) + _next(report, out_dir, base)
    lines += _validations(report)
    for note in report.notes:
        lines += ["", f"> **Note:** {text(note)}"]
    lines += _rules(report, env, base) + _footer(report, out_dir, base)
    return "\n".join(lines) + "\n"


class MarkdownReporter(DocumentReporter[CheckReport]):
    """The reviewer's summary, as Markdown."""

    name = "markdown"
    default_file = SUMMARY_FILE

    def render(self, report: CheckReport, ctx: EmitContext) -> str:
        return render_markdown(report, ctx.env, ctx.out_dir)
