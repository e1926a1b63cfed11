"""The Rego output contract: which rules the gate reads, and how their values become findings.

This is the only module that knows how Rego results look (conftest's
conventions, plus METADATA):

* ``deny``, ``violation`` (failures) and ``warn`` (warnings), alone or with a
  suffix (``deny_accuracy``), are read from every package. A value is a set of
  results (partial rule) or ``true`` (complete rule). A result is a string, or
  an object whose ``msg`` is the message and whose other keys become details.
* ``exception`` waives rules by name, as in conftest: an entry ``"accuracy"``
  (or ``"deny_accuracy"``) waives ``deny_accuracy`` in the same package.
* A ``# METADATA`` block above a rule gives ``title``, ``description`` and
  ``custom.{id, severity, remediation, enforcement}``; package-scoped blocks
  give defaults. The finding id is ``custom.id`` or ``<package>.<rule>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.decision import ENFORCEMENTS, SEVERITIES, Finding, Kind, Waiver
from gate.errors import PolicyError
from gate.policy.source import Module, Rule

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

    @property
    def ref(self) -> str:
        return f"data.{self.package}.{self.name}"

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


def rule_sites(modules: Sequence[Module], *, namespaces: Sequence[str] = ()) -> list[RuleSite]:
    """Every deny/violation/warn/exception rule, once per package, at its first definition.

    With ``namespaces``, only packages equal to or under one of them are read.
    """
    sites: dict[tuple[str, str], RuleSite] = {}
    for module in modules:
        if namespaces and not any(
            module.package == ns or module.package.startswith(ns + ".") for ns in namespaces
        ):
            continue
        _check_annotations(module, None, module.package_annotations)
        for rule in module.rules:
            if rule_kind(rule.name) is None and rule.name != EXCEPTION_RULE:
                continue
            _check_annotations(module, rule, rule.annotations)
            key = (module.package, rule.name)
            merged = {**module.package_annotations, **rule.annotations}
            if isinstance(module.package_annotations.get("custom"), Mapping) and isinstance(
                rule.annotations.get("custom"), Mapping
            ):
                merged["custom"] = {**module.package_annotations["custom"],
                                    **rule.annotations["custom"]}
            if key not in sites or (rule.annotations and not sites[key].annotations):
                sites[key] = RuleSite(module.package, rule.name, module.path, rule.line, merged)
    return list(sites.values())


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
    names: set[str] = set()
    for entry in _results(value):
        if isinstance(entry, str):
            names.add(entry)
        elif isinstance(entry, list):
            names.update(x for x in entry if isinstance(x, str))
    return names


def _excepted(rule: str, names: set[str]) -> bool:
    if rule in names:
        return True
    for prefix in RULE_KINDS:
        if rule.startswith(prefix + "_") and rule[len(prefix) + 1 :] in names:
            return True
    return False


def findings_from(sites: Iterable[RuleSite], values: Mapping[str, Any]) -> list[Finding]:
    """Turn the engine's values for ``sites`` into findings, applying exception rules."""
    sites = list(sites)
    exceptions = {
        s.package: (_exception_names(values.get(s.ref)), s)
        for s in sites
        if s.name == EXCEPTION_RULE
    }
    findings: list[Finding] = []
    for site in sites:
        kind = rule_kind(site.name)
        if kind is None or site.ref not in values:
            continue
        custom = _custom(site.annotations)
        excepted = exceptions.get(site.package)
        for result in _results(values[site.ref]):
            message, details = _message_and_details(result, site, site.title)
            finding = Finding(
                id=site.id,
                kind=kind,
                message=message,
                rule=site.rule,
                title=site.title,
                description=str(site.annotations.get("description") or ""),
                severity=str(custom.get("severity") or ""),
                enforcement=str(custom.get("enforcement") or ""),
                remediation=str(custom.get("remediation") or ""),
                file=site.file,
                line=site.line,
                details=details,
            )
            if excepted and _excepted(site.name, excepted[0]):
                finding = finding.waived(
                    Waiver(
                        reason=f"waived by the exception rule of package {site.package}",
                        source="rego",
                        rule=site.name,
                    )
                )
            findings.append(finding)
    return findings
