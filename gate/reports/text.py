"""``--format text`` (default, stdout): the summary a person reads in a terminal or CI log.

A verdict line first, then the findings grouped by severity (most severe
first), each with its message, remediation and policy location; then where the
reports and the rollback plan are. Colour only on a TTY, and never when
NO_COLOR is set (https://no-color.org).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from gate.decision import SEVERITIES, CheckReport, Finding
from gate.reports import DocumentReporter, EmitContext

_VERDICT_COLOUR = {"pass": "green", "warn": "yellow", "fail": "red", "error": "red"}
_EFFECT = {"fail": ("FAIL", "red"), "warn": ("WARN", "yellow"), "waived": ("WAIVED", "blue")}
_WIDTH = 100


def _styler(color: bool) -> Callable[..., str]:
    import click  # already imported by the CLI; keeps reports importable alone

    def style(text: str, fg: str | None = None, bold: bool = False, dim: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold, dim=dim) if color else text

    return style


def _wrap(text: str, indent: str) -> list[str]:
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, _WIDTH, initial_indent=indent,
                                   subsequent_indent=indent) or [indent])
    return lines


def _finding(f: Finding, style: Callable[..., str]) -> list[str]:
    label, colour = _EFFECT[f.effect]
    head = f"  {style(f'{label:<6}', fg=colour, bold=True)} {style(f.id, bold=True)}"
    if f.title:
        head += f"  {f.title}"
    out = [head]
    out += _wrap(f.message, " " * 9)
    if f.remediation:
        out += _wrap(f"fix: {f.remediation}", " " * 9)
    if f.waiver is not None:
        by = f" (approved by {f.waiver.approved_by})" if f.waiver.approved_by else ""
        until = f", until {f.waiver.expires}" if f.waiver.expires else ""
        out += _wrap(f"waived: {f.waiver.reason}{by}{until}", " " * 9)
    if f.waiver_refused is not None:
        out += _wrap("a waiver was refused: this rule is hard-mandatory", " " * 9)
    if f.file:
        where = f"{f.file}:{f.line}" if f.line else f.file
        out.append(" " * 9 + style(where, dim=True))
    return out


def render_text(report: CheckReport, color: bool) -> str:
    """The terminal report."""
    style = _styler(color)
    model = report.model
    name = f"{model.get('name', '?')} {model.get('version', '')}".strip()
    verdict = style(report.outcome.upper(), fg=_VERDICT_COLOUR[report.outcome], bold=True)
    lines = []
    if report.decision is None:
        lines.append(f"gate: {verdict}  {name}  (no verdict: the gate could not run)")
    else:
        lines.append(f"gate: {verdict}  {name}  ({report.counts_phrase()})")
    findings = report.findings
    ranked = [*SEVERITIES, *sorted({f.severity for f in findings} - set(SEVERITIES))]
    for severity in ranked:
        group = [f for f in findings if f.severity == severity]
        if not group:
            continue
        lines.append("")
        lines.append(style(f"{severity.upper()} ({len(group)})", bold=True))
        for f in group:
            lines.extend(_finding(f, style))
    for note in report.notes:
        lines.append("")
        lines.extend(_wrap(f"note: {note}", ""))
    lines.append("")
    if report.rollback_plan and "path" in report.rollback_plan:
        plan = report.rollback_plan["plan"]
        steps = len(plan["steps"])
        lines.append(
            f"Deploy blocked. Rollback plan: {report.rollback_plan['path']} "
            f"(return {plan['model']['name']} to {plan['target']['version']}, "
            f"{steps} step{'s' if steps != 1 else ''}; run `gate rollback "
            f"{report.rollback_plan['path']}` to review it)"
        )
    elif report.decision is not None and report.decision.blocks:
        lines.append("Deploy blocked.")
    engine = report.engine
    if engine:
        line = f"Engine: {engine.get('name')} {engine.get('version', '')}".rstrip()
        if engine.get("fallback"):
            line += f" (fallback: {engine['fallback']})"
        lines.append(line)
    lines.append(f"Report: {report.output_dir}/decision.json")
    return "\n".join(lines) + "\n"


class TextReporter(DocumentReporter[CheckReport]):
    """The human-readable report."""

    name = "text"

    def render(self, report: CheckReport, ctx: EmitContext) -> str:
        return render_text(report, ctx.color)
