"""Golden cases: every folder under tests/cases/ is a bundle with its expected decision.

The ``pass`` folder is the base: a complete bundle that passes. Every other case
folder holds only what it changes: the files it adds or replaces, a ``case.yaml``
saying in one line what it breaks and why the outcome follows (``changes:``), and
optionally ``remove:``, paths of the base it deletes. A case's bundle is the base,
minus what it removes, plus its own files (see tests/cases/README.md).

A case's expected.json holds the stable part of what `gate check` produced
(decision, exit code, findings, plan, or the error and where it points). Every
case runs on both in-process engines and must give the same decision, findings
and plan on each; only an error's wording and line may differ, and those are
kept per engine under ``by_engine``.
Regenerate after an intended change with GATE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gate.cli import cli

CASES = Path(__file__).parent / "cases"
BASE = "pass"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
# Files of a case folder that describe the case and are not part of its bundle.
META = ("case.yaml", "expected.json")


@dataclass(frozen=True)
class Spec:
    """A case's case.yaml."""

    changes: str
    remove: tuple[str, ...]


def read_spec(case: str) -> Spec:
    path = CASES / case / "case.yaml"
    assert path.is_file(), f"{case}: no case.yaml saying what the case changes"
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{case}/case.yaml: not a mapping"
    unknown = set(doc) - {"changes", "remove"}
    assert not unknown, f"{case}/case.yaml: unknown keys {sorted(unknown)}"
    changes = doc.get("changes")
    assert isinstance(changes, str) and changes.strip() and "\n" not in changes.strip(), (
        f"{case}/case.yaml: `changes:` must be one non-empty line")
    remove = doc.get("remove", [])
    assert isinstance(remove, list) and all(isinstance(r, str) for r in remove), (
        f"{case}/case.yaml: `remove:` must be a list of paths")
    return Spec(changes.strip(), tuple(remove))


def overlay_files(case: str) -> list[str]:
    """The bundle files a case adds or replaces, as paths relative to its folder."""
    root = CASES / case
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).as_posix() not in META
    )


def build_bundle(case: str, dest: Path) -> Path:
    """Copy the base to dest, delete what the case removes, then lay the case's files over it."""
    shutil.copytree(CASES / BASE, dest, ignore=shutil.ignore_patterns(*META))
    if case != BASE:
        for rel in read_spec(case).remove:
            target = dest / rel
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
        shutil.copytree(CASES / case, dest, ignore=shutil.ignore_patterns(*META),
                        dirs_exist_ok=True)
    return dest


ENGINES = ["opa-go", "regorus"]


def project(decision: dict[str, Any], plan: dict[str, Any] | None, stderr: str,
            engine: str) -> dict[str, Any]:
    """The parts of a run that must not change without a reason."""
    out: dict[str, Any] = {"decision": decision["decision"], "exit_code": decision["exit_code"]}
    if decision["error"]:
        err = decision["error"]
        out["error"] = {k: err[k] for k in ("type", "path", "pointer")}
        out["by_engine"] = {engine: {
            "line": err["line"], "stderr": stderr.strip().splitlines()[0]}}
    else:
        out["summary"] = decision["summary"]
        out["findings"] = [
            {k: f[k] for k in ("id", "effect", "severity", "message", "file", "line")}
            for f in decision["findings"]
        ]
    if plan is not None:
        out["rollback_plan"] = {
            "target": plan["target"],
            "reasons": [r["id"] for r in plan["reasons"]],
            "steps": [s.get("run") or s.get("http") for s in plan["steps"]],
        }
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASE_NAMES)
def test_case(case: str, engine: str, tmp_path: Path) -> None:
    if engine == "opa-go":
        pytest.importorskip("opa_bindings")
    bundle = build_bundle(case, tmp_path / "bundle")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["check", "--config", str(bundle / "gate.yaml"), "--output-dir", str(out),
              "--engine", engine],
        env={"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output + result.stderr
    decision = json.loads((out / "decision.json").read_text())
    plan_path = out / "rollback-plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else None
    actual = project(decision, plan, result.stderr, engine)
    assert result.exit_code == decision["exit_code"]
    expected_file = CASES / case / "expected.json"
    if os.environ.get("GATE_UPDATE_GOLDEN"):
        old = json.loads(expected_file.read_text()) if expected_file.exists() else {}
        golden = dict(actual)  # keep the other engine's entry; compare this engine's below
        if "by_engine" in actual:
            golden["by_engine"] = {**old.get("by_engine", {}), **actual["by_engine"]}
        expected_file.write_text(json.dumps(golden, indent=2) + "\n")
    expected = json.loads(expected_file.read_text())
    if "by_engine" in expected:
        expected["by_engine"] = {engine: expected["by_engine"][engine]}
    assert actual == expected


def test_base_is_complete_and_passes() -> None:
    """The base removes nothing and its golden decision is a clean pass."""
    spec = read_spec(BASE)
    assert not spec.remove, "the base is the whole bundle; it has nothing to remove"
    assert (CASES / BASE / "gate.yaml").is_file()
    expected = json.loads((CASES / BASE / "expected.json").read_text())
    assert (expected["decision"], expected["exit_code"], expected["findings"]) == ("pass", 0, [])


@pytest.mark.parametrize("case", [c for c in CASE_NAMES if c != BASE])
def test_case_says_what_it_changes(case: str) -> None:
    """Each case is described, differs from the base, and repeats none of its files."""
    spec = read_spec(case)
    base = CASES / BASE
    for rel in spec.remove:
        parts = PurePosixPath(rel).parts
        assert parts and ".." not in parts and not PurePosixPath(rel).is_absolute(), (
            f"{case}: remove {rel!r} is not a path inside the bundle")
        assert (base / rel).exists(), f"{case}: removes {rel!r}, which the base does not have"
    files = overlay_files(case)
    assert files or spec.remove, f"{case}: changes nothing, so it is the base again"
    same = [rel for rel in files if (base / rel).is_file()
            and (base / rel).read_bytes() == (CASES / case / rel).read_bytes()]
    assert not same, f"{case}: {same} are the same as the base's; delete them from the case"
