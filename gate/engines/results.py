"""The Rego output contract: which rules the gate reads, and how their values become findings.

This is the only module that knows how Rego results look (conftest's
conventions, plus METADATA):

* ``deny``, ``violation`` (failures) and ``warn`` (warnings), alone or with a
  suffix (``deny_accuracy``), are read from every package. A value is a set of
  results (partial rule) or ``true`` (complete rule). A result is a string, or
  an object whose ``msg`` is the message and whose other keys become details.
* ``exception`` waives rules by name exactly as conftest does: the rule
  ``deny_accuracy`` of a package is waived when that package's
  ``exception[_][_] == "accuracy"`` (a set of arrays of names, the prefix
  ``deny_``/``violation_``/``warn_`` removed; a bare ``deny`` is ``""``).
  Enforcement is settled first, so a hard-mandatory rule refuses it.
* A rule the gate reads must be checkable: a set, or a complete rule (true,
  a message, an object). A function, an object rule, a ``deny`` below a
  package's top level, or a set rule the engine left undefined is an error.
* A ``# METADATA`` block above a rule gives ``title``, ``description`` and
  ``custom.{id, severity, remediation, enforcement}``; package-scoped blocks
  give defaults. The finding id is ``custom.id`` or ``<package>.<rule>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.decision import ENFORCEMENTS, SEVERITIES, Finding, Kind, Waiver
from gate.errors import EngineError, PolicyError, UsageError
from gate.policy.source import Module, Rule, RuleKind, merge_annotations, path_text, ref_text

RULE_KINDS: dict[str, Kind] = {"deny": "failure", "violation": "failure", "warn": "warning"}
EXCEPTION_RULE = "exception"


def rule_kind(name: str) -> Kind | None:
    """The kind of finding a rule called ``name`` yields, or None if it yields none."""
    for prefix, kind in RULE_KINDS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return kind
    return None


def is_test_rule(name: str) -> bool:
    return name.startswith("test_")


@dataclass(frozen=True)
class RuleSite:
    """Where a rule is defined and what its METADATA says."""

    package: str
    name: str
    file: str
    line: int
    annotations: Mapping[str, Any]
    package_path: tuple[str, ...] = ()
    kind: RuleKind = "complete"

    @property
    def ref(self) -> str:
        return ref_text("data", (*(self.package_path or self.package.split(".")), self.name))

    @property
    def rule(self) -> str:
        """``<package>.<rule>``."""
        return f"{self.package}.{self.name}"

    @property
    def id(self) -> str:
        """The finding id: METADATA ``custom.id``, else ``<package>.<rule>``."""
        return str(_custom(self.annotations).get("id") or self.rule)

    @property
    def title(self) -> str:
        return str(self.annotations.get("title") or "")

    @property
    def description(self) -> str:
        return str(self.annotations.get("description") or "")

    @property
    def remediation(self) -> str:
        return str(_custom(self.annotations).get("remediation") or "")


def _custom(annotations: Mapping[str, Any]) -> Mapping[str, Any]:
    custom = annotations.get("custom") or {}
    return custom if isinstance(custom, Mapping) else {}


def _check_annotations(module: Module, rule: Rule | None, annotations: Mapping[str, Any]) -> None:
    custom = _custom(annotations)
    line = rule.line if rule else 1
    severity = custom.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise PolicyError(
            f"METADATA custom.severity '{severity}' is not one of {', '.join(SEVERITIES)}",
            path=module.path, line=line,
        )
    enforcement = custom.get("enforcement")
    if enforcement is not None and enforcement not in ENFORCEMENTS:
        raise PolicyError(
            f"METADATA custom.enforcement '{enforcement}' is not one of {', '.join(ENFORCEMENTS)}",
            path=module.path, line=line,
        )
    rid = custom.get("id")
    if rid is not None and (not isinstance(rid, str) or not rid.strip()):
        raise PolicyError("METADATA custom.id must be a non-empty string",
                          path=module.path, line=line)


def _in_namespace(package: tuple[str, ...], namespace: tuple[str, ...]) -> bool:
    return package[: len(namespace)] == namespace


def _namespace(text: str) -> tuple[str, ...]:
    """A --namespace as package segments: ``a.b`` or OPA's ``a["b-c"]``."""
    return tuple(s.strip('"') for s in text.replace("[", ".").replace("]", "").split("."))


def _refuse_unreadable(module: Module, rule: Rule) -> None:
    """A deny/warn/violation rule the gate could not read as findings is an error, not a pass."""
    if rule_kind(rule.name) is not None and (len(rule.path) > 1 or rule.kind in ("function",
                                                                                 "object")):
        what = "a function" if rule.kind == "function" else (
            f"a rule with a longer path ({path_text(rule.path)})" if len(rule.path) > 1
            else "an object rule")
        raise PolicyError(
            f"rule {rule.name} is {what}, which the gate cannot read as findings",
            path=module.path, line=rule.line,
            hint=f"write `{rule.name} contains msg if {{ ... }}` (a set of messages or objects)",
        )
    hidden = [seg for seg in rule.path[1:] if rule_kind(seg) is not None]
    if hidden:
        raise PolicyError(
            f"rule {path_text(rule.path)} ends in '{hidden[-1]}' below its package's top "
            "level; the gate reads deny/violation/warn rules only at the top of a package",
            path=module.path, line=rule.line,
            hint=f"move it into `package {path_text(module.package_path + rule.path[:-1])}`",
        )


def rule_sites(modules: Sequence[Module], *, namespaces: Sequence[str] = ()) -> list[RuleSite]:
    """Every deny/violation/warn/exception rule, once per package, at its first definition.

    With ``namespaces``, only packages equal to or under one of them are read;
    a namespace that matches no package is an error (it would check nothing).
    """
    wanted = [_namespace(ns) for ns in namespaces]
    for ns, text in zip(wanted, namespaces, strict=True):
        if not any(_in_namespace(m.package_path, ns) for m in modules):
            raise UsageError(
                f"--namespace {text} matches no package of the loaded policies",
                hint="packages loaded: " + ", ".join(sorted({m.package for m in modules})),
            )
    inherited: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for module in modules:
        if module.subpackage_annotations:
            inherited.setdefault(module.package_path, []).append(module.subpackage_annotations)
    sites: dict[tuple[tuple[str, ...], str], RuleSite] = {}
    for module in modules:
        if wanted and not any(_in_namespace(module.package_path, ns) for ns in wanted):
            continue
        _check_annotations(module, None, module.package_annotations)
        above = [a for path, layers in inherited.items()
                 if _in_namespace(module.package_path, path) and path != module.package_path
                 for a in layers]
        for rule in module.rules:
            _refuse_unreadable(module, rule)
            if rule_kind(rule.name) is None and rule.name != EXCEPTION_RULE:
                continue
            _check_annotations(module, rule, rule.annotations)
            key = (module.package_path, rule.name)
            merged = merge_annotations(*above, module.package_annotations, rule.annotations)
            if key not in sites or (rule.annotations and not sites[key].annotations):
                sites[key] = RuleSite(module.package, rule.name, module.path, rule.line, merged,
                                      module.package_path, rule.kind)
    return list(sites.values())


def check_values(sites: Iterable[RuleSite], values: Mapping[str, Any]) -> None:
    """Refuse values the output contract cannot read, rather than read them as a pass."""
    for site in sites:
        kind = rule_kind(site.name)
        if kind is None:
            continue
        if site.ref not in values:
            if site.kind == "set":
                raise EngineError(
                    f"{site.ref} is a set rule, yet the engine returned no value for it "
                    "(a set rule with no members is an empty set, never undefined)",
                    hint="the gate could not read this rule; please report it",
                )
            continue
        value = values[site.ref]
        if isinstance(value, (bool, str, list, dict)):
            continue
        raise PolicyError(
            f"rule {site.name} evaluated to {json.dumps(value)}, which is not a finding "
            "(expected a set of messages or objects, true/false, or a message)",
            path=site.file, line=site.line,
        )


def _results(value: Any) -> list[Any]:
    """The individual results of a rule's value: a set's members, or one for ``true``."""
    if value is True:
        return [True]
    if value is False or value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _message_and_details(result: Any, site: RuleSite, title: str) -> tuple[str, dict[str, Any]]:
    if isinstance(result, str):
        return result, {}
    if result is True:
        return title or f"{site.package}.{site.name} is true", {}
    if isinstance(result, Mapping):
        # A null `_loc` means "no location": policies can write it unconditionally.
        details = {k: v for k, v in result.items()
                   if k != "msg" and not (k == "_loc" and v is None)}
        msg = result.get("msg")
        if isinstance(msg, str):
            return msg, details
        return title or json.dumps(result, sort_keys=True), details
    return json.dumps(result, sort_keys=True), {}


def _exception_names(value: Any) -> set[str]:
    """``exception[_][_]``: the names inside each array of the exception rule's value."""
    names: set[str] = set()
    for entry in _results(value):
        if isinstance(entry, list):
            names.update(x for x in entry if isinstance(x, str))
    return names


def exception_name(rule: str) -> str:
    """The name conftest matches an exception against: the rule less its kind prefix."""
    if rule in RULE_KINDS:
        return ""
    for prefix in ("violation_", "deny_", "warn_"):  # conftest removes them in this order
        rule = rule.removeprefix(prefix)
    return rule


def _excepted(rule: str, names: set[str]) -> bool:
    return exception_name(rule) in names


def findings_from(
    sites: Iterable[RuleSite],
    values: Mapping[str, Any],
    enforce: Callable[[list[Finding]], list[Finding]] | None = None,
) -> list[Finding]:
    """Turn the engine's values for ``sites`` into findings, applying exception rules.

    ``enforce`` settles enforcement levels (the manifest's raises) before any
    exception rule waives a finding, so a hard-mandatory rule refuses it.
    """
    sites = list(sites)
    check_values(sites, values)
    exceptions = {s.package: _exception_names(values.get(s.ref))
                  for s in sites if s.name == EXCEPTION_RULE}
    findings: list[Finding] = []
    waived_by: list[RuleSite | None] = []  # per finding: its site, when an exception waives it
    for site in sites:
        kind = rule_kind(site.name)
        if kind is None or site.ref not in values:
            continue
        custom = _custom(site.annotations)
        names = exceptions.get(site.package)
        waived = site if names is not None and _excepted(site.name, names) else None
        for result in _results(values[site.ref]):
            message, details = _message_and_details(result, site, site.title)
            finding = Finding(
                id=site.id,
                kind=kind,
                message=message,
                rule=site.rule,
                title=site.title,
                description=site.description,
                severity=str(custom.get("severity") or ""),
                enforcement=str(custom.get("enforcement") or ""),
                remediation=site.remediation,
                file=site.file,
                line=site.line,
                details=details,
            )
            findings.append(finding)
            waived_by.append(waived)
    if enforce is not None:
        findings = enforce(findings)
    return [
        f.waived(Waiver(reason=f"waived by the exception rule of package {site.package}",
                        source="rego", rule=site.name)) if site is not None else f
        for f, site in zip(findings, waived_by, strict=True)
    ]
