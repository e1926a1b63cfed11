"""A Rego module as the gate sees it: package, rule heads, and METADATA as OPA attaches it.

The structure (the package path, each rule's path, kind and line) comes from
an engine's own parser, never from a guess at the text: an *outliner* turns
source text into an :class:`Outline`. Outliners are registered by name in
``OUTLINERS`` and imported only when used; the first one that parses a module
wins, so regorus (always installed) reads what it can and OPA's own parser
reads what only OPA understands. The OPA engine checks every module against
its own parse again before it evaluates anything (see ``gate.engines.opa_go``).

Engines do not hand out comments with positions (regorus) or rule positions
(OPA's ``rego.parse_module``), so this module lexes comments itself and
attaches ``# METADATA`` blocks with OPA's rules: a block is the comment lines
that start at column 1 on consecutive rows after a comment whose text starts
with ``METADATA``; it belongs to the first statement on a later row; its scope
defaults from that statement (rule or package), and a rule may carry several.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gate.documents import parse_yaml
from gate.errors import DocumentError, PolicyError

RuleKind = Literal["set", "complete", "object", "function"]
SCOPES = ("rule", "document", "package", "subpackages")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that cannot be written as a bare `.name` segment of a ref.
_KEYWORDS = frozenset(
    {"as", "contains", "data", "default", "else", "every", "false", "if", "import", "in",
     "input", "not", "null", "package", "some", "true", "with"}
)


def ref_text(root: str, path: Sequence[str]) -> str:
    """A Rego reference to ``root`` followed by ``path``: ``data.a["b-c"].d``."""
    out = root
    for seg in path:
        if _IDENT.match(seg) and seg not in _KEYWORDS:
            out += f".{seg}"
        else:
            out += f"[{json.dumps(seg)}]"
    return out


def path_text(path: Sequence[str]) -> str:
    """A package or rule path as OPA prints it, without ``data.``: ``release["model-checks"]``."""
    text = ref_text("", path)
    return text[1:] if text.startswith(".") else text


@dataclass(frozen=True)
class RuleHead:
    """One rule as an engine parsed it: its path below the package, kind and first line."""

    path: tuple[str, ...]  # the ground prefix of the head's reference
    kind: RuleKind
    line: int  # 0 when the parser does not say (aligned to the source afterwards)


@dataclass(frozen=True)
class Outline:
    """What an engine's parser says a module is."""

    parser: str
    package: tuple[str, ...]
    package_line: int
    rules: tuple[RuleHead, ...]
    import_lines: tuple[int, ...] = ()
    comments: tuple[Comment, ...] | None = None  # None: the parser does not report them
    # Every call (function path, line) and import alias, where the parser reports them
    # (regorus's AST): what regorus's adapter checks function names with.
    calls: tuple[tuple[tuple[str, ...], int], ...] | None = None
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment: row and column of the ``#`` (1-based), and the text after it."""

    row: int
    col: int
    text: str


@dataclass(frozen=True)
class Rule:
    """A rule of the module: name (first path segment), full path, kind, line, METADATA."""

    name: str
    line: int
    annotations: dict[str, Any] = field(default_factory=dict)
    path: tuple[str, ...] = ()
    kind: RuleKind = "complete"


@dataclass(frozen=True)
class Module:
    """One Rego file: where it is, its text and digest, package, and rules in order.

    ``package`` is the package path as OPA prints it (``release["model-checks"]``),
    ``package_path`` its segments. ``package_annotations`` are the package-scoped
    METADATA; ``subpackage_annotations`` the ``scope: subpackages`` part of it,
    which also applies to every package below this one.
    """

    path: str  # as shown to users (relative to the bundle where possible)
    text: str
    package: str
    rules: tuple[Rule, ...]
    package_annotations: dict[str, Any] = field(default_factory=dict)
    package_path: tuple[str, ...] = ()
    parser: str = ""
    subpackage_annotations: dict[str, Any] = field(default_factory=dict)
    calls: tuple[tuple[tuple[str, ...], int], ...] | None = None  # see Outline
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()

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


# --- lexing: comments and the rows where top-level statements start -----------------------


def _skip_string(text: str, i: int) -> int:
    """Index after the double-quoted string starting at ``text[i] == '"'``."""
    i += 1
    n = len(text)
    while i < n and text[i] != '"':
        if text[i] == "\\":
            i += 1
        elif text[i] == "\n":
            return i  # unterminated; the engine reports it
        i += 1
    return i + 1


def _skip_template(text: str, i: int) -> int:
    """Index after a template string ``$"…{expr}…"`` or ``$`…{expr}…```` at ``text[i] == '$'``."""
    quote = text[i + 1]
    i += 2
    n = len(text)
    while i < n and text[i] != quote:
        c = text[i]
        if c == "\\" and quote == '"':
            i += 2
            continue
        if c == "{":
            depth = 1
            i += 1
            while i < n and depth:
                if text[i] == '"':
                    i = _skip_string(text, i)
                    continue
                if text[i] == "`":
                    end = text.find("`", i + 1)
                    i = n if end < 0 else end + 1
                    continue
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            continue
        i += 1
    return i + 1


def lex(text: str) -> tuple[list[Comment], list[tuple[int, str]]]:
    """The module's comments, and (row, first word) of each line that starts a statement
    at bracket depth 0 (comment lines excluded)."""
    comments: list[Comment] = []
    starts: list[tuple[int, str]] = []
    depth = 0
    i, n, row, line_start = 0, len(text), 1, 0
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            row += 1
            line_start = i + 1
            at_line_start = True
            i += 1
            continue
        if at_line_start and c not in " \t\r":
            at_line_start = False
            if depth == 0 and c != "#":
                word = _WORD.match(text, i)
                starts.append((row, word.group(0) if word else c))
        if c == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append(Comment(row, i - line_start + 1, text[i + 1 : end].rstrip("\r")))
            i = end
            continue
        if c == '"':
            start = i
            i = _skip_string(text, i)
            row += text.count("\n", start, i)
            continue
        if c == "$" and i + 1 < n and text[i + 1] in '"`':
            start = i
            i = _skip_template(text, i)
            row += text.count("\n", start, i)
            continue
        if c == "`":
            end = text.find("`", i + 1)
            end = n if end < 0 else end
            row += text.count("\n", i, end)
            i = end + 1
            continue
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth = max(0, depth - 1)
        i += 1
    return comments, starts


# --- METADATA, attached as OPA attaches it ---------------------------------------------------


@dataclass
class _Block:
    row: int
    lines: list[str] = field(default_factory=list)


def _blocks(comments: Sequence[Comment]) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    previous: Comment | None = None
    for c in comments:
        if current is not None and previous is not None:
            if c.row == previous.row + 1 and c.col == 1:
                current.lines.append(c.text[1:] if c.text.startswith(" ") else c.text)
                previous = c
                continue
            current = None
        if c.text.strip().startswith("METADATA"):
            current = _Block(c.row)
            blocks.append(current)
        previous = c
    return blocks


def _block_yaml(block: _Block, path: str) -> dict[str, Any]:
    inner = [i for i, line in enumerate(block.lines, 1) if line.strip().startswith("METADATA")]
    if inner:
        raise PolicyError(
            "a second '# METADATA' line inside a METADATA block: OPA reads it as YAML of the "
            "first block and drops what follows it",
            path=path, line=block.row + inner[0],
            hint="put a blank line between the two blocks, or merge them into one",
        )
    try:
        doc = parse_yaml("\n".join(block.lines))
    except DocumentError as e:
        raise PolicyError(
            f"the METADATA block is not valid YAML: {e.message}",
            path=path, line=block.row + (e.line or 0),
            hint="METADATA is YAML in '# ' comments; a block ends at the first line that is "
            "not a comment starting in column 1",
        ) from e
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PolicyError("the METADATA block must be a YAML mapping", path=path, line=block.row)
    scope = doc.get("scope")
    if scope is not None and scope not in SCOPES:
        raise PolicyError(f"METADATA scope '{scope}' is not one of {', '.join(SCOPES)}",
                          path=path, line=block.row)
    return doc


def merge_annotations(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win key by key; ``custom`` mappings merge one level deeper."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "scope":
                continue
            if key == "custom" and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


_GOVERNED = ("id", "severity", "enforcement")


def _refuse_conflicts(layers: Sequence[Mapping[str, Any]], path: str, line: int) -> None:
    """Two METADATA blocks on one rule may not disagree on what governs its findings."""
    for key in _GOVERNED:
        values = {json.dumps(c[key]) for doc in layers
                  if isinstance(c := doc.get("custom"), Mapping) and key in c}
        if len(values) > 1:
            raise PolicyError(
                f"the METADATA blocks of this rule disagree on custom.{key}: "
                f"{', '.join(sorted(values))}",
                path=path, line=line, hint=f"keep one custom.{key} for the rule",
            )


def build_module(text: str, path: str, outline: Outline) -> Module:
    """Attach METADATA to the outline's statements and make the Module."""
    comments = lex(text)[0]
    # Every statement a METADATA block may precede: (row, kind, index into rules).
    stmts: list[tuple[int, str, int]] = [(outline.package_line, "package", -1)]
    stmts += [(row, "import", -1) for row in outline.import_lines]
    stmts += [(r.line, "rule", i) for i, r in enumerate(outline.rules)]
    stmts.sort()
    rule_layers: list[list[dict[str, Any]]] = [[] for _ in outline.rules]
    document: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    package_layers: list[dict[str, Any]] = []
    subpackage_layers: list[dict[str, Any]] = []
    for block in _blocks(comments):
        doc = _block_yaml(block, path)
        node = next((s for s in stmts if s[0] > block.row), None)
        kind = node[1] if node else "end of file"
        scope = doc.get("scope") or {"rule": "rule", "package": "package"}.get(kind)
        wanted = "rule" if scope in ("rule", "document") else "package"
        if scope is None or node is None or kind != wanted:
            raise PolicyError(
                f"a METADATA block of scope '{scope or 'rule'}' must directly precede a "
                f"{wanted}, not {'an import' if kind == 'import' else kind}",
                path=path, line=block.row,
                hint="move the block above the rule or package it describes",
            )
        if scope == "rule":
            rule_layers[node[2]].append(doc)
        elif scope == "document":
            document.setdefault(outline.rules[node[2]].path, []).append(doc)
        elif scope == "package":
            package_layers.append(doc)
        else:
            subpackage_layers.append(doc)
    for i, layers in enumerate(rule_layers):
        _refuse_conflicts(layers, path, outline.rules[i].line)
    rules = tuple(
        Rule(name=head.path[0], line=head.line, path=head.path, kind=head.kind,
             annotations=merge_annotations(*document.get(head.path, []), *rule_layers[i]))
        for i, head in enumerate(outline.rules)
    )
    subpackages = merge_annotations(*subpackage_layers)
    return Module(path, text, path_text(outline.package), rules,
                  merge_annotations(subpackages, *package_layers), outline.package,
                  outline.parser, subpackages, outline.calls, outline.aliases)


def align_rows(text: str, path: str, rules: Sequence[RuleHead]) -> tuple[RuleHead, ...]:
    """Give rule heads without a line (OPA's parse) the row where each one starts.

    The lexer's top-level statements are matched to the parser's rules in order
    by their first word; anything left unmatched on either side means the two
    readings differ, and the module is refused rather than misattributed.
    """
    _, starts = lex(text)
    candidates = iter(starts)
    placed: list[RuleHead] = []
    for head in rules:
        for row, word in candidates:
            if word == head.path[0] or (word == "default" and _default_names(text, row,
                                                                           head.path[0])):
                placed.append(RuleHead(head.path, head.kind, row))
                break
        else:
            raise PolicyError(
                f"gate cannot find where rule '{path_text(head.path)}' starts in the source",
                path=path,
                hint="this is a gate limitation, not an error in the policy: please report it",
            )
    return tuple(placed)


def _default_names(text: str, row: int, name: str) -> bool:
    line = text.splitlines()[row - 1]
    return re.match(rf"\s*default\s+{re.escape(name)}\b", line) is not None


# --- parsing with the engines' parsers ---------------------------------------------------------

Outliner = Callable[[str, str], Outline]

# name -> "module:function"; tried in order. Imported only when needed.
OUTLINERS: dict[str, str] = {
    "regorus": "gate.engines.regorus:outline",
    "opa-go": "gate.engines.opa_go:outline",
}


def outliner(name: str) -> Outliner | None:
    """The outliner called ``name``, or None when its engine is not installed."""
    module_name, _, attr = OUTLINERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    fn: Outliner | None = getattr(module, attr, None)
    return fn if fn is not None and getattr(module, "AVAILABLE", True) else None


def _outliners() -> Iterator[tuple[str, Outliner]]:
    for name in OUTLINERS:
        fn = outliner(name)
        if fn is not None:
            yield name, fn


def parse_module(text: str, path: str) -> Module:
    """Parse one Rego file with the first engine parser that accepts it.

    When none does, the first parser's error is raised (with file:line). A
    Module is immutable, so the same file read again (the library, in a run
    over many bundles) is parsed once per process.
    """
    return _parse_cached(text, path)


@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str, path: str) -> Module:
    return build_module(text, path, outline_module(text, path))


def outline_module(text: str, path: str) -> Outline:
    """The outline of one module by the first engine parser that accepts it."""
    first_error: PolicyError | None = None
    for _, fn in _outliners():
        try:
            return fn(text, path)
        except PolicyError as e:
            first_error = first_error or e
    if first_error is None:  # pragma: no cover - regorus is a hard dependency
        raise PolicyError("no Rego parser is installed", path=path)
    raise first_error


def outline_to_json(outline: Outline) -> dict[str, Any]:
    """An outline as plain JSON (what the library ships precomputed; see gate.library)."""
    return {
        "parser": outline.parser,
        "package": list(outline.package),
        "package_line": outline.package_line,
        "rules": [[list(r.path), r.kind, r.line] for r in outline.rules],
        "import_lines": list(outline.import_lines),
        "comments": None if outline.comments is None
        else [[c.row, c.col, c.text] for c in outline.comments],
        "calls": None if outline.calls is None
        else [[list(path), line] for path, line in outline.calls],
        "aliases": [[alias, list(target)] for alias, target in outline.aliases],
    }


def outline_from_json(doc: Mapping[str, Any]) -> Outline:
    """The inverse of :func:`outline_to_json`."""
    return Outline(
        parser=doc["parser"],
        package=tuple(doc["package"]),
        package_line=doc["package_line"],
        rules=tuple(RuleHead(tuple(path), kind, line) for path, kind, line in doc["rules"]),
        import_lines=tuple(doc["import_lines"]),
        comments=None if doc["comments"] is None
        else tuple(Comment(row, col, text) for row, col, text in doc["comments"]),
        calls=None if doc["calls"] is None
        else tuple((tuple(path), line) for path, line in doc["calls"]),
        aliases=tuple((alias, tuple(target)) for alias, target in doc["aliases"]),
    )

