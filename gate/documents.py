"""Reading the bundle's files safely: confined paths, bounded YAML, strict JSON.

Every document a release bundle holds goes through here, so three promises
live in one place:

* a path named in gate.yaml may not leave the manifest's folder, neither by
  ``..`` nor by a symlink that resolves outside;
* YAML is read with the safe loader, timestamps stay strings, and a document
  whose aliases would expand past ``MAX_NODES`` values (a "billion laughs"
  bomb) or that refers to itself is refused without being expanded;
* the result is plain JSON data (str keys; str, int, float, bool, None, list,
  dict; no NaN), so it can be validated and handed to any Rego engine.

``InputFiles`` also records the sha256 of every file it reads, for decision.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gate.errors import BundleError, DocumentError

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 200

YAML_SUFFIXES = {".yaml", ".yml"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]  # PyYAML's loaders are untyped
    """The safe loader with YAML 1.2 booleans and no timestamps (dates stay strings)."""


_BOOL = "tag:yaml.org,2002:bool"
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# YAML 1.1 reads yes/no/on/off as booleans (so a key `on:` becomes `true`) and
# dates as datetimes; users of JSON-shaped data expect YAML 1.2's core schema.
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, _YAML12_BOOL if tag == _BOOL else rx)
        for tag, rx in resolvers
        if tag != "tag:yaml.org,2002:timestamp" and (tag != _BOOL or first in "tTfF")
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _check_expansion(doc: Any, path: Path | None) -> None:
    """Refuse documents whose aliases expand past MAX_NODES, or that contain themselves.

    Sizes are memoised by object identity, so the check costs the number of
    distinct nodes, not the expanded size: an alias bomb is measured, never built.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise DocumentError(
                "the document contains itself (a recursive YAML alias)",
                path=path,
                hint="remove the recursive anchor/alias; documents must be plain trees",
            )
        if depth > MAX_DEPTH:
            raise DocumentError(
                f"the document nests deeper than {MAX_DEPTH} levels", path=path
            )
        active.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child, depth + 1)
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
    """A copy of ``doc`` as plain JSON data; anything else is a DocumentError at its pointer."""
    parts = parts or []
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            if isinstance(k, bool) or k is None:
                key = json.dumps(k)
            elif isinstance(k, (str, int, float)):
                key = str(k)
            else:
                raise DocumentError(
                    f"a mapping key of type {type(k).__name__} cannot be represented in JSON",
                    path=path,
                    pointer=_pointer(parts),
                )
            out[key] = to_plain(v, path, [*parts, key])
        return out
    if isinstance(doc, (list, tuple)):
        return [to_plain(v, path, [*parts, i]) for i, v in enumerate(doc)]
    if isinstance(doc, float) and not math.isfinite(doc):
        raise DocumentError(
            f"{doc} is not a number JSON can hold", path=path, pointer=_pointer(parts)
        )
    if doc is None or isinstance(doc, (str, int, float, bool)):
        return doc
    raise DocumentError(
        f"a value of type {type(doc).__name__} cannot be represented in JSON "
        "(binary data, sets and custom tags are not supported)",
        path=path,
        pointer=_pointer(parts),
    )


def parse_yaml(text: str, path: Path | None = None) -> Any:
    """Parse one YAML document safely (see module docstring)."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader is the safe loader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise DocumentError(
            f"not valid YAML: {e.problem or e.context}",
            path=path,
            line=mark.line + 1 if mark else None,
            col=mark.column + 1 if mark else None,
        ) from e
    except yaml.YAMLError as e:
        raise DocumentError(f"not valid YAML: {e}", path=path) from e
    except RecursionError as e:
        raise DocumentError(f"the document nests deeper than {MAX_DEPTH} levels", path=path) from e
    _check_expansion(doc, path)
    return to_plain(doc, path)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, path: Path | None = None) -> Any:
    """Parse strict JSON (no NaN/Infinity) into plain data."""
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise DocumentError(
            f"not valid JSON: {e.msg}", path=path, line=e.lineno, col=e.colno
        ) from e
    except ValueError as e:
        raise DocumentError(f"not valid JSON: {e}", path=path) from e
    except RecursionError as e:
        raise DocumentError(f"the document nests deeper than {MAX_DEPTH} levels", path=path) from e
    _check_expansion(doc, path)
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
            e.line, e.col = n, None
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
        return parse_yaml(front, path) if front.strip() else {}
    if suffix in YAML_SUFFIXES or default == "yaml":
        return parse_yaml(text, path)
    return parse_json(text, path)


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
        """Read a whole (document-sized) file and record its digest."""
        shown = self.display(path)
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
                # a FIFO or device would block the gate forever
                raise BundleError(f"{role}: not a regular file", path=shown)
            size = info.st_size
            if size > MAX_DOCUMENT_BYTES:
                raise BundleError(
                    f"{role}: the file is {size:,} bytes; documents may be at most "
                    f"{MAX_DOCUMENT_BYTES:,}",
                    path=shown,
                )
            data = path.read_bytes()
        except IsADirectoryError as e:
            raise BundleError(f"{role}: expected a file, found a folder", path=shown) from e
        except FileNotFoundError as e:
            raise BundleError(f"{role}: file not found", path=shown) from e
        except OSError as e:
            raise BundleError(f"{role}: cannot read the file: {e.strerror}", path=shown) from e
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
        text = self.read_text(path, role)
        try:
            return parse_document(text, path, default=default)
        except DocumentError as e:
            e.path = self.display(path)
            raise
