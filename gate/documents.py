"""Reading the bundle's files safely: confined paths, bounded YAML, strict JSON.

Every document gate reads goes through here (the bundle's, the policy data,
plans, states, journals and CI payloads alike), so these promises live in one
place:

* a path named in gate.yaml may not leave the manifest's folder, neither by
  ``..`` nor by a symlink that resolves outside; only regular files are read,
  never a named pipe or device (see ``gate.fsutil.open_regular``);
* a mapping may give each key once, in YAML and in JSON: a second ``library:``
  or ``steps:`` is an error at its line, never a silent "last one wins";
* YAML is read with the safe loader and the YAML 1.2 core schema: booleans are
  only true/false, dates stay strings, ``012`` is twelve in YAML 1.2 but ten
  (octal) in YAML 1.1, so it is refused, as is every plain scalar YAML 1.1
  would read as a different number (``1:30``, ``1_000``, ``0b11``); custom
  tags, binary data, sets and timestamps are refused at their line;
* a document whose aliases would expand past ``MAX_NODES`` values (a "billion
  laughs" bomb) or that refers to itself is refused without being expanded;
* the result is plain JSON data (str keys; str, int, float, bool, None, list,
  dict; no NaN or infinity, no integer beyond what a double can hold, no lone
  surrogate), so it can be validated and handed to any Rego engine.

``InputFiles`` also records the sha256 of every file it reads, for decision.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gate.errors import BundleError, DocumentError, GateError, json_path
from gate.fsutil import FileTooLarge, NotRegularFile, read_regular

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 200
MAX_FOLDER_DEPTH = 64  # folders below a bundle folder that is walked (artifacts, data)
# The largest magnitude every engine can hold as a number (an IEEE double).
MAX_NUMBER = 2**1024

YAML_SUFFIXES = {".yaml", ".yml"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_NUMBER = "tag:gate.dev,2025:plain-number"  # resolved here, never written by users
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# Every plain scalar that may be a number in YAML 1.1 or 1.2 (or looks like one:
# versions, dates) gets _PLAIN_NUMBER, and _plain_number decides.
_NUMBERISH = re.compile(
    r"^(?:[-+]?[0-9.][0-9a-zA-Z_:.+-]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_DEC12 = re.compile(r"[-+]?[0-9]+")
_OCT12 = re.compile(r"0o[0-7]+")
_HEX12 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
_YAML11 = {
    tag: rx
    for resolvers in _BaseLoader.yaml_implicit_resolvers.values()
    for tag, rx in resolvers
    if tag in (_INT, _FLOAT)
}
_YAML11_NUMBER = [_YAML11[_INT], _YAML11[_FLOAT]]
_UNSUPPORTED_TAGS = {
    "tag:yaml.org,2002:binary": "binary data",
    "tag:yaml.org,2002:timestamp": "a timestamp (write the date as a string)",
    "tag:yaml.org,2002:set": "a set (write a list)",
    "tag:yaml.org,2002:omap": "an ordered map (write a mapping or a list)",
    "tag:yaml.org,2002:pairs": "a list of pairs (write a mapping or a list)",
}


class _Refused(yaml.constructor.ConstructorError):
    """A well-formed YAML document gate refuses to read (shown without "not valid YAML")."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(None, None, problem, mark)


class _NumberProblem(ValueError):
    """A scalar YAML 1.1 and 1.2 read differently, or no number a document may hold."""


def _plain_number(text: str) -> int | float | str:
    """A plain scalar as YAML 1.2's core schema reads it; _NumberProblem when ambiguous."""
    if _DEC12.fullmatch(text):
        if _LEADING_ZERO.fullmatch(text):
            raise _NumberProblem(
                f"'{text}' has a leading zero: YAML 1.1 reads it as {_yaml11_reading(text)}, "
                f"YAML 1.2 as {int(text, 10)}; write it without the zero (0o... for an octal "
                "number), or quote it if it is text"
            )
        return _integer(text, 10)
    if _OCT12.fullmatch(text):
        return _integer(text[2:], 8)
    if _HEX12.fullmatch(text):
        return _integer(text[2:], 16)
    if _FLOAT12.fullmatch(text):
        return _finite(float(text), text)
    if _INF.fullmatch(text):
        raise _NumberProblem(f"'{text}' is not a finite number; JSON cannot hold it")
    if any(rx.match(text) for rx in _YAML11_NUMBER):
        raise _NumberProblem(
            f"'{text}' is {_yaml11_reading(text)} in YAML 1.1 but text in YAML 1.2; write "
            "the number in plain decimal, or quote it if it is text"
        )
    return text


def _yaml11_reading(text: str) -> str:
    """How a YAML 1.1 reader (PyYAML's own safe loader) reads the scalar, in words."""
    try:
        value = yaml.load(text, Loader=yaml.SafeLoader)  # the safe loader
    except (yaml.YAMLError, ValueError):
        return "a number"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"the number {value}" + (" (octal)" if _LEADING_ZERO.fullmatch(text) else "")
    if isinstance(value, float):
        return f"the number {value:g}"
    return "text"


def _integer(digits: str, base: int) -> int:
    try:
        value = int(digits, base)
    except ValueError as e:  # more digits than Python converts (sys.int_info)
        raise _NumberProblem(f"the integer has too many digits ({len(digits):,})") from e
    if abs(value) >= MAX_NUMBER:
        raise _NumberProblem(f"an integer of {len(digits)} digits is larger than any engine "
                             "can hold as a number")
    return value


def _finite(value: float, text: str) -> float:
    if not math.isfinite(value):
        raise _NumberProblem(f"'{text}' is not a finite number; JSON cannot hold it")
    return value


def _key_text(key: Any) -> str | None:
    """A mapping key as its JSON key, or None when it cannot be one."""
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, (str, int, float)):
        return str(key)
    return None


class _Loader(_BaseLoader):  # type: ignore[misc]  # PyYAML's loaders are untyped
    """The safe loader, reading JSON-shaped data with YAML 1.2's core schema.

    Mappings are built here: each key once (after turning it into its JSON
    key, so ``1`` and ``"1"`` are the same key), merge keys (``<<``) allowed.
    """

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise _Refused(f"expected a mapping, found {node.id}", node.start_mark)
        explicit = sum(1 for key, _ in node.value if key.tag != _MERGE)
        self.flatten_mapping(node)  # merged pairs first, then this mapping's own
        merged = len(node.value) - explicit
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for n, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=deep)
            text = _key_text(key)
            if text is None:
                raise _Refused("a mapping key must be a string, number, boolean or null "
                               f"(found {type(key).__name__})", key_node.start_mark)
            if n >= merged:
                if text in first_line:
                    raise _Refused(
                        f"duplicate key '{text}' (first on line {first_line[text]}): a "
                        "mapping may give each key once; readers disagree on which value "
                        "wins", key_node.start_mark)
                first_line[text] = key_node.start_mark.line + 1
            out[text] = self.construct_object(value_node, deep=deep)
        return out

    def construct_plain_number(self, node: Any) -> int | float | str:
        text = str(self.construct_scalar(node))
        try:
            return _plain_number(text)
        except _NumberProblem as e:
            raise _Refused(str(e), node.start_mark) from e

    def construct_yaml_int(self, node: Any) -> int:
        value = self.construct_plain_number(node)
        if not isinstance(value, int):
            raise _Refused(f"'{value}' is not an integer (!!int)", node.start_mark)
        return value

    def construct_yaml_float(self, node: Any) -> float:
        value = self.construct_plain_number(node)
        if isinstance(value, str):
            raise _Refused(f"'{value}' is not a number (!!float)", node.start_mark)
        return float(value)

    def construct_yaml_bool(self, node: Any) -> bool:
        text = str(self.construct_scalar(node))
        if not _YAML12_BOOL.match(text):
            raise _Refused(f"'{text}' is not a boolean: write true or false", node.start_mark)
        return text.lower() == "true"

    def construct_unsupported(self, node: Any) -> None:
        raise _Refused(f"{_UNSUPPORTED_TAGS[node.tag]} is not supported: gate reads "
                       "JSON-shaped data (mappings, lists, strings, numbers, booleans, null)",
                       node.start_mark)


_Loader.add_constructor(_PLAIN_NUMBER, _Loader.construct_plain_number)
_Loader.add_constructor(_INT, _Loader.construct_yaml_int)
_Loader.add_constructor(_FLOAT, _Loader.construct_yaml_float)
_Loader.add_constructor(_BOOL, _Loader.construct_yaml_bool)
for _tag in _UNSUPPORTED_TAGS:
    _Loader.add_constructor(_tag, _Loader.construct_unsupported)

# YAML 1.1 reads yes/no/on/off as booleans (so a key `on:` becomes `true`), dates
# as datetimes and 012 as octal; users of JSON-shaped data expect YAML 1.2's core
# schema. Numbers (and number-like text) all resolve to _PLAIN_NUMBER.
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, _YAML12_BOOL if tag == _BOOL else rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", _INT, _FLOAT)
        and (tag != _BOOL or first in "tTfF")
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
for _first in "-+.0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(0, (_PLAIN_NUMBER, _NUMBERISH))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_tree(doc: Any, path: Path | None) -> None:
    """Refuse documents that expand past MAX_NODES, contain themselves, nest past
    MAX_DEPTH, or hold a value JSON engines cannot: NaN, an infinity, an integer
    beyond a double, a lone surrogate (in a key or a string).

    Sizes are memoised by object identity, so the check costs the number of
    distinct nodes, not the expanded size: an alias bomb is measured, never built.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    trail: list[str | int] = []

    def refuse(message: str, hint: str | None = None) -> DocumentError:
        return DocumentError(message, path=path, pointer=json_path(trail), hint=hint)

    def leaf(node: Any) -> None:
        if isinstance(node, str):
            if not node.isascii() and _SURROGATE.search(node):
                raise refuse("the text holds a lone surrogate (\\ud800-\\udfff), which is "
                             "not Unicode text", hint="write the character itself, or a valid "
                             "surrogate pair")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise refuse(f"{node} is not a finite number; JSON cannot hold it",
                             hint="write a finite number")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= MAX_NUMBER:
            raise refuse(f"an integer of {len(str(abs(node)))} digits is larger than any "
                         "engine can hold as a number", hint="write a smaller number")

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (dict, list)):
            leaf(node)
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise refuse("the document contains itself (a recursive YAML alias)",
                         hint="remove the recursive anchor/alias; documents must be plain trees")
        if depth > MAX_DEPTH:
            raise refuse(f"the document nests deeper than {MAX_DEPTH} levels")
        active.add(key)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        total = 1
        for name, child in items:
            trail.append(name)
            if isinstance(name, str):
                leaf(name)
            total += size(child, depth + 1)
            trail.pop()
            if total > MAX_NODES:
                raise DocumentError(
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(YAML aliases multiply it); refusing to expand it",
                    path=path,
                    hint="write the data out without anchors/aliases, or split it",
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(doc, 0)


def to_plain(doc: Any, path: Path | None, parts: list[str | int] | None = None) -> Any:
    """A copy of ``doc`` as plain JSON data; anything else is a DocumentError at its JSON path."""
    parts = parts or []
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            key = _key_text(k)
            if key is None:
                raise DocumentError(
                    f"a mapping key of type {type(k).__name__} cannot be represented in JSON",
                    path=path,
                    pointer=json_path(parts),
                )
            if key in out:
                raise DocumentError(f"the key '{key}' is given twice", path=path,
                                    pointer=json_path(parts),
                                    hint="give each key once")
            out[key] = to_plain(v, path, [*parts, key])
        return out
    if isinstance(doc, (list, tuple)):
        return [to_plain(v, path, [*parts, i]) for i, v in enumerate(doc)]
    if isinstance(doc, float) and not math.isfinite(doc):
        raise DocumentError(
            f"{doc} is not a number JSON can hold", path=path, pointer=json_path(parts)
        )
    if doc is None or isinstance(doc, (str, int, float, bool)):
        return doc
    raise DocumentError(
        f"a value of type {type(doc).__name__} cannot be represented in JSON "
        "(binary data, sets and custom tags are not supported)",
        path=path,
        pointer=json_path(parts),
    )


def parse_yaml(text: str, path: Path | None = None) -> Any:
    """Parse one YAML document safely (see module docstring)."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader is the safe loader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = (str(e.problem) if isinstance(e, _Refused)
                   else f"not valid YAML: {e.problem or e.context}")
        raise DocumentError(
            message,
            path=path,
            line=mark.line + 1 if mark else None,
            col=mark.column + 1 if mark else None,
            hint=_YAML_HINT if isinstance(e, _Refused) else None,
        ) from e
    except yaml.YAMLError as e:
        raise DocumentError(f"not valid YAML: {e}", path=path) from e
    except RecursionError as e:
        raise DocumentError(f"the document nests deeper than {MAX_DEPTH} levels", path=path) from e
    _check_tree(doc, path)
    return to_plain(doc, path)


_YAML_HINT = "fix the value at the line named above (gate reads YAML 1.2, see docs/inputs.md)"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# A JSON token: a string, a punctuation mark, or a bare word (number, literal).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def _duplicate_position(text: str) -> tuple[str, int, int] | None:
    """(key, offset, offset of its first use) of the first key given twice in an object.

    Only run once the fast parser has found a duplicate: it scans the text
    token by token (iteratively, so nesting costs no recursion).
    """
    stack: list[dict[str, int] | None] = []
    expect_key = False
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token == "{":
            stack.append({})
            expect_key = True
        elif token == "[":
            stack.append(None)
            expect_key = False
        elif token in ("}", "]"):
            if stack:
                stack.pop()
            expect_key = False
        elif token == ",":
            expect_key = bool(stack) and stack[-1] is not None
        elif token == ":":
            expect_key = False
        elif expect_key and token.startswith('"'):
            expect_key = False
            seen = stack[-1]
            try:
                key = json.loads(token)
            except ValueError:
                continue
            if seen is not None:
                if key in seen:
                    return key, m.start(), seen[key]
                seen[key] = m.start()
    return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def parse_json(text: str, path: Path | None = None) -> Any:
    """Parse strict JSON into plain data: no NaN/Infinity, each key once per object."""
    try:
        doc = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as e:
        raise DocumentError(
            f"not valid JSON: {e.msg}", path=path, line=e.lineno, col=e.colno
        ) from e
    except _DuplicateKey as e:
        found = _duplicate_position(text)
        key, line, col, where = e.key, None, None, ""
        if found is not None:
            key = found[0]
            line, col = _line_col(text, found[1])
            first_line, first_col = _line_col(text, found[2])
            where = (f" (first at column {first_col})" if first_line == line
                     else f" (first on line {first_line})")
        raise DocumentError(
            f"duplicate key '{key}'{where}: an object may give each key once; readers "
            "disagree on which value wins", path=path, line=line, col=col,
            hint="remove one of the two, or merge them",
        ) from e
    except ValueError as e:
        raise DocumentError(f"not valid JSON: {e}", path=path) from e
    except RecursionError as e:
        raise DocumentError(f"the document nests deeper than {MAX_DEPTH} levels", path=path) from e
    _check_tree(doc, path)
    return doc


def parse_jsonl(text: str, path: Path | None = None) -> list[Any]:
    """Parse JSON lines (blank lines ignored); errors name the line."""
    docs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            docs.append(parse_json(line, path))
        except DocumentError as e:
            e.line = n  # the column, if any, is within the line already
            raise
    return docs


def split_front_matter(text: str, path: Path | None = None) -> tuple[str, str]:
    """(YAML front matter, body) of a Markdown file; front matter is empty when absent."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return "", text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    raise DocumentError(
        "the YAML front matter opened by '---' on line 1 is never closed",
        path=path,
        line=1,
        hint="close the front matter with a line holding only '---'",
    )


def parse_document(text: str, path: Path, *, default: str = "yaml") -> Any:
    """Parse by extension: JSON, JSON lines, YAML, or Markdown front matter."""
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        return parse_json(text, path)
    if suffix in JSONL_SUFFIXES:
        return parse_jsonl(text, path)
    if suffix in MARKDOWN_SUFFIXES:
        front, _ = split_front_matter(text, path)
        try:
            return parse_yaml(front, path) if front.strip() else {}
        except DocumentError as e:
            if e.line is not None:
                e.line += 1  # the front matter starts on the file's second line
            raise
    if suffix in YAML_SUFFIXES or default == "yaml":
        return parse_yaml(text, path)
    return parse_json(text, path)


def read_document(
    path: Path,
    shown: str,
    *,
    error: type[GateError] = DocumentError,
    missing: str | None = "file not found",
    missing_hint: str | None = None,
    unreadable: str = "cannot read the file",
    not_utf8: str = "not UTF-8 text (byte {start} is invalid)",
    encoding: str = "utf-8-sig",
    json_only: bool = False,
    default: str = "json",
    on_digest: Callable[[str], None] | None = None,
) -> tuple[Any, str]:
    """(document, sha256 of its bytes) of a file that is not a bundle file (a CI payload,
    a plan, a state, monitoring data): read, hash, decode, parse, each step worded by
    the caller so each keeps its own messages.

    Only a regular file of at most MAX_DOCUMENT_BYTES is read. A file that is not
    there is ``error(missing, hint=missing_hint)``, or the FileNotFoundError itself
    when ``missing`` is None (a caller for which no file is a fresh start); any
    other read problem is ``error(f"{unreadable}: <reason>")``. ``on_digest`` sees
    the sha256 before the bytes are decoded (a plan refuses a digest it was not
    promised before reading it). Bytes that are not ``encoding`` are a
    DocumentError worded ``not_utf8`` (``{start}`` is the first bad byte), as is
    a document that does not parse: as JSON with ``json_only``, else by
    extension (``default`` for any other). Every error names ``shown``.
    """
    try:
        data = read_regular(path, MAX_DOCUMENT_BYTES)
    except FileNotFoundError as e:
        if missing is None:
            raise
        raise error(missing, path=shown, hint=missing_hint) from e
    except OSError as e:
        raise error(f"{unreadable}: {e.strerror or e}", path=shown) from e
    sha256 = hashlib.sha256(data).hexdigest()
    if on_digest is not None:
        on_digest(sha256)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise DocumentError(not_utf8.format(start=e.start), path=shown) from e
    try:
        doc = parse_json(text, path) if json_only else parse_document(text, path,
                                                                       default=default)
    except DocumentError as e:
        e.path = shown
        raise
    return doc, sha256


def load_file(path: Path, shown: str | None = None, *, default: str = "json") -> Any:
    """Read and parse a document that is not a bundle file (a CI event payload, a plan,
    a state): only a regular file, at most MAX_DOCUMENT_BYTES, strict UTF-8, parsed
    by extension as every document is. Every problem is a DocumentError naming ``shown``.
    """
    return read_document(path, shown or str(path), default=default)[0]


@dataclass(frozen=True)
class FileRecord:
    """One file the gate read: where, what for, and its digest."""

    path: str
    role: str
    sha256: str
    size_bytes: int


class InputFiles:
    """The bundle's folder: confines paths to it and records every file read."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.records: dict[str, FileRecord] = {}

    def contains(self, path: Path) -> bool:
        """Whether an absolute, resolved ``path`` is the bundle folder or inside it."""
        return path == self.root or self.root in path.parents

    def files_under(self, shown: str, folder: Path, role: str,
                    max_depth: int = MAX_FOLDER_DEPTH) -> list[tuple[str, Path]]:
        """(shown path, real path) of every regular file under a bundle folder, sorted.

        The one confined walk of a bundle folder: iterative, each entry judged
        from the listing alone unless it is a symlink (then resolved and confined
        through ``resolve``); a named pipe, device or socket, a name that is not
        printable text, a folder that cannot be listed or that nests past
        ``max_depth`` is a BundleError naming it. A link back to a folder already
        walked adds nothing.
        """
        seen = {folder}
        stack = [(shown, folder, 0)]
        found: list[tuple[str, Path]] = []
        while stack:
            here_shown, here, depth = stack.pop()
            try:
                with os.scandir(here) as it:
                    entries = list(it)
            except OSError as e:
                raise BundleError(f"{role}: cannot list the folder: {e.strerror or e}",
                                  path=here_shown) from e
            for entry in entries:
                name = entry.name
                child = name if here_shown == "." else f"{here_shown}/{name}"
                if not name.isprintable():
                    # Paths go into JSON, SARIF and Rego: they must be text. (Bytes that are
                    # not UTF-8 come back from os.scandir as lone surrogates, not printable.)
                    raise BundleError(f"{role}: the file name is not printable UTF-8 text",
                                      path=child.encode("utf-8", "backslashreplace").decode(),
                                      hint="rename the file")
                if entry.is_symlink():
                    target = self.resolve(child, role)  # refuses a link out of the bundle
                    try:
                        mode = target.stat().st_mode
                    except OSError as e:
                        raise BundleError(f"{role}: cannot read the file: {e.strerror or e}",
                                          path=child) from e
                    is_dir, is_file = stat.S_ISDIR(mode), stat.S_ISREG(mode)
                else:
                    target = Path(entry.path)
                    is_dir = entry.is_dir(follow_symlinks=False)
                    is_file = entry.is_file(follow_symlinks=False)
                if is_file:
                    found.append((child, target))
                elif not is_dir:
                    raise BundleError(f"{role}: not a regular file or folder", path=child,
                                      hint="a folder of the bundle may hold only files and "
                                      "folders (no named pipes or devices)")
                elif target not in seen:
                    if depth + 1 > max_depth:
                        raise BundleError(f"{role}: folders nest deeper than {max_depth} levels",
                                          path=child, hint="flatten the folder")
                    seen.add(target)
                    stack.append((child, target, depth + 1))
        return sorted(found)

    def display(self, path: Path) -> str:
        """The path as a user wrote it: relative to the bundle folder where possible."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, rel: str, what: str) -> Path:
        """The absolute path of ``rel`` inside the bundle, refusing any escape."""
        if not isinstance(rel, str) or not rel:
            raise BundleError(f"{what}: the path is empty")
        candidate = Path(rel)
        if candidate.is_absolute():
            raise BundleError(
                f"{what}: '{rel}' is an absolute path",
                path=rel,
                hint="name files relative to the folder of gate.yaml",
            )
        lexical = Path(os.path.normpath(self.root / candidate))
        if lexical != self.root and self.root not in lexical.parents:
            raise BundleError(
                f"{what}: '{rel}' leaves the bundle folder through '..'",
                path=rel,
                hint="keep every file of the release bundle inside the folder of gate.yaml",
            )
        try:
            resolved = (self.root / candidate).resolve(strict=True)
        except FileNotFoundError as e:
            raise BundleError(f"{what}: file not found", path=rel) from e
        except (OSError, RuntimeError, ValueError) as e:
            # RuntimeError: a symlink loop on older Pythons; ValueError: a NUL byte.
            raise BundleError(f"{what}: cannot resolve the path: {e}", path=rel) from e
        if resolved != self.root and self.root not in resolved.parents:
            raise BundleError(
                f"{what}: '{rel}' is (or passes through) a symlink that resolves outside "
                "the bundle folder",
                path=rel,
                hint="copy the file into the bundle instead of linking to it",
            )
        return resolved

    def read_bytes(self, path: Path, role: str) -> bytes:
        """Read a whole (document-sized) regular file and record its digest.

        A folder, named pipe, device or socket is refused without being read
        (a pipe would block the gate forever), as is a file over MAX_DOCUMENT_BYTES.
        """
        shown = self.display(path)
        try:
            data = read_regular(path, MAX_DOCUMENT_BYTES)
        except NotRegularFile as e:
            what = "expected a file, found a folder" if e.kind == "a folder" else (
                f"not a regular file: it is {e.kind}" if e.kind.startswith("a ") else e.kind)
            raise BundleError(f"{role}: {what}", path=shown,
                              hint="name a regular file of the bundle") from e
        except FileTooLarge as e:
            raise BundleError(
                f"{role}: the file is {e.size:,} bytes; documents may be at most "
                f"{MAX_DOCUMENT_BYTES:,}",
                path=shown,
            ) from e
        except FileNotFoundError as e:
            raise BundleError(f"{role}: file not found", path=shown) from e
        except OSError as e:
            raise BundleError(f"{role}: cannot read the file: {e.strerror or e}",
                              path=shown) from e
        self.record(shown, role, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def record(self, shown: str, role: str, sha256: str, size: int) -> None:
        """Note a file read elsewhere (artifacts are hashed by streaming)."""
        self.records[shown] = FileRecord(shown, role, sha256, size)

    def read_text(self, path: Path, role: str) -> str:
        """Read a UTF-8 text file (a BOM is accepted) and record its digest."""
        data = self.read_bytes(path, role)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise DocumentError(
                f"{role}: not UTF-8 text (byte {e.start} is invalid)", path=self.display(path)
            ) from e

    def load(self, rel: str, role: str, *, default: str = "yaml") -> Any:
        """Resolve, read and parse a document named in gate.yaml."""
        path = self.resolve(rel, role)
        return self.load_path(path, role, default=default)

    def load_path(self, path: Path, role: str, *, default: str = "yaml") -> Any:
        """Read and parse a document at an already-confined path."""
        return self.parse(self.read_text(path, role), path, default=default)

    def parse(self, text: str, path: Path, *, default: str = "yaml") -> Any:
        """Parse the text ``read_text`` gave for ``path``; a problem names the file as shown."""
        try:
            return parse_document(text, path, default=default)
        except DocumentError as e:
            e.path = self.display(path)
            raise
