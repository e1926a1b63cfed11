"""Finding the run's Rego modules and merging its data documents into ``data``.

The walk of a policy or data folder fails closed. Every entry it cannot
judge is an error naming it, never a file quietly left out (a left-out data
document silently drops its thresholds): a folder it cannot list, a symlink
whose target is missing or loops, a named pipe or device named like a policy
or data document, an empty data document, a folder nested past MAX_DEPTH.

Symlinks are confined like every bundle path: a folder inside the bundle may
only link inside the bundle. A folder named on the command line (``--policy``,
``--data``) lies outside the bundle by design; links inside it may only point
inside it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gate.documents import MAX_DOCUMENT_BYTES, InputFiles
from gate.errors import PolicyError, json_path
from gate.fsutil import FileTooLarge, NotRegularFile, file_kind, read_regular
from gate.policy.source import Module, parse_module

DATA_SUFFIXES = {".json", ".yaml", ".yml"}
REGO_SUFFIXES = {".rego"}
MAX_DEPTH = 32  # folders below a policy or data root


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _walk(files: InputFiles, root: Path, suffixes: set[str], what: str) -> list[Path]:
    """Every file under ``root`` (a resolved file or folder) whose suffix is wanted, sorted."""
    lexical = Path(os.path.normpath(root.absolute()))
    shown_root = files.display(root)
    try:
        real_root = root.resolve(strict=True)
        mode = real_root.stat().st_mode
    except (OSError, RuntimeError) as e:
        why = getattr(e, "strerror", None) or str(e)
        raise PolicyError(f"{what}: cannot read '{shown_root}': {why}", path=shown_root) from e
    if files.contains(lexical) and not files.contains(real_root):
        raise PolicyError(f"{what}: '{shown_root}' resolves outside the bundle folder",
                          path=shown_root,
                          hint="copy the files into the bundle instead of linking to them")
    root = real_root
    if not stat.S_ISDIR(mode):
        return [root]  # named explicitly: reading it refuses a pipe or device
    base = files.root if files.contains(root) else root
    where = "the bundle folder" if base == files.root else f"the folder {shown_root}"
    found: list[Path] = []
    seen = {root}
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            raise PolicyError(
                f"{what}: cannot list the folder: {e.strerror or e}", path=files.display(folder),
                hint="make the folder readable by the user gate runs as; a folder the gate "
                "cannot read would leave its policies or data out",
            ) from e
        for entry in entries:
            real = _entry(files, folder, entry, suffixes, what, base, where)
            if real is None:
                continue
            if real.is_dir():
                if real in seen:
                    continue  # a link back to a folder already walked adds nothing
                if depth + 1 > MAX_DEPTH:
                    raise PolicyError(f"{what}: folders nest deeper than {MAX_DEPTH} levels",
                                      path=_shown(files, folder, entry.name),
                                      hint="flatten the folder")
                seen.add(real)
                stack.append((real, depth + 1))
            else:
                found.append(real)
    return sorted(found)


def _entry(files: InputFiles, folder: Path, entry: os.DirEntry[str], suffixes: set[str],
           what: str, base: Path, where: str) -> Path | None:
    """The resolved folder or wanted file an entry is; None to skip it; PolicyError if
    it cannot be judged (hidden entries are skipped, as conftest does)."""
    if entry.name.startswith("."):
        return None
    path = Path(entry.path)
    shown = _shown(files, folder, entry.name)
    wanted = path.suffix.lower() in suffixes
    real, mode = _target(entry, path, shown, what)
    if real != path and not _inside(real, base):
        if wanted or stat.S_ISDIR(mode):
            raise PolicyError(
                f"{what}: '{shown}' is a symlink that resolves outside {where}",
                path=shown, hint="copy the file into the folder instead of linking to it",
            )
        return None  # not read, so not an escape
    if stat.S_ISDIR(mode):
        return real
    if not wanted:
        return None
    if not stat.S_ISREG(mode):
        raise PolicyError(
            f"{what}: '{shown}' is {file_kind(mode)}, not a regular file",
            path=shown, hint="policies and data documents must be regular files",
        )
    return real


def _shown(files: InputFiles, folder: Path, name: str) -> str:
    return f"{files.display(folder)}/{name}"


def _target(entry: os.DirEntry[str], path: Path, shown: str, what: str) -> tuple[Path, int]:
    """(resolved path, mode) of a folder entry; a dangling or looping symlink is an error."""
    try:
        if not entry.is_symlink():
            return path, entry.stat(follow_symlinks=False).st_mode
        real = path.resolve(strict=True)
        return real, real.stat().st_mode
    except FileNotFoundError as e:
        raise PolicyError(f"{what}: '{shown}' is a symlink to a file that does not exist",
                          path=shown, hint="remove the link or restore its target") from e
    except (OSError, RuntimeError) as e:  # ELOOP; RuntimeError: a loop on older Pythons
        why = getattr(e, "strerror", None) or str(e)
        raise PolicyError(f"{what}: cannot resolve '{shown}': {why}", path=shown,
                          hint="remove the link or point it at a regular file") from e


def is_test_file(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def _read(file: Path, shown: str, what: str) -> bytes:
    try:
        return read_regular(file, MAX_DOCUMENT_BYTES)
    except NotRegularFile as e:
        raise PolicyError(f"{what}: '{shown}' is {e.kind}, not a regular file", path=shown,
                          hint="name a regular file") from e
    except FileTooLarge as e:
        raise PolicyError(f"{what}: {e}", path=shown) from e
    except OSError as e:
        raise PolicyError(f"{what}: cannot read the file: {e.strerror or e}", path=shown,
                          hint="make the file readable by the user gate runs as") from e


def collect_modules(
    files: InputFiles, paths: Iterable[Path], *, include_tests: bool = False
) -> list[Module]:
    """Every .rego file under ``paths`` (already resolved), sorted, each read once."""
    modules: list[Module] = []
    seen: set[Path] = set()
    for root in paths:
        for file in _walk(files, root, REGO_SUFFIXES, "policies"):
            if file in seen or (is_test_file(file) and not include_tests):
                continue
            seen.add(file)
            shown = files.display(file)
            data = _read(file, shown, "policy")
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as e:
                raise PolicyError(f"not UTF-8 text (byte {e.start})", path=shown) from e
            module = parse_module(text, shown)
            # the digest of the file's bytes, as for every file read (a BOM is not in the text)
            files.record(shown, "policy", hashlib.sha256(data).hexdigest(), len(data))
            modules.append(module)
    return modules


def merge_data(target: dict[str, Any], doc: Any, shown: str, prefix: str = "data",
               at: tuple[str, ...] = ()) -> None:
    """Deep-merge one data document into ``target``; a conflicting leaf is an error.

    ``prefix`` is the Rego reference of ``doc`` (``data.floors``), ``at`` its keys in the file.
    """
    if not isinstance(doc, dict):
        raise PolicyError(
            "a data document must be a mapping at the top level", path=shown,
            hint="wrap the values in a key, e.g. `thresholds: {...}`",
        )
    for key, value in doc.items():
        here = f"{prefix}.{key}"
        if key in target and isinstance(target[key], dict) and isinstance(value, dict):
            merge_data(target[key], value, shown, here, (*at, key))
        elif key in target and target[key] != value:
            raise PolicyError(
                f"{here} is defined by more than one data document with different values",
                path=shown, pointer=json_path([*at, key]),
                hint="give each value one home, or use distinct keys",
            )
        else:
            target[key] = value


def collect_data(files: InputFiles, paths: Iterable[Path]) -> dict[str, Any]:
    """All data documents under ``paths``, merged at the root of ``data`` (as conftest does).

    An empty document (no bytes, only comments, or a bare ``null``) is an
    error: a data file emptied by mistake must not silently drop its thresholds.
    """
    data: dict[str, Any] = {}
    for root in paths:
        for file in _walk(files, root, DATA_SUFFIXES, "policy data"):
            doc = files.load_path(file, "policy data")
            shown = files.display(file)
            if doc is None:
                raise PolicyError(
                    "the data document is empty", path=shown,
                    hint="write the data the policies need, or `{}` if the file is "
                    "deliberately empty, or remove it",
                )
            merge_data(data, doc, shown)
    return data
