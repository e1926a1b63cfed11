"""Finding the run's Rego modules and merging its data documents into ``data``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gate.documents import InputFiles
from gate.errors import PolicyError
from gate.policy.source import Module, load_module

DATA_SUFFIXES = {".json", ".yaml", ".yml"}


def _walk(path: Path, suffixes: set[str]) -> list[Path]:
    if path.is_file():
        return [path]
    found = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.suffix.lower() in suffixes and not any(
            part.startswith(".") for part in p.relative_to(path).parts
        )
    ]
    return found


def is_test_file(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def collect_modules(
    files: InputFiles, paths: Iterable[Path], *, include_tests: bool = False
) -> list[Module]:
    """Every .rego file under ``paths`` (already resolved), sorted, each read once."""
    modules: list[Module] = []
    seen: set[Path] = set()
    for root in paths:
        for file in _walk(root, {".rego"}):
            if file in seen or (is_test_file(file) and not include_tests):
                continue
            seen.add(file)
            shown = files.display(file)
            module = load_module(file, shown)
            files.record(shown, "policy", module.sha256, len(module.text.encode("utf-8")))
            modules.append(module)
    return modules


def merge_data(target: dict[str, Any], doc: Any, shown: str, prefix: str = "data") -> None:
    """Deep-merge one data document into ``target``; a conflicting leaf is an error."""
    if not isinstance(doc, dict):
        raise PolicyError(
            "a data document must be a mapping at the top level", path=shown,
            hint="wrap the values in a key, e.g. `thresholds: {...}`",
        )
    for key, value in doc.items():
        here = f"{prefix}.{key}"
        if key in target and isinstance(target[key], dict) and isinstance(value, dict):
            merge_data(target[key], value, shown, here)
        elif key in target and target[key] != value:
            raise PolicyError(
                f"{here} is defined by more than one data document with different values",
                path=shown, pointer=here,
                hint="give each value one home, or use distinct keys",
            )
        else:
            target[key] = value


def collect_data(files: InputFiles, paths: Iterable[Path]) -> dict[str, Any]:
    """All data documents under ``paths``, merged at the root of ``data`` (as conftest does)."""
    data: dict[str, Any] = {}
    for root in paths:
        for file in _walk(root, DATA_SUFFIXES):
            doc = files.load_path(file, "policy data")
            if doc is None:
                continue
            merge_data(data, doc, files.display(file))
    return data
