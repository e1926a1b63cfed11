"""``--format junit`` (default file junit.xml): one test case per evaluated rule.

Test suites: ``policies`` (one case per Rego rule, named by its finding id),
``validations`` (one case per Great Expectations expectation) and, when needed,
``gate`` (findings no rule accounts for, such as an expired waiver; or the
error that stopped the gate). A rule that failed is a failure with every
message; a waived one is skipped with the waiver's reason; a warning passes,
with the warning in system-out, unless --fail-on-warn made it block.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gate.ci import repo_root
from gate.decision import CheckReport, Finding
from gate.names import JUNIT_FILE
from gate.reports import DocumentReporter, EmitContext
from gate.reports.locate import policy_location, primary_location, rebase

# Characters XML 1.0 cannot carry at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(value: str) -> str:
    return _INVALID_XML.sub("\ufffd", value)


def _attr(value: str) -> str:
    """An attribute value: one line (viewers show it as a title)."""
    return _clean(" ".join(value.split()))


@dataclass(frozen=True)
class Case:
    """One test case: a rule or an expectation, and the findings it produced."""

    name: str
    classname: str
    file: str | None
    line: int | None
    findings: tuple[Finding, ...]


def _describe(report: CheckReport, f: Finding, base: Path) -> str:
    lines = [f"[{f.severity}] {f.message}"]
    if f.remediation:
        lines.append(f"  fix: {f.remediation}")
    loc = primary_location(report, f, base)
    policy = policy_location(report, f, base)
    if loc is not None and loc != policy:
        lines.append(f"  at: {loc}{f' ({loc.pointer})' if loc.pointer else ''}")
    if policy is not None:
        lines.append(f"  policy: {policy}")
    return "\n".join(lines)


def _waiver_text(f: Finding) -> str:
    w = f.waiver
    if w is None:
        return ""
    text = f"waived: {w.reason}"
    if w.approved_by:
        text += f" (approved by {w.approved_by})"
    if w.expires:
        text += f", until {w.expires}"
    return text


def _case(report: CheckReport, case: Case, base: Path, blocks_on_warn: bool) -> ET.Element:
    attrs = {"name": case.name, "classname": case.classname, "time": "0"}
    if case.file:
        attrs["file"] = case.file
    if case.line:
        attrs["line"] = str(case.line)
    el = ET.Element("testcase", attrs)
    failing = [f for f in case.findings
               if f.effect == "fail" or (f.effect == "warn" and blocks_on_warn)]
    warnings = [f for f in case.findings if f.effect == "warn" and not blocks_on_warn]
    waived = [f for f in case.findings if f.effect == "waived"]
    if failing:
        first = failing[0].message
        message = first if len(failing) == 1 else (
            f"{len(failing)} findings: {first} (and {len(failing) - 1} more)")
        failure = ET.SubElement(el, "failure", {"message": _attr(message),
                                                "type": failing[0].severity})
        failure.text = _clean("\n".join(_describe(report, f, base) for f in failing))
    elif waived and not warnings:
        ET.SubElement(el, "skipped", {"message": _attr(_waiver_text(waived[0]))})
    out = [f"WARN {_describe(report, f, base)}" for f in warnings]
    out += [f"WAIVED {_describe(report, f, base)}\n  {_waiver_text(f)}" for f in waived
            if failing or warnings]
    if out:
        ET.SubElement(el, "system-out").text = _clean("\n".join(out))
    return el


def _unique(name: str, seen: dict[str, int]) -> str:
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} ({seen[name]})"


def _rule_cases(report: CheckReport, pending: list[Finding], base: Path,
                seen: dict[str, int]) -> list[Case]:
    """One case per evaluated rule, with the decision's findings (waivers applied)."""
    cases = []
    for r in report.rules:
        probe = Finding(id=r.id, kind="failure", message="", rule=r.rule, file=r.file,
                        line=r.line)
        loc = policy_location(report, probe, base)
        found = tuple(f for f in pending if f.rule == r.rule)
        pending[:] = [f for f in pending if f.rule != r.rule]
        cases.append(Case(_unique(r.id, seen), r.rule, loc.path if loc else None,
                          loc.line if loc else None, found))
    return cases


def _validation_cases(report: CheckReport, pending: list[Finding], base: Path,
                      seen: dict[str, int]) -> list[Case]:
    cases = []
    for v in report.validations:
        name = str(v.get("name"))
        suite = v.get("suite")
        file = rebase(report, str(suite), base) if isinstance(suite, str) else None
        results: Sequence[Mapping[str, object]] = v.get("results") or []
        for res in results:
            rid = f"gx.{name}.{res.get('expectation')}"
            if res.get("column"):
                rid += f".{res['column']}"
            found: tuple[Finding, ...] = ()
            if not res.get("success"):
                match = next((f for f in pending if f.id == rid), None)
                if match is not None:
                    pending.remove(match)
                    found = (match,)
            cases.append(Case(_unique(rid, seen), f"validations.{name}", file, None, found))
    return cases


def _suite(report: CheckReport, name: str, cases: Iterable[Case], base: Path,
           blocks_on_warn: bool, time: str) -> ET.Element:
    elements = [_case(report, c, base, blocks_on_warn) for c in cases]
    failures = sum(1 for e in elements if e.find("failure") is not None)
    skipped = sum(1 for e in elements if e.find("skipped") is not None)
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(elements)), "failures": str(failures), "errors": "0",
        "skipped": str(skipped), "time": time, "timestamp": report.created_at,
    })
    suite.extend(elements)
    return suite


def _properties(report: CheckReport) -> ET.Element:
    props = ET.Element("properties")
    values = {"decision": report.outcome, "exit_code": str(report.exit_code),
              **{f"model.{k}": str(v) for k, v in report.model.items()}}
    for key, value in values.items():
        ET.SubElement(props, "property", {"name": key, "value": value})
    return props


def render_junit(report: CheckReport, env: Mapping[str, str]) -> str:
    """The JUnit XML document of one run of `gate check`."""
    base = repo_root(env)
    seconds = f"{report.timings_ms.get('total', 0.0) / 1000:.3f}"
    blocks_on_warn = bool(report.decision and report.decision.fail_on_warn)
    root = ET.Element("testsuites", {"name": "gate"})
    suites: list[ET.Element] = []
    seen: dict[str, int] = {}
    pending = list(report.findings)
    if report.rules:
        suites.append(_suite(report, "policies", _rule_cases(report, pending, base, seen), base,
                             blocks_on_warn, seconds))
    if report.validations:
        suites.append(_suite(report, "validations",
                             _validation_cases(report, pending, base, seen), base,
                             blocks_on_warn, "0"))
    extra = [Case(_unique(f.id, seen), f.rule, None, None, (f,)) for f in pending]
    if extra or report.error is not None:
        gate_suite = _suite(report, "gate", extra, base, blocks_on_warn, "0")
        if report.error is not None:
            case = ET.SubElement(gate_suite, "testcase",
                                 {"name": "gate check", "classname": "gate", "time": "0"})
            ET.SubElement(case, "error", {"message": _attr(report.error.message),
                                          "type": type(report.error).__name__}
                          ).text = _clean(report.error.render())
            gate_suite.set("tests", str(int(gate_suite.get("tests", "0")) + 1))
            gate_suite.set("errors", "1")
        suites.append(gate_suite)
    if suites:
        suites[0].insert(0, _properties(report))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", seconds)
    root.extend(suites)
    ET.indent(root, space="  ")
    xml = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}\n'


class JunitReporter(DocumentReporter[CheckReport]):
    """JUnit XML, for the test report views of GitLab, Jenkins and GitHub test reporters."""

    name = "junit"
    default_file = JUNIT_FILE

    def render(self, report: CheckReport, ctx: EmitContext) -> str:
        return render_junit(report, ctx.env)
