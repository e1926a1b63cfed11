"""Reading Rego source without an engine: package, rule heads with their lines, METADATA.

Engines report values, not where a rule stands nor its annotations (regorus
does not expose ``rego.metadata``), so the gate reads those from the source
itself. The scanner knows just enough Rego lexing (strings, raw strings,
comments, brackets) to find the statements that start at bracket depth 0.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.documents import parse_yaml
from gate.errors import DocumentError, PolicyError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PACKAGE = re.compile(r"package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_KEYWORDS = frozenset(
    {"package", "import", "if", "contains", "else", "not", "some", "every", "in", "with",
     "as", "true", "false", "null"}
)


@dataclass(frozen=True)
class Rule:
    """A rule head found in the source: its name, line, and METADATA annotations."""

    name: str
    line: int
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Module:
    """One Rego file: where it is, its text and digest, package, and rules in order."""

    path: str  # as shown to users (relative to the bundle where possible)
    text: str
    package: str
    rules: tuple[Rule, ...]
    package_annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def first(self, name: str) -> Rule | None:
        """The first head of rule ``name`` (partial rules may have several)."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        return None

    def rule_names(self) -> list[str]:
        """Distinct rule names in source order."""
        return list(dict.fromkeys(r.name for r in self.rules))


def _statements(text: str) -> list[tuple[int, str]]:
    """(line, first line text) of every line that starts a statement at depth 0.

    Comment lines at depth 0 are returned too (with their '#'), so METADATA
    blocks can be attached to the rule that follows them.
    """
    out: list[tuple[int, str]] = []
    depth = 0
    i, n, line = 0, len(text), 1
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            at_line_start = True
            i += 1
            continue
        if at_line_start and c not in " \t\r":
            at_line_start = False
            if depth == 0:
                end = text.find("\n", i)
                out.append((line, text[i : end if end >= 0 else n]))
        if c == "#":
            end = text.find("\n", i)
            i = end if end >= 0 else n
            continue
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    break  # unterminated; the engine reports it
                i += 1
            i += 1
            continue
        if c == "`":
            end = text.find("`", i + 1)
            end = end if end >= 0 else n
            line += text.count("\n", i, end)
            i = end + 1
            continue
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth = max(0, depth - 1)
        i += 1
    return out


def _metadata(block: list[str], path: str, line: int) -> dict[str, Any]:
    body = []
    for raw in block:
        text = raw[1:]  # drop '#'
        body.append(text[1:] if text.startswith(" ") else text)
    try:
        doc = parse_yaml("\n".join(body))
    except DocumentError as e:
        raise PolicyError(
            f"the METADATA block is not valid YAML: {e.message}",
            path=path,
            line=line + (e.line or 0),
            hint="METADATA must be YAML in '# ' comments directly above the rule",
        ) from e
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PolicyError("the METADATA block must be a YAML mapping", path=path, line=line)
    return doc


def parse_module(text: str, path: str) -> Module:
    """Scan one Rego file; a file without a package line is a PolicyError."""
    package = ""
    package_annotations: dict[str, Any] = {}
    rules: list[Rule] = []
    comments: list[str] = []
    comment_start = 0
    pending: dict[str, Any] | None = None
    for line, stmt in _statements(text):
        if stmt.startswith("#"):
            if not comments:
                comment_start = line
            comments.append(stmt)
            continue
        if comments and comments[0].strip() == "# METADATA":
            pending = _metadata(comments[1:], path, comment_start)
        comments = []
        m = _PACKAGE.match(stmt)
        if m:
            package = m.group(1)
            if pending is not None:
                package_annotations = pending
            pending = None
            continue
        m = _IDENT.match(stmt)
        if not m or (m.group(0) in _KEYWORDS and m.group(0) != "default"):
            pending = None
            continue
        name = m.group(0)
        if name == "default":
            m2 = _IDENT.match(stmt[len("default") :].lstrip())
            if not m2:
                continue
            name = m2.group(0)
        annotations = pending or {}
        if annotations.get("scope") in ("package", "subpackages", "document"):
            package_annotations = {**package_annotations, **annotations}
            annotations = {}
        rules.append(Rule(name=name, line=line, annotations=annotations))
        pending = None
    if not package:
        raise PolicyError(
            "no package declaration", path=path, line=1,
            hint="every Rego file starts with `package <name>`",
        )
    return Module(path, text, package, tuple(rules), package_annotations)


def load_module(file: Path, shown: str) -> Module:
    """Read and scan a .rego file."""
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PolicyError(f"not UTF-8 text (byte {e.start})", path=shown) from e
    except OSError as e:
        raise PolicyError(f"cannot read the policy: {e.strerror}", path=shown) from e
    return parse_module(text, shown)
