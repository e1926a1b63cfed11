"""Where a finding points, as paths a CI platform can link: shared by the CI report formats.

A finding names the policy (or suite) that produced it, relative to the
manifest's folder. It may also point into an input file: a ``_loc`` detail
(``"reports/eval.json"``, ``"reports/eval.json:3"``, or ``{"file", "line"?,
"column"?, "path"?}`` where ``path`` is a JSON path or pointer inside the
file), or a detail (``file``, ``path``, ``artifact``, ``data``) whose value is
an input file the gate read. CI platforms want paths relative to the
repository, so every path is rebased from the manifest's folder onto the
repository root: $GITHUB_WORKSPACE, $CI_PROJECT_DIR, or else the working
directory.

A ``_loc`` comes from a policy, so it is confined like every bundle path: an
absolute path, or one that leaves the bundle folder by ``..`` or a symlink, is
ignored (the finding is shown at its policy), and its file is never read — so
a line number cannot reveal what an outside file holds. Reading a bundle file
for a line never blocks (see gate.reports.lines); a bad ``_loc`` is no line.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.decision import CheckReport, Finding
from gate.library import DISPLAY_ROOT
from gate.reports.lines import line_of

LOC_KEY = "_loc"
LIBRARY_ROOT = DISPLAY_ROOT  # how gate.library names its modules
_INPUT_KEYS = ("file", "path", "artifact", "data")


@dataclass(frozen=True)
class Location:
    """A file (relative to the repository root), and where inside it if known."""

    path: str
    line: int | None = None
    column: int | None = None
    pointer: str | None = None  # a JSON path / pointer inside the file
    in_repo: bool = True  # False for the built-in library's policies (not the user's files)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def rebase(report: CheckReport, file: str, base: Path) -> str:
    """``file`` (relative to the manifest's folder, or absolute) relative to ``base``, POSIX.

    A file outside ``base`` keeps its absolute path: no CI platform can link it anyway,
    and ``../..`` chains only hide where it is.
    """
    path = Path(file)
    if not path.is_absolute():
        if report.root is None:
            return path.as_posix()
        path = Path(report.root) / path
    path = Path(os.path.normpath(path))
    for candidate in (path, path.resolve()):  # the checkout may be reached through a symlink
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _parse_loc(loc: Any) -> tuple[str, int | None, int | None, str | None] | None:
    if isinstance(loc, str) and loc:
        file, sep, line = loc.rpartition(":")
        if sep and file and line.isdigit() and int(line) > 0:
            return file, int(line), None, None
        return loc, None, None, None
    if isinstance(loc, Mapping) and isinstance(loc.get("file"), str) and loc["file"]:
        pointer = loc.get("path", loc.get("pointer"))
        return (loc["file"], _positive(loc.get("line")), _positive(loc.get("column")),
                pointer if isinstance(pointer, str) and pointer else None)
    return None


def input_location(report: CheckReport, finding: Finding, base: Path) -> Location | None:
    """The input file the finding is about, if it says so (``_loc``) or names one it read."""
    parsed = _parse_loc(finding.details.get(LOC_KEY))
    if parsed is None:
        known = {r.path for r in report.inputs if r.role != "policy"}
        for key in _INPUT_KEYS:
            value = finding.details.get(key)
            if isinstance(value, str) and value in known:
                parsed = (value, None, None, None)
                break
    if parsed is None:
        return None
    file, line, column, pointer = parsed
    confined = bundle_file(report, file)
    if confined is None:
        return None
    if line is None and pointer and confined.exists():
        line = line_of(confined, pointer)
    return Location(rebase(report, file, base), line, column, pointer)


def bundle_file(report: CheckReport, file: str) -> Path | None:
    """The path of ``file`` (relative to the manifest's folder) if it stays in the bundle.

    None for an absolute path, a NUL byte, a ``..`` that leaves the folder, or a
    symlink that resolves outside it; a file that does not exist stays (as no line).
    """
    if report.root is None or "\x00" in file:
        return None
    root = Path(report.root).resolve()
    candidate = Path(file)
    if candidate.is_absolute():
        return None
    lexical = Path(os.path.normpath(root / candidate))
    if lexical != root and root not in lexical.parents:
        return None
    try:
        real = lexical.resolve()  # non-strict: a missing file resolves as far as it exists
    except (OSError, RuntimeError, ValueError):
        return None
    return real if real == root or root in real.parents else None


def policy_location(report: CheckReport, finding: Finding, base: Path) -> Location | None:
    """The policy (or suite) file and line that produced the finding.

    A policy of gate's built-in library (``gate-library/<name>.rego``) lives in
    the installed package, not in the repository: it keeps that name and is
    marked ``in_repo=False`` so no report links it as a repository file.
    """
    if not finding.file:
        return None
    if finding.file.startswith(LIBRARY_ROOT + "/"):
        return Location(finding.file, _positive(finding.line), in_repo=False)
    return Location(rebase(report, finding.file, base), _positive(finding.line))


def manifest_location(report: CheckReport, base: Path) -> Location | None:
    """gate.yaml itself: the place to point at when nothing more precise is known."""
    return Location(rebase(report, report.manifest, base)) if report.manifest else None


def primary_location(report: CheckReport, finding: Finding, base: Path) -> Location | None:
    """Where a CI platform should show the finding: a repository file.

    The input it points into, else the policy that reported it, else (for the
    built-in library's rules, which are configured there) gate.yaml.
    """
    policy = policy_location(report, finding, base)
    return (input_location(report, finding, base)
            or (policy if policy is not None and policy.in_repo else None)
            or manifest_location(report, base))


def public_details(finding: Finding) -> dict[str, Any]:
    """The finding's details without gate's own underscore keys (``_loc``)."""
    return {k: v for k, v in finding.details.items() if not k.startswith("_")}


def fingerprint(finding: Finding, where: Location | None) -> str:
    """Stable across runs for the same finding at the same place (SARIF's partial
    fingerprint, GitLab's code-quality fingerprint): its id, message and location."""
    key = "\x1f".join([finding.id, finding.message, where.path if where else "",
                       str(where.line or "") if where else ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
