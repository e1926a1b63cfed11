"""OPA's own Go engine, in process: ``opa-golib-python-bindings`` (``opa_bindings``).

The wheel is OPA's ``v1/rego`` package built as a c-shared library behind a
ctypes wrapper, so the verdict comes from the same code as ``opa eval``. This
module is the only one that knows the wrapper:

* policies and data are added as text and JSON; OPA compiles them when a
  query is first prepared, so the first evaluation compiles (within the
  evaluation time limit) and its errors (``parse_error``, ``prepare_error``:
  ``file:line: rego_…_error: message``) become PolicyErrors at file:line.
  Forcing the compile in ``prepare`` with a query of its own would compile
  everything twice: OPA compiles again for the first real query;
* every module is parsed again with OPA's own parser (``rego.parse_module``)
  and must have the package and rule heads the gate read from it; a module
  the two readings disagree on is refused;
* all rule references of a check are read in one query, each inside an array
  comprehension so an undefined rule is an empty array, not an undefined query;
* a Go panic arrives as ``OpaError(code="panic")`` and becomes an EngineError.

Upstream declares ``Requires-Python >=3.14``; the wrapper itself is plain
ctypes and the project's tests run it on older Pythons, installed with
``pip install --ignore-requires-python`` (see docs/engines.md).
"""

from __future__ import annotations

import base64
import json
import mmap
import re
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from gate.engines import EngineOptions
from gate.engines.bounded import call_bounded
from gate.errors import DocumentError, EngineError, PolicyError
from gate.policy.source import Comment, Module, Outline, RuleHead, RuleKind, align_rows, lex

try:
    import opa_bindings
    from opa_bindings import OpaEngine, OpaError
except ImportError:  # the optional extra is not installed
    AVAILABLE = False
else:
    AVAILABLE = True

DIST = "opa-golib-python-bindings"
_LOCATED = r":(?P<line>\d+): (?P<code>(?:rego|eval)_[a-z_]+): (?P<msg>[^\n]*)"
_DATA_ROOT = {"type": "var", "value": "data"}


@cache
def unavailable_reason() -> str | None:
    """Why this engine cannot run here (None when it can): not installed, or not loadable."""
    if not AVAILABLE:
        return f"{DIST} is not installed"
    try:
        OpaEngine().close()
    except OSError as e:  # the shared library does not load on this system
        return f"OPA's shared library does not load here: {e}"
    return None


def _site() -> Path:
    return Path(opa_bindings.__file__).resolve().parent


@cache
def versions() -> tuple[str, str]:
    """(OPA's version, the bindings' version), read from the files, not by importing metadata."""
    opa = "unknown"
    library = _site() / "libopabridge.so"
    try:
        with library.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            # Go's build information lists each module: "dep\t<path>\tv1.20.2\t…".
            at = m.find(b"\tgithub.com/open-policy-agent/opa\tv")
            if at >= 0:
                end = m.find(b"\t", at + 36)
                opa = m[at + 35 : end].decode("ascii", "replace")
    except (OSError, ValueError):
        pass
    bindings = "unknown"
    for info in _site().parent.glob("opa_golib_python_bindings-*.dist-info"):
        bindings = info.name.removesuffix(".dist-info").split("-")[1]
    return opa, bindings


def _error(exc: BaseException, what: str, paths: Sequence[str]) -> PolicyError | EngineError:
    """An OpaError as a PolicyError at file:line when it names one of ``paths``."""
    code = getattr(exc, "code", "")
    message = str(getattr(exc, "message", exc))
    if code == "panic":
        return EngineError(f"OPA's engine panicked while {what}: {message}")
    located = sorted(
        (m.start(), path, m)
        for path in paths
        for m in re.finditer(re.escape(path) + _LOCATED, message)
    )
    if located:
        _, path, m = located[0]
        more = [f"{p}:{n.group('line')}: {n.group('msg')}" for _, p, n in located[1:]]
        detail = f"{what}: {m.group('msg')} ({m.group('code')})"
        if more:
            detail += "\nalso:\n  " + "\n  ".join(more)
        return PolicyError(detail, path=path, line=int(m.group("line")))
    if code in ("closed", "internal", "invalid_argument"):
        return EngineError(f"OPA's engine failed while {what}: {message}")
    first = message.splitlines()[0] if message else code
    return PolicyError(f"{what}: {first}")


def _compiling(exc: BaseException | None) -> bool:
    """Whether OPA failed compiling the policies (not evaluating them)."""
    return isinstance(exc, OpaError) and getattr(exc, "code", "") == "prepare_error"


def _json_safe(doc: Any, what: str) -> Any:
    """Refuse NaN and Infinity before they reach Go (they are not JSON, nor Rego)."""
    try:
        json.dumps(doc, allow_nan=False)
    except ValueError as e:
        raise DocumentError(f"the {what} document holds a value JSON cannot carry: {e}",
                            hint="remove NaN/Infinity values from the source documents") from e
    return doc


def _collect_query(refs: Sequence[str]) -> str:
    """One query that reads every ref: ``[[v | v := ref1], …]``; undefined is ``[]``."""
    return "__gate_values := [" + ", ".join(f"[v | v := {ref}]" for ref in refs) + "]"


# --- OPA's own parse ---------------------------------------------------------------------


@cache
def _parser() -> Any:
    return OpaEngine()


def _term_path(terms: Sequence[Mapping[str, Any]]) -> tuple[list[str], bool]:
    """The ground prefix of a reference given as AST terms, and whether it is all ground."""
    out: list[str] = []
    for i, term in enumerate(terms):
        if (i == 0 and term.get("type") == "var") or (i > 0 and term.get("type") == "string"):
            out.append(str(term["value"]))
        else:
            return out, False
    return out, True


def _head(rule: Mapping[str, Any]) -> RuleHead:
    head = rule["head"]
    path, ground = _term_path(head.get("ref") or [{"type": "var", "value": head["name"]}])
    kind: RuleKind
    if head.get("args"):
        kind = "function"
    elif "key" in head and "value" not in head:
        kind = "set"
    elif not ground:
        kind = "object"
    else:
        kind = "complete"
    return RuleHead(tuple(path), kind, 0)


def parse(text: str, path: str) -> Outline:
    """OPA's parse of a module: its outline, comments included (rule lines not known)."""
    try:
        rows = _parser().eval_query(
            "m := rego.parse_module(input.f, input.s)", {"f": path, "s": text})
    except OpaError as e:
        raise _error(e, "the policy does not parse", [path]) from e
    ast = rows[0]["m"]
    package, _ = _term_path(ast["package"]["path"])
    if package[:1] != ["data"]:
        raise PolicyError("the package path does not start at data", path=path)
    comments = tuple(
        Comment(int(c["Location"]["row"]), int(c["Location"]["col"]),
                base64.b64decode(c["Text"]).decode("utf-8"))
        for c in ast.get("comments") or ()
    )
    rules = tuple(_head(r) for r in ast.get("rules") or ())
    _, starts = lex(text)
    package_line = next((row for row, word in starts if word == "package"), 1)
    imports = tuple(row for row, word in starts if word == "import")
    return Outline("opa-go", tuple(package[1:]), package_line, rules, imports, comments)


def outline(text: str, path: str) -> Outline:
    """OPA's own outline of a module, with each rule's line found in the source."""
    shape = parse(text, path)
    return Outline(shape.parser, shape.package, shape.package_line,
                   align_rows(text, path, shape.rules), shape.import_lines, shape.comments)


# The OPA release whose reading of the policy library the test suite cross-checks (the
# Makefile's pinned bindings): with it, the library's own modules need no check per run.
CROSS_CHECKED_OPA = "1.20.2"


def needs_outline_check(module: Module) -> bool:
    """Whether ``module``'s outline must be checked against OPA's parse in this run: always,
    unless it is byte for byte a library module and OPA is the cross-checked release (that
    check costs about 13 ms a module, most of a cold check's time on this engine)."""
    from gate.library import library_digests

    return not (module.sha256 in library_digests() and versions()[0] == CROSS_CHECKED_OPA)


def check_outline(module: Module) -> None:
    """Refuse a module whose package, rule heads or comments OPA reads differently."""
    shape = parse(module.text, module.path)
    ours = [(r.path, r.kind) for r in module.rules]
    theirs = [(r.path, r.kind) for r in shape.rules]
    problems = []
    if shape.package != module.package_path:
        problems.append(f"package {list(shape.package)} (gate read {list(module.package_path)})")
    if theirs != ours:
        problems.append(f"rule heads {theirs} (gate read {ours})")
    if shape.comments != tuple(lex(module.text)[0]):
        problems.append("different comments (so METADATA could attach differently)")
    if problems:
        raise EngineError(
            f"OPA's parser reads {module.path} differently from the gate: {'; '.join(problems)}",
            hint="this is a gate limitation, not an error in the policy: please report it",
        )


# --- the engine -------------------------------------------------------------------------------


def _unavailable(reason: str) -> EngineError:
    return EngineError(
        f"the opa-go engine cannot run: {reason}",
        hint="pip install 'gate-release[opa-go]' (Python 3.14+), or on an older Python "
        f"`pip install --ignore-requires-python {DIST}==0.4.4`; or choose --engine regorus",
    )


class OpaGoEngine:
    """PolicyEngine over OPA's Go engine in this process (Rego v1)."""

    name = "opa-go"

    def __init__(self, options: EngineOptions | None = None) -> None:
        # The library itself loads (and starts Go's runtime) only in prepare.
        if not AVAILABLE:
            raise _unavailable(f"{DIST} is not installed")
        self._options = options or EngineOptions()
        self._engine: Any = None
        self._paths: list[str] = []

    def version(self) -> str:
        opa, bindings = versions()
        return f"{opa.lstrip('v')} (bindings {bindings})"

    def prepare(self, modules: Sequence[Module], data: Mapping[str, Any]) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise _unavailable(reason)
        self.close()  # the policies prepared before, if any
        engine = OpaEngine()
        self._paths = [m.path for m in modules]
        try:
            try:
                for module in modules:
                    engine.add_policy(module.path, module.text)
                engine.add_data(_json_safe(dict(data), "data"))
            except OpaError as e:
                raise _error(e, "the policy does not compile", self._paths) from e
            for module in modules:
                if module.parser != self.name and needs_outline_check(module):
                    check_outline(module)
        except BaseException:
            engine.close()  # a module refused: the engine is never handed out
            raise
        self._engine = engine

    def _eval(self, query: str, input_doc: Any | None, *, coverage: bool = False) -> Any:
        if self._engine is None:
            raise EngineError("the engine was asked to evaluate before it was prepared")
        try:
            rows = self._engine.eval_query(query, input_doc, coverage=coverage)
        except OpaError as e:
            # OPA compiles the policies when a query is first prepared (compiling them
            # in prepare() with a query of its own would compile them twice)
            raise _error(e, "the policy does not compile" if _compiling(e) else
                         "evaluation failed", self._paths) from e
        return rows

    def evaluate(self, refs: Sequence[str], input_doc: Any | None) -> dict[str, Any]:
        if not refs:  # nothing to read, but a policy that does not compile is still refused
            call_bounded(lambda: self._eval("true", None), self._options.eval_timeout_s,
                         "compiling the policies (opa-go)")
            return {}
        if input_doc is not None:
            _json_safe(input_doc, "input")
        rows = call_bounded(lambda: self._eval(_collect_query(refs), input_doc),
                            self._options.eval_timeout_s, "policy evaluation (opa-go)")
        values: dict[str, Any] = {}
        if rows:
            for ref, found in zip(refs, rows[0]["__gate_values"], strict=True):
                if found:
                    values[ref] = found[0]
        return values

    def evaluate_each(self, refs: Sequence[str], *, coverage: bool = False) -> Any:
        """Each ref with no input (policy unit tests); see RegorusEngine.

        OPA prepares every distinct query against the whole policy set, which costs
        about as much as compiling it: the refs are first read in one query, and only
        when that query fails (a test that errors) is each read on its own, so that
        one test's error is its own.
        """
        from gate.engines.regorus import EachResult

        values: dict[str, Any] = {}
        errors: dict[str, PolicyError | EngineError] = {}
        seconds: dict[str, float] = {}
        covered: dict[str, set[int]] = {}
        seen: dict[str, set[int]] = {}

        def cover() -> None:
            report = self._engine.last_coverage or {}
            for path, entry in (report.get("files") or {}).items():
                covered.setdefault(path, set()).update(_rows(entry.get("covered")))
                seen.setdefault(path, set()).update(_rows(entry.get("not_covered")))

        start = time.perf_counter()
        try:
            rows = self._eval(_collect_query(refs) if refs else "true", None, coverage=coverage)
        except (PolicyError, EngineError) as e:
            if _compiling(e.__cause__):
                raise  # the policies do not compile: no test can run
            rows = None
        if rows is not None:
            share = (time.perf_counter() - start) / max(1, len(refs))
            found_all = rows[0]["__gate_values"] if rows and refs else [[]] * len(refs)
            for ref, found in zip(refs, found_all, strict=True):
                seconds[ref] = share
                if found:
                    values[ref] = found[0]
            if coverage:
                cover()
        else:
            for ref in refs:
                start = time.perf_counter()
                try:
                    one = self._eval(f"__gate_value := {ref}", None, coverage=coverage)
                except (PolicyError, EngineError) as e:
                    errors[ref] = e
                    continue
                finally:
                    seconds[ref] = time.perf_counter() - start
                if one:
                    values[ref] = one[0]["__gate_value"]
                if coverage:
                    cover()
        lines = {
            path: (tuple(sorted(covered.get(path, set()))),
                   tuple(sorted(seen[path] - covered.get(path, set()))))
            for path in set(covered) | set(seen)
        }
        return EachResult(values, errors, lines, seconds)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = None


def _rows(ranges: Any) -> set[int]:
    out: set[int] = set()
    for r in ranges or ():
        out.update(range(int(r["start"]["row"]), int(r["end"]["row"]) + 1))
    return out
