"""Which Rego modules and data documents a run loads: one answer for check, rollout and verify.

A manifest names its policy folders (``policies:``, default ``policies/``,
which may be absent when the bundle uses only the library), its data
documents (``data:``) and the library packages it enables (``library:``).
The command line may replace the policies (``--policy``) and add data
(``--data``). The library's modules come first and its default data is the
base that the bundle's data documents override key by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gate.errors import ManifestError, UsageError
from gate.manifest import Manifest
from gate.policy.loader import collect_data, collect_modules
from gate.policy.source import Module


def _paths(cli: Sequence[str], cwd: Path, what: str) -> list[Path]:
    out = []
    for p in cli:
        path = (cwd / p).resolve()
        if not path.exists():
            raise UsageError(f"{what} '{p}' does not exist", path=p)
        out.append(path)
    return out


def manifest_policy_roots(manifest: Manifest) -> list[Path]:
    """The manifest's policy folders; the default ``policies/`` may be absent."""
    if not manifest.policies_explicit and not (manifest.root / "policies").exists():
        return []
    return [manifest.files.resolve(p, "policies") for p in manifest.policies]


def policy_paths(manifest: Manifest, cli: Sequence[str], cwd: Path) -> list[Path]:
    """The Rego files/folders of this run: ``--policy`` if given, else the manifest's."""
    if cli:
        return _paths(cli, cwd, "--policy")
    return manifest_policy_roots(manifest)


def data_paths(manifest: Manifest, cli: Sequence[str], cwd: Path) -> list[Path]:
    """The data documents of this run: the manifest's, plus any ``--data``."""
    paths = [manifest.files.resolve(p, "data") for p in manifest.data]
    return paths + _paths(cli, cwd, "--data")


def with_library(
    modules: list[Module],
    data: dict[str, Any],
    selection: bool | Sequence[str],
    *,
    include_tests: bool = False,
    manifest_name: str | None = None,
) -> tuple[list[Module], dict[str, Any]]:
    """``modules`` and ``data`` with the library packages ``selection`` enables put first,
    and the library's default data under the bundle's (which wins key by key)."""
    if not selection:
        return modules, data
    from gate.library import library_defaults, library_modules, merge_overrides

    try:
        library = library_modules(selection, include_tests=include_tests)
    except ManifestError as e:
        e.path = e.path or manifest_name
        raise
    return library + modules, merge_overrides(library_defaults(), data)


def load_policies(
    manifest: Manifest,
    *,
    policy_paths_cli: Sequence[str] = (),
    data_paths_cli: Sequence[str] = (),
    cwd: Path | None = None,
    include_tests: bool = False,
) -> tuple[list[Module], dict[str, Any]]:
    """The run's Rego modules (library first) and its merged ``data`` document."""
    cwd = cwd or Path.cwd()
    modules = collect_modules(manifest.files, policy_paths(manifest, policy_paths_cli, cwd),
                              include_tests=include_tests)
    data = collect_data(manifest.files, data_paths(manifest, data_paths_cli, cwd))
    return with_library(modules, data, manifest.library, manifest_name=manifest.path.name)
