"""OPA's own Rego conformance cases, run through gate's embedded-engine adapter.

Every case goes the way a `gate check` policy run goes: its modules are
scanned by ``gate.policy.source.parse_module`` and handed with its data to the
engine's ``prepare`` (regorus or opa-go, through ``gate.engines.get_engine``);
its query is answered by the engine's ``evaluate`` (which reads an undefined
value as a left-out ref). Nothing here talks to an engine library directly.

Queries are Rego queries with bindings. ``data.pkg.p = x`` (nearly the whole
suite) is answered by evaluating the ref and binding ``x`` to its value, or
no binding at all when it is undefined. Any other shape is wrapped, unchanged,
in an array comprehension that collects the binding maps,
``[{"x": x} | <query>]``, and that one expression is evaluated through the
same adapter, so the adapter never needs a second entry point.

Results are compared as OPA's runner (``v1/test/cases``) compares them: as a
set of binding maps (order and duplicates ignored, numbers by value, types
never equal across kinds); with ``sort_bindings`` each binding's array is
sorted first (OPA sorts only its own result, the wanted arrays being written
in its order; sorting both here gives the same verdict and does not depend
on reproducing OPA's order between mixed types); a case that wants an error
(``want_error`` / ``want_error_code``) passes on any error. ``input_term`` is
a Rego term: when it is JSON (or JSON with trailing commas) it is passed as
the input document; when it holds a set it cannot be JSON, which is all gate
ever passes, and the case is skipped.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from gate.engines import EngineOptions, PolicyEngine, get_engine
from gate.errors import GateError
from gate.policy.source import Module, parse_module

SUITE_ENV = "GATE_CONFORMANCE_DIR"
# Kept in the repository as data (tests/data/opa-conformance.SOURCE.md names its source).
DEFAULT_SUITE = Path(__file__).resolve().parents[1] / "data" / "opa-conformance"

_NO_INPUT = object()
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_][A-Za-z0-9_]*)")
_NOT_VARS = frozenset({
    "data", "input", "true", "false", "null", "some", "in", "not", "with", "as", "every",
    "if", "contains", "else", "_",
})


def suite_dir() -> Path | None:
    """Where the conformance cases are (``$GATE_CONFORMANCE_DIR`` or tests/data/), if present."""
    env = os.environ.get(SUITE_ENV)
    path = Path(env) if env else DEFAULT_SUITE
    return path if path.is_dir() else None


@dataclass(frozen=True)
class Case:
    """One conformance case, as read from its JSON file."""

    category: str
    note: str
    query: str
    modules: tuple[str, ...]
    data: Mapping[str, Any]
    input: Any  # _NO_INPUT when the case has none
    want_result: list[dict[str, Any]] | None
    want_error: bool
    sort_bindings: bool
    skip: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What running a case gave: pass, fail or skip, and why."""

    category: str
    note: str
    status: str
    reason: str = ""
    adapter: bool = False  # failed inside the adapter, not inside the engine

    @property
    def gap(self) -> str:
        """The kind of engine gap a failure shows (see GAPS)."""
        if self.status != "fail":
            return ""
        for kind, pattern in GAPS:
            m = pattern.search(f"{self.category}: {self.reason}")
            if m:
                return kind.format(*m.groups())
        return "other"


# How failures read ("<category>: <reason>"), most specific first; the first match names it.
GAPS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((k, re.compile(p)) for k, p in (
    ("adapter", r"^[\w-]+: adapter: "),
    ("policy line over 1024 columns (regorus's default limit)", r"maximum column width"),
    ("builtin missing: {0}", r"could not find function ([\w.]+)"),
    ("template string $\"...\"", r"^stringinterpolation: "),
    ("keyword used as a name", r"^keywordrefs: "),
    ("call with an output argument, f(x, out)", r"var \S+ is unsafe \(path"),
    ("builtin raises an error where OPA answers", r"expects .*(argument|collection)|requires .*"
     r"argument|invalid regex|invalid schema|could not parse number|could not determine"),
    ("engine panic", r"crashed"),
    ("`with` on a builtin", r"^withkeyword: .*(undefined variable|undefined rule)"),
    ("number out of range", r"cannot parse number: out of range"),
    ("no error where OPA raises one", r"^[\w-]+: wanted an error"),
    ("different result", r"^[\w-]+: want "),
))


@dataclass
class Report:
    """Every outcome, with per-category counts and the pass rate."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, Counter[str]]:
        by: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            by.setdefault(o.category, Counter())[o.status] += 1
        return dict(sorted(by.items()))

    @property
    def total(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def pass_rate(self) -> float:
        """Passed over run (passed + failed), in percent; skipped cases are not run."""
        t = self.total
        run = t["pass"] + t["fail"]
        return 100.0 * t["pass"] / run if run else 0.0

    @property
    def adapter_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.adapter]

    def gaps(self) -> dict[str, Counter[str]]:
        """category -> gap kind -> failing cases."""
        by: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            if o.status == "fail":
                by.setdefault(o.category, Counter())[o.gap] += 1
        return dict(sorted(by.items()))

    def to_json(self) -> dict[str, Any]:
        t = self.total
        return {
            "summary": {"pass": t["pass"], "fail": t["fail"], "skip": t["skip"],
                        "cases": len(self.outcomes), "pass_rate": round(self.pass_rate, 2),
                        "seconds": round(self.seconds, 2)},
            "categories": {c: dict(n) for c, n in self.counts().items()},
            "gaps": {c: dict(n) for c, n in self.gaps().items()},
            "cases": [{**o.__dict__, "gap": o.gap} for o in self.outcomes if o.status != "pass"],
        }


# --- loading ------------------------------------------------------------------------------


def _input_of(raw: Mapping[str, Any]) -> tuple[Any, str | None]:
    if "input_term" in raw:
        term = raw["input_term"]
        for text in (term, re.sub(r",(\s*[}\]])", r"\1", term)):
            try:
                return json.loads(text), None
            except ValueError:
                continue
        return _NO_INPUT, "input_term is a Rego term with a set: not JSON, which gate passes"
    if "input" in raw:
        return raw["input"], None
    return _NO_INPUT, None


# OPA's runner registers test.sleep itself; it is no Rego builtin, so no engine has it.
_RUNNER_ONLY = re.compile(r"\btest\.sleep\(")


def load_cases(root: Path) -> list[Case]:
    """Every case under ``root``, in file order (category = the case's folder)."""
    cases = []
    for file in sorted(root.glob("*/*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        for raw in doc.get("cases", []):
            input_doc, skip = _input_of(raw)
            if any(_RUNNER_ONLY.search(m) for m in raw.get("modules") or ()):
                skip = "calls test.sleep, which only OPA's own test runner defines"
            cases.append(Case(
                category=file.parent.name,
                note=str(raw["note"]),
                query=str(raw["query"]),
                modules=tuple(raw.get("modules") or ()),
                data=raw.get("data") or {},
                input=input_doc,
                want_result=raw.get("want_result"),
                want_error="want_error" in raw or "want_error_code" in raw,
                sort_bindings=bool(raw.get("sort_bindings")),
                skip=skip,
            ))
    return cases


# --- query shapes ---------------------------------------------------------------------------


def _mask_strings(text: str) -> str:
    """``text`` with string literals (also raw and template strings) blanked out."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"`":
            end = i + 1
            while end < n and text[end] != c:
                end += 2 if c == '"' and text[end] == "\\" else 1
            out.append(" " * (min(end, n - 1) - i + 1))
            i = end + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _split_top(text: str, seps: str) -> list[str]:
    """Split at ``seps`` characters outside brackets and strings."""
    masked = _mask_strings(text)
    parts, depth, start = [], 0, 0
    for i, c in enumerate(masked):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c in seps and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def free_vars(expr: str) -> list[str]:
    """Variables of a query or expression, in order of first use (not locals of bodies)."""
    masked = _mask_strings(expr)
    # Drop comprehension and other bracketed bodies' locals only where they bind with
    # `|`; the suite's non-trivial queries never need that, so plain scanning serves.
    names: list[str] = []
    for m in _IDENT.finditer(masked):
        name = m.group(1)
        rest = masked[m.end():].lstrip()
        if name in _NOT_VARS or rest.startswith(("(", ".")) or name in names:
            continue
        names.append(name)
    return names


def _binding(conjunct: str) -> tuple[str, str] | None:
    """(expression, var) when ``conjunct`` is ``<expr> = <var>`` or ``<var> = <expr>``."""
    masked = _mask_strings(conjunct)
    eqs = [m.start() for m in re.finditer(r"(?<![=:!<>])=(?!=)", masked)]
    if len(eqs) != 1:
        return None
    left, right = conjunct[: eqs[0]].strip(), conjunct[eqs[0] + 1 :].strip()
    for expr, var in ((left, right), (right, left)):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var) and var not in _NOT_VARS \
                and not free_vars(expr) and "$\"" not in expr:
            return expr, var
    return None


@dataclass(frozen=True)
class Plan:
    """How a query is asked: expressions bound to vars, or one collecting comprehension."""

    bindings: tuple[tuple[str, str], ...] = ()
    collect: str | None = None


def plan_query(query: str) -> Plan:
    """The way to answer ``query`` through ``PolicyEngine.evaluate``."""
    conjuncts = _split_top(query, ";\n")
    pairs = [_binding(c) for c in conjuncts]
    if all(p is not None for p in pairs):
        return Plan(bindings=tuple(p for p in pairs if p is not None))
    names = free_vars(query)
    obj = ", ".join(f'"{v}": {v}' for v in names)
    return Plan(collect="[{" + obj + "} | " + "; ".join(conjuncts) + "]")


# --- comparing results --------------------------------------------------------------------


def canon(value: Any) -> tuple[Any, ...]:
    """A hashable, ordered form of a JSON value in which only equal Rego values are equal.

    Types rank as OPA orders them (null < boolean < number < string < array <
    object); numbers compare by value (1 == 1.0), booleans never equal numbers.
    """
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return (2, number.normalize() if number.is_finite() else number)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list):
        return (4, tuple(canon(v) for v in value))
    if isinstance(value, dict):
        return (5, tuple(sorted((str(k), canon(v)) for k, v in value.items())))
    raise TypeError(f"not a JSON value: {value!r}")


def binding_set(rows: Iterable[Mapping[str, Any]], sort_bindings: bool) -> frozenset[Any]:
    """Rows of bindings as OPA's runner compares them: a set of binding objects."""
    out = set()
    for row in rows:
        items = []
        for k, v in row.items():
            c = canon(v)
            if sort_bindings and c[0] == 4:
                c = (4, tuple(sorted(c[1])))
            items.append((k, c))
        out.add(tuple(sorted(items)))
    return frozenset(out)


# --- running ------------------------------------------------------------------------------


class AdapterFault(Exception):
    """The adapter itself broke (not a GateError): a gate bug, not an engine gap."""


def _answer(engine: PolicyEngine, plan: Plan, input_doc: Any) -> list[dict[str, Any]]:
    try:
        if plan.collect is not None:
            values = engine.evaluate([plan.collect], input_doc)
            rows = values.get(plan.collect)
            return list(rows) if isinstance(rows, list) else []
        exprs = list(dict.fromkeys(e for e, _ in plan.bindings))
        values = engine.evaluate(exprs, input_doc)
    except GateError:
        raise
    except Exception as e:  # anything else is the adapter's own failure
        raise AdapterFault(f"{type(e).__name__}: {e}") from e
    row: dict[str, Any] = {}
    for expr, var in plan.bindings:
        if expr not in values:
            return []  # undefined: no bindings at all
        if var in row and canon(row[var]) != canon(values[expr]):
            return []  # the same var bound to two different values does not unify
        row[var] = values[expr]
    return [row]


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


def run_case(case: Case, engine_name: str = "regorus") -> Outcome:
    """Run one case through the engine's prepare + evaluate and judge it as OPA does."""
    def out(status: str, reason: str = "", adapter: bool = False) -> Outcome:
        return Outcome(case.category, case.note, status, reason, adapter)

    if case.skip:
        return out("skip", case.skip)
    input_doc = None if case.input is _NO_INPUT else case.input
    try:  # gate's own scanner reads every module before an engine sees it
        modules: list[Module] = [
            parse_module(text, f"test-{i}.rego") for i, text in enumerate(case.modules)
        ]
    except GateError as e:
        if case.want_error:
            return out("pass")
        return out("fail", f"adapter: gate's Rego scanner: {_first_line(e.message)}", True)
    engine = get_engine(engine_name, EngineOptions())
    try:
        engine.prepare(modules, case.data)
        rows = _answer(engine, plan_query(case.query), input_doc)
    except GateError as e:
        if case.want_error:
            return out("pass")
        return out("fail", f"error: {_first_line(e.message)}")
    except AdapterFault as e:
        return out("fail", f"adapter: {e}", adapter=True)
    finally:
        engine.close()
    if case.want_error:
        return out("fail", f"wanted an error, got {json.dumps(rows)[:200]}")
    want = case.want_result or []
    try:
        same = binding_set(want, case.sort_bindings) == binding_set(rows, case.sort_bindings)
    except TypeError as e:
        return out("fail", f"adapter: {e}", adapter=True)
    if same:
        return out("pass")
    return out("fail", f"want {json.dumps(want)[:150]}, got {json.dumps(rows)[:150]}")


def run_suite(root: Path, cases: Sequence[Case] | None = None,
              engine: str = "regorus") -> Report:
    """Run every case under ``root`` (or the given ones) on ``engine``; collect the outcomes."""
    start = time.perf_counter()
    report = Report()
    for case in cases if cases is not None else load_cases(root):
        report.outcomes.append(run_case(case, engine))
    report.seconds = time.perf_counter() - start
    return report


def table(report: Report) -> str:
    """A plain-text table: one row per category, then the total and the pass rate."""
    rows = [("category", "pass", "fail", "skip")]
    for cat, n in report.counts().items():
        rows.append((cat, str(n["pass"]), str(n["fail"]), str(n["skip"])))
    t = report.total
    rows.append(("TOTAL", str(t["pass"]), str(t["fail"]), str(t["skip"])))
    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  {r[1]:>5}  {r[2]:>5}  {r[3]:>5}" for r in rows]
    lines.append(f"pass rate {report.pass_rate:.2f}% of {t['pass'] + t['fail']} run cases "
                 f"({t['skip']} skipped) in {report.seconds:.1f} s")
    return "\n".join(lines)


def failures(report: Report) -> Iterator[Outcome]:
    return (o for o in report.outcomes if o.status == "fail")
