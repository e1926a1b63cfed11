"""``--format github``: annotations, the job summary and step outputs on GitHub Actions.

* Annotations (``::error`` for findings that block, ``::warning`` for the
  others; waived findings are in the summary only) go to stdout, or to PATH
  with ``--format github=PATH``. GitHub shows at most 10 of each type per step,
  so gate writes 10 and then one ``::notice`` saying how many more the summary
  lists. Values are escaped by GitHub's workflow-command rules.
* The Markdown summary is appended to $GITHUB_STEP_SUMMARY (cut down to fit
  GitHub's 1 MiB limit).
* ``decision``, ``exit-code``, ``report-dir``, ``rollback-plan`` and
  ``rollback-plan-sha256`` are appended to $GITHUB_OUTPUT with the multiline
  syntax and a random delimiter. Paths are relative to $GITHUB_WORKSPACE, as
  later steps of the job see them.

Outside GitHub Actions (no GITHUB_STEP_SUMMARY / GITHUB_OUTPUT) only the
annotations are written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from gate.ci import repo_root
from gate.decision import CheckReport, Finding
from gate.errors import GateError
from gate.names import PLAN_FILE
from gate.reports import STDOUT, EmitContext
from gate.reports.locate import primary_location, rebase
from gate.reports.markdown import render_markdown

MAX_PER_TYPE = 10  # GitHub displays at most 10 error and 10 warning annotations per step
SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step summary larger than 1 MiB


def escape_data(value: str) -> str:
    """A workflow command's message: %, CR and LF are percent-encoded."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property value: the message's escapes, plus ':' and ','."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: Mapping[str, str | int | None], message: str) -> str:
    """``::name k=v,k=v::message``, skipping empty properties."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items()
                     if v not in (None, ""))
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotation(report: CheckReport, f: Finding, kind: str, base: Path) -> str:
    """One annotation for a finding, at the input or policy it concerns."""
    loc = primary_location(report, f, base)
    message = f.message + (f"\nFix: {f.remediation}" if f.remediation else "")
    title = f"{f.id}: {f.title}" if f.title else f.id
    return command(kind, {
        "file": loc.path if loc else None,
        "line": loc.line if loc else None,
        "col": loc.column if loc else None,
        "title": title,
    }, message)


def annotation_lines(report: CheckReport, base: Path) -> list[str]:
    """At most MAX_PER_TYPE errors and warnings, and a notice for the rest."""
    blocks_on_warn = bool(report.decision and report.decision.fail_on_warn)
    lines: list[str] = []
    if report.error is not None:
        e = report.error
        where = rebase(report, e.path, base) if e.path else None
        lines.append(command("error", {"file": where, "line": e.line, "col": e.col,
                                       "title": "gate could not run"}, e.render()))
    errors = [f for f in report.findings
              if f.effect == "fail" or (f.effect == "warn" and blocks_on_warn)]
    warnings = [f for f in report.findings if f.effect == "warn" and not blocks_on_warn]
    hidden = []
    for kind, group in (("error", errors), ("warning", warnings)):
        lines += [annotation(report, f, kind, base) for f in group[:MAX_PER_TYPE]]
        if len(group) > MAX_PER_TYPE:
            n = len(group) - MAX_PER_TYPE
            hidden.append(f"{n} more {'blocking finding' if kind == 'error' else 'warning'}"
                          f"{'s' if n != 1 else ''}")
    if hidden:
        lines.append(command("notice", {"title": "gate: more findings"},
                             f"{' and '.join(hidden)} than GitHub shows as annotations: "
                             "see the job summary for every finding."))
    return lines


def summary(report: CheckReport, env: Mapping[str, str], out_dir: Path) -> str:
    """The Markdown summary, with fewer table rows if the whole would exceed the limit."""
    text = render_markdown(report, env, out_dir)
    limit = len(report.findings)
    while len(text.encode("utf-8")) > SUMMARY_LIMIT - 1024 and limit > 0:
        limit //= 2
        text = render_markdown(report, env, out_dir, max_findings=limit)
    return text


def outputs(report: CheckReport, env: Mapping[str, str], out_dir: Path) -> dict[str, str]:
    """The step outputs, paths relative to the workspace."""
    base = repo_root(env)
    plan = report.rollback_plan if report.rollback_plan and "path" in report.rollback_plan \
        else None
    return {
        "decision": report.outcome,
        "exit-code": str(report.exit_code),
        "report-dir": rebase(report, str(out_dir), base),
        "rollback-plan": rebase(report, str(out_dir / PLAN_FILE), base) if plan else "",
        "rollback-plan-sha256": str(plan["sha256"]) if plan else "",
    }


def output_lines(values: Mapping[str, str]) -> str:
    """$GITHUB_OUTPUT text: ``name<<DELIM`` / value / ``DELIM`` per output."""
    out = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value:  # cannot happen with a fresh UUID; kept as the rule
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(out)


def append_file(path: str, text: str, what: str) -> None:
    """Append to a file the runner hands over ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY)."""
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        raise GateError(f"cannot append to ${what}: {e.strerror}", path=path,
                        hint=f"${what} must name a writable file (GitHub Actions sets it)") from e


class GithubReporter:
    """Annotations, job summary and outputs for a GitHub Actions step."""

    name = "github"
    takes_path = True  # the annotations

    def owns_stdout(self, target: Path | None) -> bool:
        return False  # workflow commands are lines the runner picks out of any output

    def emit(self, report: CheckReport, target: Path | None, ctx: EmitContext) -> None:
        base = repo_root(ctx.env)
        lines = "".join(line + "\n" for line in annotation_lines(report, base))
        if target is not None and target != STDOUT:
            from gate.fsutil import write_text

            write_text(target, lines)
        else:
            _write(ctx.stdout, lines)
        if ctx.env.get("GITHUB_STEP_SUMMARY"):
            append_file(ctx.env["GITHUB_STEP_SUMMARY"],
                        summary(report, ctx.env, ctx.out_dir), "GITHUB_STEP_SUMMARY")
        if ctx.env.get("GITHUB_OUTPUT"):
            append_file(ctx.env["GITHUB_OUTPUT"],
                        output_lines(outputs(report, ctx.env, ctx.out_dir)), "GITHUB_OUTPUT")


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()  # annotations must not interleave with later output of the step
