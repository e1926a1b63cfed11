"""The embedded engine: Microsoft's regorus (Rust), as the ``gordon-to-regorus`` wheel.

Everything regorus-specific lives in this module so the engine can be swapped:
input and data cross as JSON text (``set_input_json``, ``add_data_json``) so
no Python value is re-typed on the way, its errors (``RuntimeError`` with a
rustc-style ``--> file:line:col`` location, or a ``PanicException`` that
derives from ``BaseException``) become PolicyError / EngineError, and an
undefined query comes back as an empty result object.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.engines import EngineOptions
from gate.engines.bounded import ForkedWorker, call_bounded, can_fork
from gate.errors import DocumentError, EngineError, PolicyError
from gate.policy.source import Module, Outline, RuleHead, RuleKind

# regorus attaches a Rust backtrace to every error when RUST_BACKTRACE is set,
# which costs time and buries the message; the gate never shows it.
os.environ.setdefault("RUST_LIB_BACKTRACE", "0")

import regorus  # must follow the environment tweak above

_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
_ERROR_LINE = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)
_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)
DIST_INFO_GLOB = "gordon_to_regorus-*.dist-info"


def _clean(text: str) -> str:
    return text.split("Stack backtrace:", maxsplit=1)[0].strip()


def _as_policy_error(exc: BaseException, what: str) -> PolicyError | EngineError:
    """Map a regorus error to a PolicyError at file:line:col when it names one."""
    text = _clean(str(exc))
    loc = _LOCATION.search(text)
    msg = _ERROR_LINE.search(text)
    message = msg.group("msg") if msg else (text.splitlines()[0] if text else type(exc).__name__)
    if loc:
        excerpt = "\n".join(line for line in text.splitlines() if "|" in line).rstrip()
        detail = f"{what}: {message}" + (f"\n{excerpt}" if excerpt else "")
        return PolicyError(
            detail,
            path=loc.group("file"),
            line=int(loc.group("line")),
            col=int(loc.group("col")),
        )
    if not isinstance(exc, Exception):  # PanicException: the engine itself broke
        return EngineError(f"the regorus engine crashed while {what}: {message}")
    return PolicyError(f"{what}: {message}")


def _guarded(call: Callable[..., Any], what: str, *args: Any) -> Any:
    """Call into regorus; its errors (and panics) become PolicyError / EngineError."""
    try:
        return call(*args)
    except _FATAL:
        raise
    except BaseException as e:  # pyo3's PanicException is a BaseException
        raise _as_policy_error(e, what) from e


def _release_frames(error: BaseException) -> None:
    """Clear the finished frames ``error`` (and its causes) carries, which hold the regorus
    Engine that failed. An error kept by one of its own frames (``first = e``) is a
    reference cycle, freed by the collector on whatever thread it runs: a policy
    evaluation thread, where a regorus Engine refuses to be dropped ("unsendable") and
    stays. The running frame cannot be cleared: its caller drops its engine itself."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _new_engine() -> Any:
    engine = regorus.Engine()
    # regorus refuses lines over 1,024 columns (and files over 1 MiB) by default;
    # OPA has no such limit, and a policy with an embedded certificate or a long
    # allow-list must mean the same under both engines.
    engine.set_policy_length_config(max_col=1 << 20, max_file_bytes=64 << 20, max_lines=1 << 20)
    return engine


def _add_policy(engine: Any, path: str, text: str) -> None:
    try:
        _guarded(engine.add_policy, "the policy does not compile", path, text)
    except PolicyError as e:
        e.path = e.path or path
        raise


# --- reading regorus's AST ------------------------------------------------------------------


def _ref_path(node: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The ground prefix of a reference node, and whether the whole reference is ground."""
    (tag, body), = node.items()
    if tag == "Var":
        return [str(body["value"])], True
    if tag == "RefDot":
        head, ground = _ref_path(body["refr"])
        return ([*head, str(body["field"][1])], True) if ground else (head, False)
    if tag == "RefBrack":
        head, ground = _ref_path(body["refr"])
        index = body["index"]
        if ground and "String" in index:
            return [*head, str(index["String"]["value"])], True
        return head, False
    return [], False


def _rule_head(rule: Mapping[str, Any]) -> RuleHead:
    (tag, body), = rule.items()
    line = int(body["span"]["line"])
    if tag == "Default":
        path, _ = _ref_path(body["refr"])
        return RuleHead(tuple(path), "function" if body.get("args") else "complete", line)
    (head_tag, head), = body["head"].items()
    path, ground = _ref_path(head["refr"])
    kind: RuleKind = {"Set": "set", "Func": "function"}.get(head_tag, "complete")  # type: ignore[assignment]
    if kind == "complete" and not ground:
        kind = "object"
    return RuleHead(tuple(path), kind, line)


def _outline_of(ast: Mapping[str, Any]) -> Outline:
    tree = ast["ast"]
    package, _ = _ref_path(tree["package"]["refr"])
    source = str(ast["source"]["contents"]).encode("utf-8")
    aliases: list[tuple[str, tuple[str, ...]]] = []
    for imp in tree["imports"]:
        target, _ = _ref_path(imp["refr"])
        if target and target[0] == "data":
            span = imp.get("as")  # regorus gives the alias as a span of the source
            alias = source[span["start"]:span["end"]].decode("utf-8") if span else target[-1]
            aliases.append((alias, tuple(target[1:])))
    return Outline(
        parser="regorus",
        package=tuple(package),
        package_line=int(tree["package"]["span"]["line"]),
        rules=tuple(_rule_head(r) for r in tree["rules"]),
        import_lines=tuple(int(i["span"]["line"]) for i in tree["imports"]),
        calls=tuple(_calls(tree["rules"])),
        aliases=tuple(aliases),
    )


def outline(text: str, path: str) -> Outline:
    """regorus's own parse of one module: package, imports, rule heads with lines, calls."""
    engine = _new_engine()
    try:
        _add_policy(engine, path, text)
    except PolicyError as e:  # kept by outline_module while OPA's parser tries
        del engine
        _release_frames(e)
        raise
    return _outline_of(json.loads(engine.get_ast_as_json())[0])


def _calls(tree: Any) -> list[tuple[tuple[str, ...], int]]:
    """(function path, line) of every call in an AST subtree (walked without recursion)."""
    found: list[tuple[tuple[str, ...], int]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            call = node.get("Call")
            if isinstance(call, dict):
                path, ground = _ref_path(call["fcn"])
                if ground:
                    found.append((tuple(path), int(call["span"]["line"])))
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return sorted(found, key=lambda c: c[1])


_KNOWN_BUILTINS: dict[str, bool] = {}
_BUILTIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _learn_builtins(names: set[str]) -> None:
    """Ask regorus, once per process and in one engine, which of ``names`` it knows: a call
    with no arguments fails with "could not find function" only for an unknown one."""
    for name in names:  # a built-in's name is dotted identifiers; anything else is none
        if not _BUILTIN_NAME.match(name):
            _KNOWN_BUILTINS[name] = False
    todo = sorted(n for n in names if n not in _KNOWN_BUILTINS)
    if not todo:
        return
    probe = _new_engine()
    rules = "".join(f"p{i} if {{ {name}() }}\n" for i, name in enumerate(todo))
    probe.add_policy("probe.rego", f"package probe\n{rules}")
    for i, name in enumerate(todo):
        try:
            probe.eval_query_as_json(f"data.probe.p{i}")
            known = True
        except _FATAL:
            raise
        except BaseException as e:  # noqa: BLE001 - pyo3 panics too; arity errors mean it exists
            known = f"could not find function {name}" not in str(e)
        _KNOWN_BUILTINS[name] = known


def check_functions(modules: Sequence[Module]) -> None:
    """Refuse a call to a function nobody defines, wherever it stands.

    regorus resolves functions only when evaluation reaches the call, so a
    misspelled built-in on a path the bundle does not take would pass; OPA's
    compiler refuses it. This does what OPA's compiler does for function names,
    from the calls regorus's parser found in each module.
    """
    defined = {m.package_path + r.path for m in modules for r in m.rules
               if r.kind == "function"}
    _learn_builtins({".".join(call) for m in modules for call, _ in m.calls or ()
                     if call[0] != "data"})
    for module in modules:
        aliases = dict(module.aliases)
        for call, line in module.calls or ():
            if call[0] == "data":
                full: tuple[str, ...] | None = call[1:]
            elif call[0] in aliases:
                full = aliases[call[0]] + call[1:]
            elif module.package_path + call in defined:
                full = module.package_path + call
            else:
                full = None
            if full is not None and full in defined:
                continue
            if full is None and _KNOWN_BUILTINS.get(".".join(call), False):
                continue
            raise PolicyError(
                f"the policy does not compile: unknown function {'.'.join(call)}",
                path=module.path, line=line,
                hint="check the spelling; a function must be a built-in or defined in "
                f"the loaded policies (package {module.package})",
            )


def _json(doc: Any, what: str) -> str:
    """Strict JSON text for the engine: NaN and Infinity are not JSON (nor Rego)."""
    try:
        return json.dumps(doc, allow_nan=False)
    except ValueError as e:
        raise DocumentError(f"the {what} document holds a value JSON cannot carry: {e}",
                            hint="remove NaN/Infinity values from the source documents") from e


def _collect(values: dict[str, Any], ref: str, answer_json: str) -> None:
    """Record the value of ``ref`` from an ``eval_query_as_json`` answer; undefined is absent."""
    results = json.loads(answer_json).get("result") or []
    if results:
        values[ref] = results[0]["expressions"][0]["value"]


@dataclass(frozen=True)
class EachResult:
    """What ``evaluate_each`` saw: values of defined refs, errors, and line coverage.

    ``coverage`` maps a module's path to (covered lines, lines not covered);
    it is empty unless coverage was asked for.
    """

    values: dict[str, Any]
    errors: dict[str, PolicyError | EngineError]
    coverage: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per ref, wall clock


class RegorusEngine:
    """PolicyEngine over an in-process regorus interpreter (Rego v1)."""

    name = "regorus"

    def __init__(self, options: EngineOptions | None = None) -> None:
        self._options = options or EngineOptions()
        self._engine: Any = None
        self._worker: ForkedWorker | None = None

    def version(self) -> str:
        # importlib.metadata costs ~10 ms to import, a twentieth of a cold check;
        # the wheel's dist-info folder beside the module names the version for free.
        site = Path(regorus.__file__).resolve().parent.parent
        for info in site.glob(DIST_INFO_GLOB):  # gordon_to_regorus-0.13.0.dist-info
            return info.name.removesuffix(".dist-info").split("-")[1]
        return "unknown"

    def prepare(self, modules: Sequence[Module], data: Mapping[str, Any]) -> None:
        if self._worker is not None:  # it holds the policies prepared before
            self._worker.close()
            self._worker = None
        engine = _new_engine()
        try:
            for module in modules:
                _add_policy(engine, module.path, module.text)
            check_functions(modules)
            _guarded(engine.add_data_json, "the policy data cannot be loaded",
                     _json(data, "data"))
            # regorus analyses modules (unsafe variables, unknown functions) only at the
            # first evaluation: force it now so such errors read as compile errors.
            _guarded(engine.eval_query_as_json, "the policy does not compile", "true")
        except BaseException as e:  # the differential engine keeps it while OPA runs
            del engine
            _release_frames(e)
            raise
        self._engine = engine

    def evaluate(self, refs: Sequence[str], input_doc: Any | None) -> dict[str, Any]:
        seconds = self._options.eval_timeout_s
        what = "policy evaluation (regorus)"
        if seconds and can_fork():
            # A child forked with the compiled policies answers every evaluation of this
            # engine, and is killed if one overruns (regorus cannot be interrupted).
            if self._worker is None or not self._worker.alive:
                self._fresh()  # refuse to fork an engine that was never prepared
                self._worker = ForkedWorker(lambda req: self._evaluate(req["refs"],
                                                                       req["input"]))
            values: dict[str, Any] = self._worker.call({"refs": list(refs), "input": input_doc},
                                                       seconds, what)
            return values
        return call_bounded(lambda: self._evaluate(refs, input_doc), seconds, what,
                            threadable=False)

    def _evaluate(self, refs: Sequence[str], input_doc: Any | None) -> dict[str, Any]:
        engine = self._fresh()
        values: dict[str, Any] = {}
        try:
            if input_doc is not None:
                _guarded(engine.set_input_json, "the input cannot be loaded",
                         _json(input_doc, "input"))
            for ref in refs:
                answer = _guarded(engine.eval_query_as_json, "evaluation failed", ref)
                _collect(values, ref, answer)
        except BaseException as e:  # see _release_frames
            del engine
            _release_frames(e)
            raise
        return values

    def _fresh(self) -> Any:
        """A clone of the compiled engine: each evaluation starts from the policies only."""
        if self._engine is None:
            raise EngineError("the engine was asked to evaluate before it was prepared")
        return self._engine.clone()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        self._engine = None

    # --- policy unit tests (`gate verify`) ------------------------------------------------

    def evaluate_each(self, refs: Sequence[str], *, coverage: bool = False) -> EachResult:
        """Evaluate every ref on its own with no input, as policy unit tests run.

        A ref whose evaluation fails is recorded in ``errors`` and the others
        still run (``prepare`` already refused modules that do not compile).
        With ``coverage``, the lines each file's evaluation touched and those
        it did not, over all refs together.
        """
        engine = self._fresh()
        if coverage:
            engine.set_enable_coverage(True)
        values: dict[str, Any] = {}
        errors: dict[str, PolicyError | EngineError] = {}
        seconds: dict[str, float] = {}
        for ref in refs:
            start = time.perf_counter()
            try:
                answer = _guarded(engine.eval_query_as_json, "evaluation failed", ref)
            except (PolicyError, EngineError) as e:  # a failing test is recorded, not raised
                errors[ref] = e
                continue
            finally:
                seconds[ref] = time.perf_counter() - start
            _collect(values, ref, answer)
        lines: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        if coverage:
            report = json.loads(engine.get_coverage_report_as_json())
            for entry in report.get("files", []):
                lines[str(entry["path"])] = (
                    tuple(sorted(int(n) for n in entry.get("covered", []))),
                    tuple(sorted(int(n) for n in entry.get("not_covered", []))),
                )
        return EachResult(values, errors, lines, seconds)
