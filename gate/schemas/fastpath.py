"""A quick proof that a document matches a schema, so jsonschema runs only when it may not.

jsonschema walks every value through validator objects and reference lookups:
about 100 µs per array item, so the input document of a model folder of
100,000 files took 10 s to check. Almost every document gate checks is valid,
and the schemas use a small set of keywords. ``proves_valid`` decides those
keywords directly and answers True only when it is sure; anything it does not
know (an unknown keyword, a remote ``$ref``, a format) makes it answer False,
and the caller then runs jsonschema itself, which also words the error.

It is therefore never less strict than jsonschema: a True here is a document
jsonschema accepts (draft 2020-12 semantics, no format checking, as
``gate.schemas`` configures it). Its verdicts are three-valued internally
(True valid, False invalid, None unknown) because ``not``, ``oneOf`` and
``if`` need a definite answer from their sub-schemas.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sized
from functools import lru_cache
from typing import Any

_ANNOTATIONS = frozenset({
    "$schema", "$id", "$comment", "$anchor", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
})

Verdict = bool | None


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_type(value: Any, name: str) -> Verdict:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False if name in ("number", "integer") else None
    if name == "number":
        return isinstance(value, (int, float))
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 == 1.0, containers compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _number(a) and _number(b):
        return bool(a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _as_number(value: Any) -> Any:
    return value if _number(value) else None


def _length(kind: type[Sized]) -> Callable[[Any], Any]:
    return lambda value: len(value) if isinstance(value, kind) else None


def _bound(measure: Callable[[Any], Any],
           holds: Callable[[Any, Any], bool]) -> Callable[[Any, Any, Mapping[str, Any]], Verdict]:
    """A bound keyword: True for a value it does not measure (a bound on strings says
    nothing of a number), None (ask jsonschema) when the bound itself is not a number."""
    def check(arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        size = measure(value)
        if size is None:
            return True
        return bool(holds(size, arg)) if _number(arg) else None
    return check


_BOUNDS: dict[str, Callable[[Any, Any, Mapping[str, Any]], Verdict]] = {
    "minimum": _bound(_as_number, operator.ge),
    "maximum": _bound(_as_number, operator.le),
    "exclusiveMinimum": _bound(_as_number, operator.gt),
    "exclusiveMaximum": _bound(_as_number, operator.lt),
    "minLength": _bound(_length(str), operator.ge),
    "maxLength": _bound(_length(str), operator.le),
    "minItems": _bound(_length(list), operator.ge),
    "maxItems": _bound(_length(list), operator.le),
    "minProperties": _bound(_length(dict), operator.ge),
    "maxProperties": _bound(_length(dict), operator.le),
}


class _Checker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.targets: dict[str, Any] = {}
        self.keywords: dict[str, Callable[[Any, Any, Mapping[str, Any]], Verdict]] = {
            "type": self._type, "enum": self._enum, "const": self._const,
            "properties": self._properties, "required": self._required,
            "additionalProperties": self._additional, "items": self._items,
            "pattern": self._pattern, "uniqueItems": self._unique,
            "propertyNames": self._property_names,
            "$ref": self._ref, "allOf": self._all_of, "anyOf": self._any_of,
            "oneOf": self._one_of, "not": self._not, "if": self._if,
            "then": lambda *_: True, "else": lambda *_: True,  # read by "if"
            **_BOUNDS,
        }

    def check(self, schema: Any, value: Any) -> Verdict:
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, Mapping):
            return None
        if "$id" in schema and schema is not self.root:
            return None  # a nested resource: its "#" refs are not the root's
        verdict: Verdict = True
        for key, arg in schema.items():
            if key in _ANNOTATIONS:
                continue
            handler = self.keywords.get(key)
            if handler is None:
                return None  # a keyword this proof does not know
            result = handler(arg, value, schema)
            if result is False:
                return False
            if result is None:
                verdict = None
        return verdict

    def _type(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if isinstance(arg, str):
            return _is_type(value, arg)
        if not isinstance(arg, list):
            return None
        verdicts = [_is_type(value, n) for n in arg]
        if any(v is True for v in verdicts):
            return True
        return None if any(v is None for v in verdicts) else False

    def _enum(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        return any(_equal(value, v) for v in arg) if isinstance(arg, list) else None

    def _const(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        return _equal(value, arg)

    def _properties(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if not isinstance(value, dict):
            return True
        if not isinstance(arg, Mapping):
            return None
        return self._every((sub, value[key]) for key, sub in arg.items() if key in value)

    def _required(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if not isinstance(value, dict):
            return True
        return all(k in value for k in arg) if isinstance(arg, list) else None

    def _additional(self, arg: Any, value: Any, schema: Mapping[str, Any]) -> Verdict:
        if not isinstance(value, dict):
            return True
        if "patternProperties" in schema:
            return None
        known = schema.get("properties", {})
        return self._every((arg, item) for key, item in value.items() if key not in known)

    def _items(self, arg: Any, value: Any, schema: Mapping[str, Any]) -> Verdict:
        if not isinstance(value, list):
            return True
        if "prefixItems" in schema:
            return None
        return self._every((arg, item) for item in value)

    def _every(self, pairs: Iterable[tuple[Any, Any]]) -> Verdict:
        """Three-valued "all": False at the first (schema, value) pair that is False, else
        None if any pair is undecided, else True."""
        verdict: Verdict = True
        for sub, item in pairs:
            result = self.check(sub, item)
            if result is False:
                return False
            if result is None:
                verdict = None
        return verdict

    def _pattern(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if not isinstance(value, str):
            return True
        try:
            return _regex(arg).search(value) is not None
        except (re.error, TypeError):
            return None

    def _unique(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if arg is not True or not isinstance(value, list):
            return True if arg is False or not isinstance(value, list) else None
        if all(isinstance(v, str) for v in value):
            return len(set(value)) == len(value)
        if len(value) > 200:
            return None  # pairwise comparison would be quadratic: let jsonschema decide
        return all(not _equal(a, b) for i, a in enumerate(value) for b in value[i + 1:])

    def _property_names(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if not isinstance(value, dict):
            return True
        return self._items(arg, list(value), {})

    def _ref(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        if not isinstance(arg, str):
            return None
        if arg not in self.targets:
            self.targets[arg] = self._resolve(arg)
        target = self.targets[arg]
        return None if target is None else self.check(target, value)

    def _resolve(self, arg: str) -> Any:
        """The local schema ``#/...`` names; None for anything else (remote, anchors)."""
        if not arg.startswith("#"):
            return None
        target: Any = self.root
        for raw in arg[1:].split("/")[1:] if arg != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return None
            target = target[part]
        return target

    def _all_of(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        verdicts = [self.check(s, value) for s in arg]
        if any(v is False for v in verdicts):
            return False
        return None if any(v is None for v in verdicts) else True

    def _any_of(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        verdicts = [self.check(s, value) for s in arg]
        if any(v is True for v in verdicts):
            return True
        return None if any(v is None for v in verdicts) else False

    def _one_of(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        verdicts = [self.check(s, value) for s in arg]
        if any(v is None for v in verdicts):
            return None
        return verdicts.count(True) == 1

    def _not(self, arg: Any, value: Any, _s: Mapping[str, Any]) -> Verdict:
        verdict = self.check(arg, value)
        return None if verdict is None else not verdict

    def _if(self, arg: Any, value: Any, schema: Mapping[str, Any]) -> Verdict:
        condition = self.check(arg, value)
        if condition is None:
            return None
        branch = schema.get("then" if condition else "else", True)
        return self.check(branch, value)


def proves_valid(schema: Mapping[str, Any], doc: Any) -> bool:
    """True only when ``doc`` surely matches ``schema``; False means "ask jsonschema"."""
    try:
        return _Checker(schema).check(schema, doc) is True
    except RecursionError:
        return False
