"""One gate for a whole repository of models: many bundles in one run.

`gate check` takes bundle folders, manifests and globs (``models/*``), or
``--all`` (every gate.yaml under the repository), and ``--changed-since REF``
keeps the bundles a change touches. Each bundle is judged exactly as a run of
its own would judge it (the same ``run_check``), into
``<output-dir>/<bundle path>/`` (decision.json, the rollback plan); the run
writes ``<output-dir>/index.json`` listing every bundle, and one combined
report per requested format (gate.reports.batch). The exit code is the worst
bundle's; a bundle that cannot be read is an error for that bundle and does
not stop the others.

Policies are compiled once per distinct policy set (gate.pipeline's
``PREPARED``), so bundles that share the library and their thresholds pay
for evaluation only. With ``-j N`` the bundles are shared out to N worker
processes, each with its own compiled policies; they are started with
``spawn``, since OPA's Go runtime does not survive a ``fork``.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from gate.decision import CheckReport
from gate.errors import UsageError
from gate.manifest import DEFAULT_NAMES, manifest_in
from gate.names import DECISION_FILE
from gate.pipeline import CheckOptions, run_check

INDEX_KIND = "gate.index"
# Folders never searched by --all: tools' own trees, and gate's reports.
_SKIP = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox",
         "site-packages", "gate-report", ".gitlab-ci-local"}
_GLOB = set("*?[")
CHUNK = 25  # bundles per task handed to a worker: few enough to balance, many to amortise


@dataclass(frozen=True)
class BundleResult:
    """One bundle of the run: where it is (relative to the repository) and its report."""

    path: str  # the bundle folder, relative to the repository root ("." for the root)
    manifest: str
    report: CheckReport
    out_dir: str  # where its decision.json and plan went, as the user names the folder


@cache
def repo_root(cwd: Path) -> Path:
    """The git work tree's top, else the working directory (asked of git once per folder:
    finding, filtering and placing the bundles all need it)."""
    try:
        proc = subprocess.run(["git", "-C", str(cwd), "rev-parse", "--show-toplevel"],
                              capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        return cwd
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else cwd


def find_manifests(paths: Sequence[str], *, all_bundles: bool, cwd: Path,
                   skip: Iterable[Path] = ()) -> list[Path]:
    """The manifests ``paths`` name (folders, manifests, globs), or all of them with ``all``."""
    found: list[Path] = []
    if all_bundles:
        root = repo_root(cwd)
        skipped = {p.resolve() for p in skip}
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith(".")
                             and (here / d).resolve() not in skipped)
            found += [here / name for name in DEFAULT_NAMES if name in files][:1]
    for raw in paths:
        if _GLOB & set(raw):
            matches = sorted(cwd.glob(raw)) if not Path(raw).is_absolute() else \
                sorted(Path("/").glob(raw.lstrip("/")))
            hits = [m for m in (p if p.is_file() else manifest_in(p) for p in matches) if m]
            if not hits:
                raise UsageError(f"{raw} matches no bundle", hint="a bundle is a folder with "
                                 "gate.yaml, or the manifest itself")
            found += hits
            continue
        path = cwd / raw
        if path.is_dir():
            manifest = manifest_in(path)
            if manifest is None:
                raise UsageError(f"no gate.yaml in the folder {raw}", path=raw)
            found.append(manifest)
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{raw} does not exist", path=raw,
                             hint="name bundle folders, manifests or globs (models/*)")
    unique: dict[Path, None] = {}
    for manifest in found:
        unique.setdefault(manifest.resolve(), None)
    return list(unique)


def bundles_of_files(files: Sequence[str], cwd: Path) -> list[Path]:
    """The bundles that hold these files (as pre-commit passes changed files): for each,
    the nearest folder above it with a gate.yaml, within the repository. Files in no
    bundle are left out."""
    root = repo_root(cwd).resolve()
    found: dict[Path, None] = {}
    for name in files:
        folder = (cwd / name).resolve().parent
        while True:
            manifest = manifest_in(folder)
            if manifest is not None:
                found.setdefault(manifest.resolve(), None)
                break
            if folder in (root, folder.parent) or not folder.is_relative_to(root):
                break
            folder = folder.parent
    return list(found)


def changed_files(ref: str, cwd: Path) -> list[Path]:
    """Files that differ from ``ref`` (committed, staged, in the work tree, or untracked)."""
    root = repo_root(cwd)
    diff = subprocess.run(["git", "-C", str(root), "diff", "--name-only", "--no-renames", ref],
                          capture_output=True, text=True, timeout=120, check=False)
    if diff.returncode != 0:
        raise UsageError(f"--changed-since {ref}: git cannot compare with this ref: "
                         f"{diff.stderr.strip().splitlines()[-1] if diff.stderr.strip() else ''}",
                         hint="fetch it first (git fetch origin main) and name it as git does")
    untracked = subprocess.run(["git", "-C", str(root), "ls-files", "--others",
                                "--exclude-standard"], capture_output=True, text=True,
                               timeout=120, check=False)
    names = diff.stdout.splitlines() + untracked.stdout.splitlines()
    return [(root / n).resolve() for n in dict.fromkeys(n for n in names if n)]


def changed_bundles(manifests: Callable[[], Sequence[Path]], ref: str, cwd: Path,
                    governing: Sequence[str] = (), *, every_bundle: bool = False,
                    skip: Iterable[Path] = ()) -> list[Path]:
    """The bundles with a changed file inside, or all of ``manifests()`` when a governing
    file that the command line names (--policy, --data, a trusted bundle) changed.

    With ``every_bundle`` (``--all``) the candidates are every bundle in the repository, so
    the bundles are found from the changed files upward instead of walking the whole tree:
    a change to 3 bundles of 1000 costs 3 lookups, not a scan."""
    changed = changed_files(ref, cwd)
    shared = [(cwd / g).resolve() for g in governing]
    if any(c == s or c.is_relative_to(s) for c in changed for s in shared):
        return list(manifests())
    if every_bundle:
        return _enclosing_manifests(changed, cwd, skip)
    return [m for m in manifests() if any(c.is_relative_to(m.parent) for c in changed)]


def _enclosing_manifests(files: Sequence[Path], cwd: Path, skip: Iterable[Path]) -> list[Path]:
    """Every bundle that holds one of ``files`` (an outer bundle too), within the folders
    that ``--all`` walks (no hidden, vendored or skipped folders), in repository order."""
    root = repo_root(cwd).resolve()
    skipped = [s.resolve() for s in skip]
    found: dict[Path, None] = {}
    for file in files:
        relative = file.relative_to(root).parts[:-1] if file.is_relative_to(root) else None
        if relative is None or any(p in _SKIP or p.startswith(".") for p in relative):
            continue
        for depth in range(len(relative), -1, -1):
            manifest = manifest_in(root.joinpath(*relative[:depth]))
            if manifest is not None and not any(manifest.is_relative_to(s) for s in skipped):
                found.setdefault(manifest.resolve(), None)
    return sorted(found, key=lambda m: m.parent.relative_to(root).parts)


def bundle_path(manifest: Path, root: Path) -> str:
    """The bundle folder relative to the repository root, as a POSIX path."""
    folder = manifest.parent.resolve()
    try:
        rel = folder.relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = folder.as_posix().lstrip("/")
    return rel or "."


def _judge(task: tuple[CheckOptions, list[tuple[str, str, str]]]) -> list[BundleResult]:
    """Judge bundles one after the other, writing each one's decision.json and plan."""
    from gate.reports.write import write_outputs

    template, bundles = task
    results = []
    for manifest, path, out_dir in bundles:
        opts = replace(template, config=manifest, output_dir=out_dir)
        report = run_check(opts)
        report = write_outputs(report, opts.cwd / out_dir, [], stdout=io.StringIO(),
                               env=opts.env)
        results.append(BundleResult(path, manifest, report, out_dir))
    return results


def run_batch(manifests: Sequence[Path], template: CheckOptions, *,
              jobs: int | None = None) -> list[BundleResult]:
    """Judge every bundle; ``jobs`` worker processes when there are enough bundles to pay."""
    root = repo_root(template.cwd)
    work: list[tuple[str, str, str]] = []
    for manifest in manifests:
        path = bundle_path(manifest, root)
        out_dir = str(Path(template.output_dir) / (path if path != "." else "root"))
        work.append((str(manifest), path, out_dir))
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(work) < 2 * CHUNK:
        return _judge((template, work))
    chunks = [(template, work[i:i + CHUNK]) for i in range(0, len(work), CHUNK)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        return [r for chunk in pool.map(_judge, chunks) for r in chunk]


def worst_exit(results: Sequence[BundleResult]) -> int:
    """The run's exit code: 2 if any bundle could not be judged, else 1 if any blocks."""
    codes = {r.report.exit_code for r in results}
    return 2 if 2 in codes else (1 if 1 in codes else 0)


def index(results: Sequence[BundleResult]) -> dict[str, Any]:
    """index.json: every bundle, its verdict, and where its decision and plan are."""
    bundles = []
    for r in results:
        plan = r.report.rollback_plan if r.report.rollback_plan and \
            "path" in r.report.rollback_plan else None
        bundles.append({
            "path": r.path,
            "manifest": r.manifest,
            "model": dict(r.report.model),
            "decision": r.report.outcome,
            "exit_code": r.report.exit_code,
            "decision_file": str(Path(r.out_dir) / DECISION_FILE),
            "rollback_plan": str(plan["path"]) if plan else None,
            "rollback_plan_sha256": str(plan["sha256"]) if plan else None,
            "summary": r.report.summary(),
        })
    code = worst_exit(results)
    outcome = {0: "pass", 1: "fail", 2: "error"}[code]
    if code == 0 and any(r.report.outcome == "warn" for r in results):
        outcome = "warn"
    return {"kind": INDEX_KIND, "version": 1, "decision": outcome, "exit_code": code,
            "bundles": bundles}
