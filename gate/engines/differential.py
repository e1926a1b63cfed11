"""Two engines, one verdict: evaluate with OPA's Go engine and regorus, refuse any disagreement.

The guard against an engine bug turning FAIL into PASS: every rule reference
is evaluated by both, and a value that differs between them is an
EngineError (exit 2) that names the rule and both answers. Sets reach Python
as arrays whose order is each engine's own, so arrays are compared as
multisets. Numbers are compared to 12 significant digits: OPA computes with
arbitrary-precision decimals and regorus with binary doubles, so the last
digits of a quotient differ (a verdict that depends on them shows up as a
finding present in one answer and absent in the other, which is caught).
Everything else is compared exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gate.engines import EngineOptions
from gate.engines.opa_go import OpaGoEngine
from gate.engines.regorus import RegorusEngine
from gate.errors import EngineError, GateError, json_path
from gate.policy.source import Module

_MISSING = object()


def canonical(value: Any) -> Any:
    """``value`` with every array sorted and numbers to 12 significant digits."""
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        return float(f"{value:.12g}")
    return value


def _show(value: Any) -> str:
    if value is _MISSING:
        return "undefined"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 300 else text[:300] + "…"


def difference(a: Any, b: Any, where: str = "$") -> str:
    """Where (a JSON path) two canonical values first differ, and how:
    ``$[0].msg: "x" vs "y"``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, _MISSING) != b.get(key, _MISSING):
                return difference(a.get(key, _MISSING), b.get(key, _MISSING),
                                  json_path([key], where))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return difference(x, y, json_path([i], where))
    return f"{'the value' if where == '$' else where}: {_show(a)} vs {_show(b)}"


class DifferentialEngine:
    """PolicyEngine that runs opa-go and regorus side by side and fails closed on a difference."""

    name = "differential"

    def __init__(self, options: EngineOptions | None = None) -> None:
        self._engines = (OpaGoEngine(options), RegorusEngine(options))
        self._pending: tuple[Sequence[Module], Mapping[str, Any]] | None = None
        self._regorus_error: GateError | None = None

    def version(self) -> str:
        return " + ".join(f"{e.name} {e.version()}" for e in self._engines)

    def prepare(self, modules: Sequence[Module], data: Mapping[str, Any]) -> None:
        # regorus is prepared (and, in evaluate, run) before OPA's library is loaded, so
        # its evaluation can run in a forked process under the time limit (see bounded).
        self._pending = (modules, data)
        self._regorus_error = None
        try:
            self._engines[1].prepare(modules, data)
        except GateError as e:
            self._regorus_error = e
            self._prepare_opa()

    def _prepare_opa(self) -> None:
        if self._pending is None:
            return
        modules, data = self._pending
        self._pending = None
        try:
            self._engines[0].prepare(modules, data)
            if self._regorus_error is not None:
                # OPA compiles at its first query: ask one before saying it accepts them.
                self._engines[0].evaluate([], None)
        except GateError as e:
            if self._regorus_error is not None:
                raise e from None
            self._refuse_one_sided(failed=self._engines[0], ran=self._engines[1], error=e)
        if self._regorus_error is not None:
            self._refuse_one_sided(failed=self._engines[1], ran=self._engines[0],
                                   error=self._regorus_error)

    @staticmethod
    def _refuse_one_sided(failed: Any, ran: Any, error: GateError) -> None:
        raise EngineError(
            f"the engines disagree on whether the policies compile: {ran.name} accepts "
            f"them, {failed.name} refuses them: {error.render().splitlines()[0]}",
            hint="fix the policy so both engines accept it, or pin one engine with --engine",
        )

    def evaluate(self, refs: Sequence[str], input_doc: Any | None) -> dict[str, Any]:
        second = self._engines[1].evaluate(refs, input_doc)
        self._prepare_opa()
        first = self._engines[0].evaluate(refs, input_doc)
        for ref in refs:
            a, b = first.get(ref, _MISSING), second.get(ref, _MISSING)
            ca = a if a is _MISSING else canonical(a)
            cb = b if b is _MISSING else canonical(b)
            if ca != cb:
                raise EngineError(
                    f"the engines disagree on {ref} ({self._engines[0].name} vs "
                    f"{self._engines[1].name}) at {difference(ca, cb)}",
                    hint="no verdict is given when the engines disagree; report the policy, "
                    "or pin one engine with --engine after reviewing both answers",
                )
        return first

    def close(self) -> None:
        for engine in self._engines:
            engine.close()
