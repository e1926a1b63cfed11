"""The built-in policy library: Rego packages ``gate.<name>`` and their default data.

The library is the repository's ``policies/`` folder, shipped inside the wheel
as the package ``gate.policy_library`` (pyproject maps it with ``package-dir``;
it cannot be called ``gate.library``, which is this module), so it is read
with importlib.resources and works the same from a wheel, a zip or an editable
install. Modules are shown as ``gate-library/<name>.rego`` so findings never
name a site-packages path.

Each library module's outline (what the engine's parser says it is: package,
rules, lines, calls) is shipped beside it in ``outlines.json``, keyed by the
module's sha256, so a run does not parse the library again with regorus (most
of a cold check's work). A module whose text does not match its entry is
parsed as any other; ``python -m gate.library`` rewrites the file, and
tests/test_library.py fails while it is stale.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.documents import parse_json, parse_yaml
from gate.errors import DocumentError, GateError, ManifestError
from gate.policy.source import (
    Module,
    build_module,
    outline_from_json,
    outline_module,
    outline_to_json,
    parse_module,
)

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; importlib.abc has it since 3.9
    from importlib.abc import Traversable

RESOURCE_PACKAGE = "gate.policy_library"
PACKAGES = ("model_card", "artifacts", "lineage", "evaluation", "validation", "rollout", "drift",
            "signature")
# Packages a manifest's `library: true` leaves out: turning them on is the bundle owners'
# decision (name them in a `library:` list), so a new package never changes the verdict of
# gates that already run. `gate verify --library` and `gate doc --library` cover them.
OPT_IN = ("signature",)
DEFAULT_PACKAGES = tuple(p for p in PACKAGES if p not in OPT_IN)
DISPLAY_ROOT = "gate-library"
DEFAULTS_FILE = "data/defaults.yaml"
OUTLINES_FILE = "outlines.json"


def _root() -> Traversable:
    try:
        return resources.files(RESOURCE_PACKAGE)
    except ModuleNotFoundError as e:
        # A source checkout run without installing (PYTHONPATH=.): the folder itself.
        checkout = Path(__file__).resolve().parent.parent / "policies"
        if (checkout / DEFAULTS_FILE).is_file():
            return checkout
        raise GateError(
            f"the policy library (package {RESOURCE_PACKAGE}) is not installed",
            hint="reinstall gate; the library ships inside its wheel",
        ) from e


def _read(name: str) -> str:
    try:
        return _root().joinpath(name).read_text("utf-8")
    except OSError as e:
        raise GateError(
            f"the policy library has no {name}",
            path=f"{DISPLAY_ROOT}/{name}",
            hint="reinstall gate; the library ships inside its wheel",
        ) from e


def selected_packages(selection: bool | Sequence[str]) -> list[str]:
    """The library packages a manifest's ``library:`` value enables, in library order."""
    if selection is True:
        return list(PACKAGES)
    if selection is False:
        return []
    unknown = [name for name in selection if name not in PACKAGES]
    if unknown:
        raise ManifestError(
            f"library: unknown package '{unknown[0]}'",
            pointer="$.library",
            hint=f"choose from: {', '.join(PACKAGES)} (or `library: true` for all)",
        )
    return [name for name in PACKAGES if name in selection]


def library_modules(
    selection: bool | Sequence[str], *, include_tests: bool = False
) -> list[Module]:
    """The Rego modules of the selected packages (and their ``_test`` files if asked)."""
    modules = []
    for name in selected_packages(selection):
        files = [f"{name}.rego"] + ([f"{name}_test.rego"] if include_tests else [])
        for file in files:
            modules.append(_library_module(file, _read(file)))
    return modules


def _files() -> list[str]:
    return [file for name in PACKAGES for file in (f"{name}.rego", f"{name}_test.rego")
            if _root().joinpath(file).is_file()]


@lru_cache(maxsize=64)
def _library_module(file: str, text: str) -> Module:
    shown = f"{DISPLAY_ROOT}/{file}"
    entry = _shipped_outlines().get(file)
    if isinstance(entry, dict) and entry.get("sha256") == _sha256(text):
        try:
            outline = outline_from_json(entry["outline"])
        except (KeyError, TypeError, ValueError):
            pass  # a damaged entry: the engine's own parse below is always right
        else:
            return build_module(text, shown, outline)
    return parse_module(text, shown)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def _shipped_outlines() -> dict[str, Any]:
    try:
        doc = parse_json(_root().joinpath(OUTLINES_FILE).read_text("utf-8"))
    except (OSError, ValueError, DocumentError):
        return {}  # not shipped or damaged: every module is parsed, as any other
    modules = doc.get("modules") if isinstance(doc, dict) else None
    return modules if isinstance(modules, dict) else {}


def outline_table() -> dict[str, Any]:
    """The outline of every library module (tests included) by the engines' parsers now
    installed: what ``outlines.json`` must hold."""
    modules = {}
    for file in _files():
        text = _read(file)
        outline = outline_module(text, f"{DISPLAY_ROOT}/{file}")
        modules[file] = {"sha256": _sha256(text), "outline": outline_to_json(outline)}
    return {"about": "each library module's parse, keyed by its sha256; "
                     "regenerate with `python -m gate.library`",
            "modules": modules}


def render_outline_table() -> str:
    """``outlines.json`` as written: stable key order, one module to a line."""
    table = outline_table()
    lines = [f" {json.dumps(file)}: {json.dumps(entry, sort_keys=True)}"
             for file, entry in sorted(table["modules"].items())]
    return (f'{{"about": {json.dumps(table["about"])},\n"modules": {{\n'
            + ",\n".join(lines) + "\n}}\n")


@cache
def library_digests() -> frozenset[str]:
    """The sha256 of every Rego module the library ships (tests included). Its modules are
    gate's own: tests/test_engines.py checks that regorus and OPA read each one alike."""
    return frozenset(_sha256(_read(file)) for file in _files())


def _data_file(name: str) -> dict[str, Any]:
    try:
        doc = parse_yaml(_read(name))
    except DocumentError as e:
        e.path = f"{DISPLAY_ROOT}/{name}"
        raise
    if not isinstance(doc, dict):
        raise GateError("the library defaults are not a mapping",
                        path=f"{DISPLAY_ROOT}/{name}")
    return doc


@cache
def _defaults() -> dict[str, Any]:
    """defaults.yaml, with a package's own data/<package>.yaml beside it where there is one."""
    doc = _data_file(DEFAULTS_FILE)
    for name in PACKAGES:
        own = f"data/{name}.yaml"
        if not _root().joinpath(own).is_file():
            continue
        part = _data_file(own)
        clash = set(part.get("gate") or {}) & set(doc.get("gate") or {})
        if clash:
            raise GateError(f"the library sets data.gate.{sorted(clash)[0]} twice",
                            path=f"{DISPLAY_ROOT}/{own}",
                            hint="keep each package's defaults in one file")
        doc = merge_overrides(doc, part)
    return doc


def library_defaults() -> dict[str, Any]:
    """policies/data/defaults.yaml: every library threshold, under the key ``gate``."""
    return copy.deepcopy(_defaults())


def merge_overrides(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """``user`` deep-merged over ``defaults``: mappings merge key by key, any other value
    (a list included) is replaced by the user's. Neither argument is modified."""
    merged: dict[str, Any] = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        base = merged.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_overrides(base, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


if __name__ == "__main__":  # python -m gate.library: rewrite policies/outlines.json
    target = Path(__file__).resolve().parent.parent / "policies" / OUTLINES_FILE
    target.write_text(render_outline_table(), "utf-8")
    sys.stdout.write(f"wrote {target.name}: {len(_files())} modules\n")
