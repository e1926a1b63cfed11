"""`gate drift`'s formats: the terminal summary, drift-report.json, and the CI outputs a
scheduled pipeline reads to start retraining.

CI outputs, as the rollback plan's (gate.reports.github, gate.reports.gitlab):

* GitHub (``--format github``, when ``$GITHUB_OUTPUT`` is set): ``decision``,
  ``exit-code``, ``report-dir``, ``recalibration-plan`` and
  ``recalibration-plan-sha256`` (empty when no plan was written) and
  ``drifted-features`` (``check/feature``, comma-separated), paths relative to
  the workspace.
* GitLab (``--format gitlab``): ``gate-drift.env`` in the output folder, for
  ``artifacts:reports:dotenv``: ``GATE_DRIFT_DECISION``, ``GATE_DRIFT_EXIT_CODE``,
  ``GATE_DRIFT_REPORT_DIR``, ``GATE_RECALIBRATION_PLAN``,
  ``GATE_RECALIBRATION_PLAN_SHA256`` and ``GATE_DRIFTED_FEATURES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate.decision import Decision
from gate.drift.judge import DriftReport
from gate.fsutil import dump_json, write_text
from gate.names import DRIFT_DOTENV_FILE, DRIFT_REPORT_FILE, RECALIBRATION_PLAN_FILE
from gate.reports import DocumentReporter, EmitContext, is_stdout


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _feature_line(feature: Mapping[str, Any], drifted: bool) -> str:
    s = feature["statistics"]
    if feature["kind"] == "numeric":
        parts = [f"psi {_fmt(s['psi'])}", f"ks {_fmt(s['ks'])} (p={_fmt(s['ks_p_value'])})",
                 f"wasserstein_norm {_fmt(s['wasserstein_norm'])}"]
        how = feature.get("method") or "no values"
    else:
        unseen = feature["unseen"]
        parts = [f"chi2 p={_fmt(s['chi2_p_value'])}", f"jensen_shannon {_fmt(s['jensen_shannon'])}",
                 f"linf {_fmt(s['linf'])}", f"unseen {unseen['categories']} "
                 f"({_fmt(unseen['share'] * 100)}%)"]
        how = f"{feature['categories']['reference']} categories"
    n = feature["n"]
    mark = "DRIFT" if drifted else "ok"
    return (f"    {mark:<5} {feature['name']:<16} {feature['kind']:<11} {', '.join(parts)}"
            f"  [n {n['reference']}/{n['current']}, {how}]")


def _window(side: Mapping[str, Any]) -> str:
    w = side.get("window") or {}
    span = f", {w.get('start', '...')}..{w.get('end', '...')}" if w else ""
    return f"{side['data']} ({side['rows']} rows{span})"


def render_text(doc: Mapping[str, Any], decision: Decision) -> str:
    """The terminal summary of one run."""
    model = doc["model"]
    lines = [f"gate drift: {model['name']} {model['version']}, {len(doc['checks'])} check(s)"]
    drifted = {tuple(k.split("/", 1)) for k in doc["drifted"]}
    for check in doc["checks"]:
        lines.append(f"  {check['name']}: reference {_window(check['reference'])}, current "
                     f"{_window(check['current'])}")
        lines += [_feature_line(f, (check["name"], f["name"]) in drifted)
                  for f in check["features"]]
    policies = doc["policies"]
    lines.append(f"  policies: {policies['rules']} rule(s) in {', '.join(policies['namespaces'])}"
                 f" ({doc['engine'].get('name', '?')})")
    counts = decision.counts()
    lines.append(f"Decision: {decision.outcome.upper()} (exit {decision.exit_code}): "
                 f"{counts['fail']} failing, {counts['warn']} warning, {counts['waived']} waived")
    for f in decision.findings:
        lines.append(f"  {f.effect.upper():<6} {f.id}  {f.message}")
    for note in doc["notes"]:
        lines.append(f"note: {note}")
    plan = doc["recalibration_plan"]
    if plan:
        lines.append(f"Recalibration plan: {plan['path']} (sha256 {plan['sha256'][:12]}); review "
                     f"it with `gate rollback {plan['path']}`, run it with --execute")
    lines.append(f"wrote {doc['output_dir']}/{DRIFT_REPORT_FILE}")
    return "\n".join(lines)


def _relative(path: Path, env: Mapping[str, str]) -> str:
    from gate.ci import repo_root

    base = repo_root(env)
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return str(path.resolve())


def ci_values(doc: Mapping[str, Any], out_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The outputs, by their GitHub names."""
    plan = doc.get("recalibration_plan")
    return {
        "decision": str(doc["decision"]),
        "exit-code": str(doc["exit_code"]),
        "report-dir": _relative(out_dir, env),
        "recalibration-plan": _relative(out_dir / RECALIBRATION_PLAN_FILE, env) if plan else "",
        "recalibration-plan-sha256": str(plan["sha256"]) if plan else "",
        "drifted-features": ",".join(doc.get("drifted") or []),
    }


_DOTENV = {"decision": "GATE_DRIFT_DECISION", "exit-code": "GATE_DRIFT_EXIT_CODE",
           "report-dir": "GATE_DRIFT_REPORT_DIR", "recalibration-plan": "GATE_RECALIBRATION_PLAN",
           "recalibration-plan-sha256": "GATE_RECALIBRATION_PLAN_SHA256",
           "drifted-features": "GATE_DRIFTED_FEATURES"}


class TextReporter(DocumentReporter[DriftReport]):
    name = "text"

    def emit(self, report: DriftReport, target: Path | None, ctx: EmitContext) -> None:
        if report.decision is not None:  # an error has no summary: it goes to stderr
            super().emit(report, target, ctx)

    def render(self, report: DriftReport, ctx: EmitContext) -> str:
        assert report.decision is not None
        return render_text(report.doc, report.decision)


class JsonReporter(DocumentReporter[DriftReport]):
    """drift-report.json, exactly as written to the output folder."""

    name = "json"

    def render(self, report: DriftReport, ctx: EmitContext) -> str:
        return dump_json(report.doc)


class GithubOutputs:
    """The outputs, appended to $GITHUB_OUTPUT (nothing outside GitHub Actions)."""

    name = "github"
    takes_path = False  # its outputs go to $GITHUB_OUTPUT

    def owns_stdout(self, target: Path | None) -> bool:
        return False

    def emit(self, report: DriftReport, target: Path | None, ctx: EmitContext) -> None:
        if ctx.env.get("GITHUB_OUTPUT"):
            from gate.reports.github import append_file, output_lines

            values = ci_values(report.doc, ctx.out_dir, ctx.env)
            append_file(ctx.env["GITHUB_OUTPUT"], output_lines(values), "GITHUB_OUTPUT")


class GitlabOutputs:
    """gate-drift.env (or PATH), for ``artifacts:reports:dotenv``."""

    name = "gitlab"
    takes_path = True  # the dotenv file

    def owns_stdout(self, target: Path | None) -> bool:
        return is_stdout(target)

    def emit(self, report: DriftReport, target: Path | None, ctx: EmitContext) -> None:
        from gate.reports.gitlab import dotenv_lines

        values = ci_values(report.doc, ctx.out_dir, ctx.env)
        text = dotenv_lines({_DOTENV[k]: v for k, v in values.items()})
        if is_stdout(target):
            ctx.stdout.write(text)
        else:
            write_text(target or ctx.out_dir / DRIFT_DOTENV_FILE, text)
