"""`gate doc`: a Markdown reference of the policies, written from their METADATA.

For each deny/violation/warn rule: id, title, severity, enforcement, the
description and remediation, the rule and its file:line, and the settings
(``data.*`` keys) it reads, with their values in the loaded data (for the
library, its defaults). The repository's docs/policies.md is this command's
output for the library; a test fails when it is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from gate.commands.common import debug_option
from gate.engines.results import RuleSite, rule_kind, rule_sites
from gate.fsutil import write_text
from gate.policy.loader import is_test_file
from gate.policy.source import Module
from gate.verify import load_sources

_DATA_REF = re.compile(r"\bdata(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_UNSET = object()


def _segments(module: Module) -> dict[str, str]:
    """The code of each rule name: every head's lines up to the next rule, comments
    (and so the next rule's METADATA) left out."""
    lines = module.text.splitlines()
    out: dict[str, list[str]] = {}
    rules = list(module.rules)
    for i, rule in enumerate(rules):
        end = rules[i + 1].line - 1 if i + 1 < len(rules) else len(lines)
        code = [ln for ln in lines[rule.line - 1 : end] if not ln.lstrip().startswith("#")]
        out.setdefault(rule.name, []).extend(code)
    return {name: "\n".join(text) for name, text in out.items()}


def _reach(name: str, segments: Mapping[str, str]) -> str:
    """A rule's text plus that of every helper rule it uses, transitively."""
    seen = {name}
    todo = [name]
    texts = []
    while todo:
        text = segments.get(todo.pop(), "")
        texts.append(text)
        for other in segments:
            if other not in seen and re.search(rf"\b{re.escape(other)}\b", text):
                seen.add(other)
                todo.append(other)
    return "\n".join(texts)


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split(".")[1:]:  # drop the leading "data"
        if not isinstance(node, Mapping) or part not in node:
            return _UNSET
        node = node[part]
    return node


def _settings(
    text: str, rules: Mapping[str, set[str]], data: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    """The ``data.*`` references in ``text`` that name data, not policies."""
    refs = dict.fromkeys(m.group(0) for m in _DATA_REF.finditer(text))
    return [(ref, _lookup(data, ref)) for ref in refs if not _is_policy(ref[len("data."):], rules)]


def _is_policy(path: str, rules: Mapping[str, set[str]]) -> bool:
    """Whether ``path`` is a package, a namespace above packages, or a rule in one.

    Anything else under a package is data: the library's settings live at
    data.gate.<package>.<key>, beside the package's rules.
    """
    for package, names in rules.items():
        if path == package or package.startswith(path + "."):
            return True
        if path.startswith(package + ".") and path[len(package) + 1 :].split(".", 1)[0] in names:
            return True
    return False


def _value(value: Any) -> str:
    if value is _UNSET:
        return "(not set)"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _anchor(site: RuleSite) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", _rule_id(site).lower()).strip("-")


def _rule_id(site: RuleSite) -> str:
    custom = site.annotations.get("custom") or {}
    rid = custom.get("id") if isinstance(custom, Mapping) else None
    return str(rid or f"{site.package}.{site.name}")


def _custom(site: RuleSite, key: str, default: str) -> str:
    custom = site.annotations.get("custom") or {}
    value = custom.get(key) if isinstance(custom, Mapping) else None
    return str(value or default)


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


_DEFAULT_ENFORCEMENT = {"failure": "soft-mandatory", "warning": "advisory"}
_DEFAULT_SEVERITY = {"failure": "high", "warning": "medium"}


def _levels(site: RuleSite) -> tuple[str, str, str]:
    """(kind, severity, enforcement) of a rule, with the gate's defaults filled in."""
    kind = rule_kind(site.name) or "failure"
    return (kind, _custom(site, "severity", _DEFAULT_SEVERITY[kind]),
            _custom(site, "enforcement", _DEFAULT_ENFORCEMENT[kind]))


def _section(site: RuleSite, segments: Mapping[str, str], rules: Mapping[str, set[str]],
             data: Mapping[str, Any]) -> list[str]:
    kind, severity, enforcement = _levels(site)
    out = [
        f'<a id="{_anchor(site)}"></a>',
        f"### {_rule_id(site)}: {_one_line(site.annotations.get('title')) or site.name}",
        "",
        f"- Rule: `{site.package}.{site.name}` ({kind}), `{site.file}:{site.line}`",
        f"- Severity: {severity}; enforcement: {enforcement}",
        "",
    ]
    if site.annotations.get("description"):
        out += [_one_line(site.annotations.get("description")), ""]
    remediation = _one_line(_custom(site, "remediation", ""))
    if remediation:
        out += [f"**Remediation:** {remediation}", ""]
    settings = _settings(_reach(site.name, segments), rules, data)
    if settings:
        out += ["| Setting | Value |", "|---|---|"]
        out += [f"| `{ref}` | {_cell(_value(v))} |" for ref, v in settings]
        out.append("")
    return out


def render(modules: Sequence[Module], data: Mapping[str, Any], *, command: str) -> str:
    """The Markdown reference of every deny/violation/warn rule in ``modules``."""
    modules = [m for m in modules if not is_test_file(Path(m.path))]
    by_package: dict[str, list[RuleSite]] = {}
    for site in rule_sites(modules):
        if rule_kind(site.name) is not None:
            by_package.setdefault(site.package, []).append(site)
    package_meta: dict[str, Mapping[str, Any]] = {}
    segments: dict[str, dict[str, str]] = {}
    rules: dict[str, set[str]] = {}
    for m in modules:
        if m.package_annotations:
            package_meta.setdefault(m.package, m.package_annotations)
        segments.setdefault(m.package, {}).update(_segments(m))
        rules.setdefault(m.package, set()).update(m.rule_names())

    out = [
        "# Policy reference",
        "",
        f"Generated by `{command}` from the policies' `# METADATA`; do not edit by hand.",
        "Severity and enforcement are the rule's own; gate.yaml `enforcement:` may raise a level.",
        "",
        "| ID | Title | Severity | Enforcement | Rule |",
        "|---|---|---|---|---|",
    ]
    for package, sites in by_package.items():
        for s in sites:
            _, severity, enforcement = _levels(s)
            title = _cell(_one_line(s.annotations.get("title")))
            out.append(f"| [{_rule_id(s)}](#{_anchor(s)}) | {title} | {severity} | "
                       f"{enforcement} | `{package}.{s.name}` |")
    for package, sites in by_package.items():
        meta = package_meta.get(package, {})
        title = _one_line(meta.get("title"))
        if out[-1] != "":
            out.append("")
        out += [f"## `{package}`" + (f": {title}" if title else ""), ""]
        if meta.get("description"):
            out += [_one_line(meta.get("description")), ""]
        for s in sites:
            out += _section(s, segments[package], rules, data)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option("-c", "--config", metavar="PATH",
              help="The manifest whose policies to document (default: gate.yaml, else policies/).")
@click.option("-d", "--data", "data", multiple=True, metavar="PATH",
              help="JSON/YAML data whose values the reference shows (repeatable).")
@click.option("--library", is_flag=True,
              help="Document the built-in policy library, with its default settings.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the Markdown to FILE (default: stdout).")
@debug_option
def doc(paths: tuple[str, ...], config: str | None, data: tuple[str, ...], library: bool,
        output: str | None) -> None:
    """Write a Markdown reference of the policies in PATHS from their METADATA.

    Without PATHS: the policies of gate.yaml (or of --config) with the library
    packages it enables, else policies/; with --library alone: the built-in
    library and its default settings.
    """
    cwd = Path.cwd()
    sources = load_sources(paths, config=config, data_paths=data, library=library, cwd=cwd)
    command = "gate doc " + " ".join([*paths, *(["--library"] if library else [])])
    text = render(sources.modules, sources.data, command=command.strip())
    if output:
        write_text(cwd / output, text)
    else:
        click.echo(text, nl=False)
