"""The pre-commit hooks, run by pre-commit itself with `pre-commit try-repo`.

try-repo clones a hook repository (here: a committed copy of this checkout,
so the hooks and the code they install are exactly the working tree), builds
the hook's Python environment with pip, and runs the hooks in the current git
repository: a model repository holding the failing example bundle plus a
small custom policy with its unit test. gate-check must fail (the gate blocks
the release, exit 1, with the findings in the hook's output) and gate-verify
must pass (the policy tests hold). One try-repo run covers both hooks, since
each run builds the environment from scratch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ci_support import EXAMPLES, ROOT, clean_env, copy_project, doc_snippets, git_commit_all

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

POLICY = """\
package release

import rego.v1

# METADATA
# title: Model card names an owner
# custom:
#   id: CARD-100
#   severity: medium
deny_owner contains "the model card names no owner" if not input.model.card.owners
"""

POLICY_TEST = """\
package release_test

import rego.v1

import data.release

test_owner_required if {
	release.deny_owner with input as {"model": {"card": {}}}
}

test_owner_given if {
	count(release.deny_owner) == 0 with input as {"model": {"card": {"owners": ["ml-team"]}}}
}
"""


def test_hooks_are_valid_for_pre_commit() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))}
    assert set(hooks) == {"gate-check", "gate-check-changed", "gate-verify"}
    assert hooks["gate-check"]["entry"] == "gate check"
    assert hooks["gate-check-changed"]["entry"] == "gate check --files"
    assert hooks["gate-verify"]["entry"] == "gate verify"
    # Only the changed-bundles hook takes the file names pre-commit passes.
    assert {k for k, h in hooks.items() if h["pass_filenames"]} == {"gate-check-changed"}


def test_the_documented_config_is_valid_and_names_these_hooks(tmp_path: Path) -> None:
    from pre_commit.clientlib import load_config

    (snippet,) = doc_snippets("test_precommit.py")
    config_file = tmp_path / ".pre-commit-config.yaml"
    config_file.write_text(snippet)
    config = load_config(str(config_file))  # pre-commit's own schema check
    (repo,) = config["repos"]
    assert [h["id"] for h in repo["hooks"]] == ["gate-check", "gate-verify"]


@pytest.mark.slow
@pytest.mark.parametrize("example", ["failing", "passing"])
def test_try_repo_runs_both_hooks_on_a_model_repository(example: str, tmp_path: Path) -> None:
    hooks = copy_project(tmp_path / "gate")
    git_commit_all(hooks, "gate at test time")
    models = tmp_path / "models"
    shutil.copytree(EXAMPLES / example, models, ignore=shutil.ignore_patterns("gate-report"))
    (models / "policies" / "release.rego").write_text(POLICY)
    (models / "policies" / "release_test.rego").write_text(POLICY_TEST)
    (models / ".gitignore").write_text("gate-report/\n")
    git_commit_all(models, "a release bundle")
    env = clean_env(PRE_COMMIT_COLOR="never")
    proc = subprocess.run([str(PRE_COMMIT), "try-repo", str(hooks), "--all-files"],
                          cwd=models, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    out = proc.stdout + proc.stderr
    lines = out.splitlines()
    check_line = next(line for line in lines if line.startswith("gate check"))
    verify_line = next(line for line in lines if line.startswith("gate verify"))
    assert verify_line.endswith("Passed"), out
    assert (models / "gate-report" / "decision.json").is_file()
    assert "CARD-100" not in out  # the custom policy is loaded and holds on both bundles
    if example == "failing":
        assert proc.returncode == 1, out
        assert check_line.endswith("Failed"), out
        assert "- hook id: gate-check\n- exit code: 1" in out
        assert "gate: FAIL  fraud-detector 2.5.0" in out
        assert "Deploy blocked." in out
    else:
        assert proc.returncode == 0, out
        assert check_line.endswith("Passed"), out


@pytest.mark.slow
def test_the_changed_bundles_hook_judges_the_bundles_a_commit_touches(tmp_path: Path) -> None:
    hooks = copy_project(tmp_path / "gate")
    git_commit_all(hooks, "gate at test time")
    repo = tmp_path / "models"
    for name, example in (("fraud", "passing"), ("churn", "failing"), ("spam", "passing")):
        shutil.copytree(EXAMPLES / example, repo / name, ignore=shutil.ignore_patterns(
            "gate-report"))
    (repo / ".gitignore").write_text("gate-report/\n")
    (repo / "README.md").write_text("# models\n")
    git_commit_all(repo, "three bundles")
    env = clean_env(PRE_COMMIT_COLOR="never")
    changed = ["fraud/reports/eval.json", "churn/model_card.md", "README.md"]
    proc = subprocess.run([str(PRE_COMMIT), "try-repo", str(hooks), "gate-check-changed",
                           "--files", *changed], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # churn (the failing example) blocks
    index = json.loads((repo / "gate-report" / "index.json").read_text())
    assert sorted((b["path"], b["decision"]) for b in index["bundles"]) == [
        ("churn", "fail"), ("fraud", "pass")]  # spam was not touched; README is in no bundle
