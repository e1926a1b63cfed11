"""A change cannot weaken its own gate: governance comes from a trusted place.

Each test builds a real git repository with a base branch holding the failing
example and a change on top of it, then runs `gate check --trusted-ref main` in
the change's working tree, as a merge-request pipeline does.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.governance.trusted import tree_digest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                                           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
                                           "HOME": str(repo), "PATH": "/usr/bin:/bin"})
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: the failing example at models/fraud; HEAD: a branch 'change' off it."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "failing", root / "models" / "fraud")
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "change")
    return root


def check(repo: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    bundle = repo / "models" / "fraud"
    out = repo.parent / "out"
    result = CliRunner().invoke(cli, ["check", "--config", str(bundle / "gate.yaml"),
                                      "--output-dir", str(out), *args], env=ENV)
    return result, json.loads((out / "decision.json").read_text())


def ids(doc: dict[str, Any], effect: str | None = None) -> list[str]:
    return sorted(f["id"] for f in doc["findings"] if effect in (None, f["effect"]))


def base_verdict(repo: Path) -> dict[str, Any]:
    """The verdict on main's bundle (the change has not edited anything yet)."""
    assert not git(repo, "status", "--porcelain")
    return check(repo)[1]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_lowered_thresholds_still_get_the_base_verdict(repo: Path) -> None:
    base = base_verdict(repo)
    thresholds = repo / "models" / "fraud" / "policies" / "data" / "thresholds.yaml"
    thresholds.write_text("gate: {}\n")  # the change removes every threshold
    _, weakened = check(repo)
    assert ids(weakened, "fail") != ids(base, "fail")  # the change alone would weaken it
    result, doc = check(repo, "--trusted-ref", "main")
    assert result.exit_code == 1
    assert [i for i in ids(doc, "fail") if i != "GATE-GOV-001"] == ids(base, "fail")
    (gov,) = [f for f in doc["findings"] if f["id"] == "GATE-GOV-001"]
    assert gov["details"]["changed"] == ["policies/data/thresholds.yaml (modified)"]
    assert doc["governance"]["source"].startswith("git ref main (")
    assert any(r["path"] == "trusted:policies/data/thresholds.yaml" for r in doc["inputs"])


@pytest.mark.parametrize("change", [
    ("gate.yaml", "library: true ", "library: false "),
    ("gate.yaml", "exceptions: exceptions.yaml", "exceptions: none.yaml"),
    ("exceptions.yaml", "rule: GATE-EVAL-003", "rule: GATE-*"),
])
def test_governance_edits_are_listed_and_never_used(repo: Path,
                                                    change: tuple[str, str, str]) -> None:
    base = base_verdict(repo)
    name, old, new = change
    edit(repo / "models" / "fraud" / name, old, new)
    result, doc = check(repo, "--trusted-ref", "main")
    assert result.exit_code == 1
    assert [i for i in ids(doc, "fail") if i != "GATE-GOV-001"] == ids(base, "fail")
    assert ids(doc, "waived") == ids(base, "waived")
    (gov,) = [f for f in doc["findings"] if f["id"] == "GATE-GOV-001"]
    assert gov["effect"] == "fail" and gov["details"]["changed"]


def test_an_edited_rego_rule_is_judged_by_the_base_version(repo: Path) -> None:
    bundle = repo / "models" / "fraud"
    (bundle / "policies" / "strict.rego").write_text(
        'package strict\n\ndeny contains "never ships" if true\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "strict rule on main")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "change")
    git(repo, "checkout", "-q", "change")
    (bundle / "policies" / "strict.rego").write_text(
        'package strict\n\ndeny contains "never ships" if false\n')
    _, untrusted = check(repo)
    assert "strict.deny" not in [f["rule"] for f in untrusted["findings"]]
    result, doc = check(repo, "--trusted-ref", "main")
    assert result.exit_code == 1
    assert "strict.deny" in [f["rule"] for f in doc["findings"]]
    (gov,) = [f for f in doc["findings"] if f["id"] == "GATE-GOV-001"]
    assert gov["details"]["changed"] == ["policies/strict.rego (modified)"]


def test_a_new_model_gets_the_trusted_defaults_and_asks_for_sign_off(repo: Path) -> None:
    shutil.copytree(EXAMPLES / "passing", repo / "models" / "new")
    bundle = repo / "models" / "new"
    (bundle / "gate.yaml").write_text((bundle / "gate.yaml").read_text()
                                      .replace("library: true", "library: [model_card]"))
    result = CliRunner().invoke(cli, ["check", "--config", str(bundle / "gate.yaml"),
                                      "--output-dir", str(repo.parent / "out"),
                                      "--trusted-ref", "main"], env=ENV)
    doc = json.loads((repo.parent / "out" / "decision.json").read_text())
    assert result.exit_code == 1
    assert doc["governance"]["new_model"] is True
    assert "GATE-GOV-002" in ids(doc, "fail")
    # Every library package ran, not only the one the new gate.yaml asked for.
    packages = {r["rule"].split(".")[1] for r in doc["rules"] if r["rule"].startswith("gate.")}
    assert {"artifacts", "evaluation", "lineage", "model_card"} <= packages


def test_an_unreadable_ref_is_exit_2(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--config",
                                      str(repo / "models" / "fraud" / "gate.yaml"),
                                      "--output-dir", str(repo.parent / "out"),
                                      "--trusted-ref", "origin/nope"], env=ENV)
    assert result.exit_code == 2
    assert "--trusted-ref origin/nope: git cannot read this ref" in result.stderr


def test_a_pinned_bundle_folder_or_archive(repo: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    trusted = tmp_path / "trusted"
    git(repo, "worktree", "add", "-q", str(trusted), "main")
    shutil.rmtree(trusted / ".git", ignore_errors=True)
    (trusted / ".git").unlink(missing_ok=True)
    digest = tree_digest(trusted)
    thresholds = repo / "models" / "fraud" / "policies" / "data" / "thresholds.yaml"
    thresholds.write_text("gate: {}\n")
    result, doc = check(repo, "--trusted-bundle", str(trusted), "--trusted-sha256", digest)
    assert result.exit_code == 1 and "GATE-GOV-001" in ids(doc)
    assert doc["governance"]["source"].startswith("policy bundle trusted (sha256 ")
    wrong = check_error(repo, "--trusted-bundle", str(trusted), "--trusted-sha256", "0" * 64)
    assert wrong.exit_code == 2 and "is not the pinned" in wrong.stderr
    archive = tmp_path / "trusted.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(trusted, arcname=".")
    import hashlib

    pinned = hashlib.sha256(archive.read_bytes()).hexdigest()
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, doc = check(repo, "--trusted-bundle", str(archive), "--trusted-sha256", pinned)
        gc.collect()
    assert result.exit_code == 1 and "GATE-GOV-001" in ids(doc)
    assert not list(temp.iterdir())  # the unpacked archive and the copies are removed ...
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]  # ... by gate
    missing = check_error(repo, "--trusted-bundle", str(archive))
    assert missing.exit_code == 2 and "needs --trusted-sha256" in missing.stderr


def check_error(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["check", "--config",
                                    str(repo / "models" / "fraud" / "gate.yaml"),
                                    "--output-dir", str(repo.parent / "out"), *args], env=ENV)


def test_an_organisations_policy_bundle_governs_every_model(repo: Path, tmp_path: Path) -> None:
    org = tmp_path / "org-policies"
    (org / "policies").mkdir(parents=True)
    (org / "policies" / "org.rego").write_text(
        "package org\n\n"
        'deny contains "every model needs an owner" if not input.model.card.owners\n')
    (org / "gate-governance.yaml").write_text(
        "version: 1\nlibrary: [model_card]\npolicies: [policies/]\n")
    result, doc = check(repo, "--trusted-bundle", str(org), "--trusted-sha256", tree_digest(org))
    assert result.exit_code == 1
    rules = {r["rule"] for r in doc["rules"]}
    assert "org.deny" in rules and not any(r.startswith("gate.evaluation") for r in rules)
    # The bundle's own exceptions, library choice and thresholds were not used.
    assert "GATE-GOV-001" in ids(doc)
    (org / "gate-governance.yaml").write_text("version: 1\nmodel: {name: x}\n")
    bad = check_error(repo, "--trusted-bundle", str(org), "--trusted-sha256", tree_digest(org))
    assert bad.exit_code == 2 and "keys that are not governance: model" in bad.stderr


def test_trust_digest_prints_the_pin_and_takes_debug_like_every_command(tmp_path: Path) -> None:
    folder = tmp_path / "org-policies"
    folder.mkdir()
    (folder / "p.rego").write_text("package p\n\nwarn contains \"w\" if false\n", "utf-8")
    result = CliRunner().invoke(cli, ["trust", "digest", "--debug", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == tree_digest(folder)
    (folder / "p.rego").write_text("package p\n", "utf-8")
    assert CliRunner().invoke(cli, ["trust", "digest", str(folder)]).output.strip() != \
        result.output.strip()
