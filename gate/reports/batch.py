"""The reports of a run over many bundles: one per format, built from each bundle's own.

Each format reuses its single-bundle renderer, so a bundle reads the same in a
combined report as in a run of its own:

* text: one verdict line per bundle, then the full report of each bundle that
  did not pass;
* json: the run's index (index.json);
* sarif: one log with one run per bundle (each with its own automation id);
* junit: one ``<testsuites>`` with each bundle's suites, named ``<bundle>: <suite>``;
* markdown: a table of bundles, then the summary of each bundle that did not pass;
* github: every bundle's annotations, the Markdown summary, and outputs for the run;
* gitlab: one code-quality file with every bundle's issues, and one dotenv.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from gate.batch import BundleResult, index
from gate.errors import UsageError
from gate.fsutil import dump_json, write_text
from gate.names import CODE_QUALITY_FILE, DOTENV_FILE, INDEX_FILE
from gate.reports import STDOUT, get_reporter, is_stdout

_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "🛑"}


def _not_passing(results: Sequence[BundleResult]) -> list[BundleResult]:
    return [r for r in results if r.report.outcome not in ("pass",)]


def render_text(results: Sequence[BundleResult], color: bool) -> str:
    from gate.reports.text import render_text as one

    width = max((len(r.path) for r in results), default=0)
    lines = []
    for r in results:
        name = " ".join(v for v in (r.report.model.get("name"), r.report.model.get("version"))
                        if v)
        what = r.report.counts_phrase() if r.report.decision else (
            r.report.error.render().splitlines()[0] if r.report.error else "")
        lines.append(f"{r.report.outcome.upper():<5}  {r.path:<{width}}  {name}  ({what})")
    doc = index(results)
    counts = {k: sum(1 for r in results if r.report.outcome == k)
              for k in ("pass", "warn", "fail", "error")}
    lines.append("")
    lines.append(f"gate: {doc['decision'].upper()}  {len(results)} bundles: " +
                 ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    for r in _not_passing(results):
        lines += ["", f"== {r.path}", one(r.report, color).rstrip("\n")]
    return "\n".join(lines) + "\n"


def render_sarif(results: Sequence[BundleResult], env: Mapping[str, str]) -> str:
    from gate.reports.sarif import render_sarif as one

    logs = [one(r.report, env) for r in results]  # each bundle's log once; its run is kept
    first = logs[0] if logs else {"$schema": "", "version": "2.1.0"}
    return dump_json({"$schema": first["$schema"], "version": first["version"],
                      "runs": [log["runs"][0] for log in logs]})


def render_junit(results: Sequence[BundleResult], env: Mapping[str, str]) -> str:
    from gate.reports.junit import render_junit as one

    root = ET.Element("testsuites", {"name": "gate"})
    for r in results:
        for suite in ET.fromstring(one(r.report, env)):
            suite.set("name", f"{r.path}: {suite.get('name')}")
            root.append(suite)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))
    ET.indent(root, space="  ")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{ET.tostring(root, encoding="unicode")}\n'


def render_markdown(results: Sequence[BundleResult], env: Mapping[str, str], out_dir: Path,
                    *, max_bundles: int | None = None) -> str:
    from gate.reports.markdown import render_markdown as one
    from gate.reports.markdown import text

    doc = index(results)
    lines = [f"## {_ICON[doc['decision']]} gate: {doc['decision'].upper()} · "
             f"{len(results)} bundles", "",
             "| | Bundle | Model | Verdict |", "|---|---|---|---|"]
    for r in results:
        model = " ".join(str(v) for v in r.report.model.values())
        what = r.report.counts_phrase() if r.report.decision else "could not run"
        lines.append(f"| {_ICON[r.report.outcome]} | `{text(r.path)}` | {text(model)} | "
                     f"{text(what)} |")
    shown = _not_passing(results)
    if max_bundles is not None:
        shown = shown[:max_bundles]
    for r in shown:
        body = one(r.report, env, out_dir / r.path).replace("\n## ", "\n### ", 1)
        lines += ["", f"<details><summary>{text(r.path)}: {r.report.outcome}</summary>", "",
                  body.replace("## ", "### ", 1), "</details>"]
    return "\n".join(lines) + "\n"


def github(results: Sequence[BundleResult], target: Path | None, stdout: TextIO,
           env: Mapping[str, str], out_dir: Path, cwd: Path) -> None:
    from gate.ci import repo_root
    from gate.reports.github import (
        SUMMARY_LIMIT,
        annotation_lines,
        append_file,
        output_lines,
    )
    from gate.reports.locate import rebase

    base = repo_root(env)
    lines = "".join(line + "\n" for r in results for line in annotation_lines(r.report, base))
    if target is not None and not is_stdout(target):
        write_text(target, lines)
    else:
        stdout.write(lines)
        stdout.flush()
    if env.get("GITHUB_STEP_SUMMARY"):
        limit: int | None = None
        text = render_markdown(results, env, out_dir)
        while len(text.encode("utf-8")) > SUMMARY_LIMIT - 1024 and limit != 0:
            limit = len(results) // 2 if limit is None else limit // 2
            text = render_markdown(results, env, out_dir, max_bundles=limit)
        append_file(env["GITHUB_STEP_SUMMARY"], text, "GITHUB_STEP_SUMMARY")
    if env.get("GITHUB_OUTPUT") and results:
        doc = index(results)
        report = results[0].report
        values = {
            "decision": str(doc["decision"]),
            "exit-code": str(doc["exit_code"]),
            "report-dir": rebase(report, str(out_dir), base),
            "index": rebase(report, str(out_dir / INDEX_FILE), base),
            "rollback-plans": "\n".join(rebase(report, str(cwd / b["rollback_plan"]), base)
                                         for b in doc["bundles"] if b["rollback_plan"]),
        }
        append_file(env["GITHUB_OUTPUT"], output_lines(values), "GITHUB_OUTPUT")


def gitlab(results: Sequence[BundleResult], target: Path | None, stdout: TextIO,
           env: Mapping[str, str], out_dir: Path) -> None:
    from gate.reports.gitlab import code_quality, dotenv_lines

    issues = [i for r in results for i in code_quality(r.report, env)]
    text = dump_json(issues)
    if is_stdout(target):
        stdout.write(text)
    else:
        write_text(target or out_dir / CODE_QUALITY_FILE, text)
    doc = index(results)
    values = {
        "GATE_DECISION": str(doc["decision"]),
        "GATE_EXIT_CODE": str(doc["exit_code"]),
        "GATE_INDEX": str(out_dir / INDEX_FILE),
        "GATE_ROLLBACK_PLANS": " ".join(str(b["rollback_plan"]) for b in doc["bundles"]
                                        if b["rollback_plan"]),
    }
    write_text(out_dir / DOTENV_FILE, dotenv_lines(values))


def write_batch_outputs(results: Sequence[BundleResult], out_dir: Path,
                        formats: Sequence[tuple[str, Path | None]], *, stdout: TextIO,
                        env: Mapping[str, str], color: bool, cwd: Path) -> None:
    """index.json, then every requested format, combined over the bundles."""
    index_text = dump_json(index(results))
    write_text(out_dir / INDEX_FILE, index_text)
    documents: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(results, color),
        "json": lambda: index_text,  # --format json is index.json itself
        "sarif": lambda: render_sarif(results, env),
        "junit": lambda: render_junit(results, env),
        "markdown": lambda: render_markdown(results, env, out_dir),
    }
    for name, target in formats:
        if name == "github":
            github(results, target, stdout, env, out_dir, cwd)
        elif name == "gitlab":
            gitlab(results, target, stdout, env, out_dir)
        elif name in documents:
            default = getattr(get_reporter("check", name), "default_file", None)
            _emit(documents[name](), target if target is not None else (
                out_dir / default if default else STDOUT), stdout)
        else:
            raise UsageError(f"the format '{name}' has no combined report")


def _emit(text: str, target: Path, stdout: TextIO) -> None:
    if is_stdout(target):
        stdout.write(text)
    else:
        write_text(target, text)
