"""`gate verify`'s formats: text for people, JSON, and JUnit XML (one test case per test)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from gate.fsutil import dump_json
from gate.reports import DocumentReporter, EmitContext
from gate.verify import TestResult, VerifyReport


def _ranges(lines: Sequence[int]) -> str:
    out: list[str] = []
    start = prev = None
    for n in lines:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    if start is not None:
        out.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def render_text(report: VerifyReport) -> str:
    """One line per test, the coverage table if measured, and a summary."""
    lines = []
    for r in report.results:
        lines.append(f"{r.status.upper():<5} {r.case.id} ({r.case.file}:{r.case.line})")
        if r.message:
            lines.extend(f"      {m}" for m in r.message.splitlines())
    if report.coverage is not None:
        width = max([len(f.file) for f in report.coverage] + [5])
        lines.append("")
        lines.append("coverage of the policy files (test files excluded):")
        for f in report.coverage:
            row = f"  {f.file:<{width}}  {f.percent:6.1f}%  ({len(f.covered)}/{f.lines} lines)"
            if f.not_covered:
                row += f"  not covered: {_ranges(f.not_covered)}"
            lines.append(row)
        lines.append(f"  {'total':<{width}}  {report.coverage_percent or 0.0:6.1f}%")
    lines.append("")
    noun = "test" if len(report.results) == 1 else "tests"
    summary = (f"{len(report.results)} {noun}: {report.count('pass')} passed, "
               f"{report.count('fail')} failed, {report.count('error')} errors")
    if report.count("skip"):
        summary += f", {report.count('skip')} skipped"
    if report.engine:
        lines.append(f"engine: {report.engine}")
    lines.append(summary)
    if not report.coverage_ok:
        lines.append(f"coverage {report.coverage_percent or 0.0:.1f}% is below "
                     f"--coverage-min {report.coverage_min:g}%")
    return "\n".join(lines) + "\n"


def render_junit(report: VerifyReport) -> str:
    """JUnit XML: a suite per test file, one distinct test case per test.

    The case name is ``package.test_name`` (unique), its classname the file.
    """
    by_file: dict[str, list[TestResult]] = {}
    for r in report.results:
        by_file.setdefault(r.case.file, []).append(r)
    root = ET.Element("testsuites", _counts(report.results, name="gate verify"))
    for file, results in by_file.items():
        suite = ET.SubElement(root, "testsuite", _counts(results, name=file))
        for r in results:
            case = ET.SubElement(suite, "testcase", {
                "name": r.case.id, "classname": file, "file": file,
                "line": str(r.case.line), "time": f"{r.seconds:.6f}",
            })
            if r.status == "fail":
                ET.SubElement(case, "failure", {"message": r.message, "type": "fail"}).text = (
                    f"{r.case.file}:{r.case.line}: {r.message}")
            elif r.status == "error":
                ET.SubElement(case, "error", {"message": r.message, "type": "error"}).text = (
                    f"{r.case.file}:{r.case.line}: {r.message}")
            elif r.status == "skip":
                ET.SubElement(case, "skipped", {"message": "todo_test_ rule"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _counts(results: Sequence[TestResult], *, name: str) -> dict[str, str]:
    return {
        "name": name,
        "tests": str(len(results)),
        "failures": str(sum(r.status == "fail" for r in results)),
        "errors": str(sum(r.status == "error" for r in results)),
        "skipped": str(sum(r.status == "skip" for r in results)),
        "time": f"{sum(r.seconds for r in results):.6f}",
    }


class TextReporter(DocumentReporter[VerifyReport]):
    name = "text"

    def render(self, report: VerifyReport, ctx: EmitContext) -> str:
        return render_text(report)


class JsonReporter(DocumentReporter[VerifyReport]):
    name = "json"

    def render(self, report: VerifyReport, ctx: EmitContext) -> str:
        return dump_json(report.to_json())


class JunitReporter(DocumentReporter[VerifyReport]):
    name = "junit"

    def render(self, report: VerifyReport, ctx: EmitContext) -> str:
        return render_junit(report)
