"""Helpers for the CI-integration tests: a clean copy of the project, and a composite-action runner.

``run_composite`` executes a composite action's steps the way the GitHub
runner does: ``${{ }}`` expressions rendered from inputs, ``github``,
``runner`` and earlier steps' outputs; each ``shell: bash`` step run as
``bash --noprofile --norc -eo pipefail FILE`` in its working directory with
its ``env``; a fresh $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY file per step,
parsed with the runner's rules (``name=value`` and ``name<<DELIMITER``
blocks); ``if:`` conditions; the first failing step stops the rest; the
action's outputs rendered at the end. The expression renderer knows only the
forms our actions use and refuses any other, so a new expression in an
action.yml makes this test fail instead of silently rendering nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_REF = re.compile(rf"^(inputs|github|runner|steps)\.({_NAME})(?:\.(outputs\.{_NAME}|outcome))?$")
_COMPARE = re.compile(rf"^((?:inputs|github)\.{_NAME}|steps\.{_NAME}\.outputs\.{_NAME})"
                      r"\s*(==|!=)\s*'([^']*)'$")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CI's (or pre-commit's) variables, with the
    venv's gate first on PATH and no colour; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "GITLAB_", "CI_", "PRE_COMMIT"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    return {**env, **extra}


def doc_snippets(test_file: str, doc: str = "docs/ci.md") -> list[str]:
    """The YAML blocks of ``doc`` marked ``<!-- tested: tests/<test_file> ... -->``."""
    text = (ROOT / doc).read_text("utf-8")
    pattern = rf"<!-- tested: tests/{re.escape(test_file)}[^>]*-->\n```yaml\n(.*?)```"
    return re.findall(pattern, text, flags=re.S)


def npm_tool(name: str) -> str | None:
    """An npm tool pinned in .ci/package.json: on PATH (as .ci/test.sh puts it), or in .ci."""
    found = shutil.which(name)
    if found:
        return found
    local = ROOT / ".ci" / "node_modules" / ".bin" / name
    return str(local) if local.exists() else None


def npm_skip_reason(name: str) -> str:
    return (f"{name} is not installed: run `cd .ci && npm install` "
            "(.ci/test.sh does it when npm is present)")


def project_files() -> list[str]:
    """The project's files as a checkout would have them (tracked and new, not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    return [p for p in out.split("\0") if p and (ROOT / p).is_file()]


def copy_project(dest: Path) -> Path:
    """A copy of the project at ``dest``, like the checkout `uses: owner/gate@ref` gets."""
    for rel in project_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return dest


def git_commit_all(repo: Path, message: str = "test") -> None:
    """``git init`` (if needed), add everything, commit, with a throwaway identity."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "gate tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
           "GIT_COMMITTER_NAME": "gate tests", "GIT_COMMITTER_EMAIL": "tests@example.com"}
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", message], cwd=repo, check=True,
                   env=env)


def parse_output_file(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it; malformed content raises."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq > 0 and (heredoc < 0 or eq < heredoc):
            values[line[:eq]] = line[eq + 1:]
            continue
        if heredoc <= 0:
            raise ValueError(f"invalid line in GITHUB_OUTPUT: {line!r}")
        name, delimiter = line[:heredoc], line[heredoc + 2:]
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise ValueError(f"GITHUB_OUTPUT: no closing delimiter {delimiter!r} for {name}")
            current = lines[i]
            i += 1
            if current == delimiter:
                break
            body.append(current)
        values[name] = "\n".join(body)
    return values


@dataclass
class Context:
    """What expressions can see."""

    inputs: dict[str, str]
    github: dict[str, str]
    runner: dict[str, str]
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    def ref(self, expr: str) -> str:
        m = _REF.match(expr)
        if not m:
            raise ValueError(f"expression not supported by the test runner: {expr!r}")
        scope, name, member = m.groups()
        if scope == "steps":
            if member is None:
                raise ValueError(f"steps.<id> needs .outputs.<name> or .outcome: {expr!r}")
            if member == "outcome":
                return self.outcomes.get(name, "")
            return self.steps.get(name, {}).get(member.removeprefix("outputs."), "")
        if member is not None:
            raise ValueError(f"unsupported expression {expr!r}")
        table: dict[str, str] = getattr(self, scope)
        if name not in table:
            raise ValueError(f"{scope}.{name} is not known to the test runner")
        return table[name]

    def render(self, value: Any) -> str:
        return _EXPR.sub(lambda m: self.ref(m.group(1)), str(value))

    def condition(self, cond: Any, failed: bool) -> bool:
        """``if:``: clauses joined by ``&&``, each a status function or a comparison."""
        if cond is None:
            return not failed
        text = str(cond).strip()
        inner = _EXPR.fullmatch(text)
        text = inner.group(1) if inner else text
        clauses = [c.strip() for c in text.split("&&")]
        status = [c for c in clauses if c in ("always()", "success()", "failure()")]
        if not status and failed:  # a condition without a status function implies success()
            return False
        if ("success()" in status and failed) or ("failure()" in status and not failed):
            return False
        for clause in clauses:
            if clause in status:
                continue
            m = _COMPARE.match(clause)
            if not m:
                raise ValueError(f"condition not supported by the test runner: {clause!r}")
            left, op, right = m.groups()
            if (self.ref(left) == right) != (op == "=="):
                return False
        return True


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    uses: str = ""  # a marketplace action inside a composite: not run, its inputs rendered
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    failed: bool

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(s.stderr for s in self.steps)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)


def _run_bash(ctx: Context, step: Mapping[str, Any], index: str, *, workspace: Path,
              temp: Path, env: Mapping[str, str]) -> StepRun:
    """One ``run:`` step with its own $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY files."""
    name = str(step.get("name") or step.get("id") or f"step {index}")
    assert step.get("shell") == "bash", f"{name}: the test runner runs bash steps only"
    files = {key: temp / f"{key.lower()}-{index}" for key in ("GITHUB_OUTPUT",
                                                           "GITHUB_STEP_SUMMARY")}
    for f in files.values():
        f.write_text("")
    script = temp / f"step-{index}.sh"
    script.write_text(ctx.render(step["run"]))
    step_env = {**env, **{k: str(p) for k, p in files.items()},
                **{k: ctx.render(v) for k, v in (step.get("env") or {}).items()}}
    cwd = workspace / ctx.render(step.get("working-directory", "."))
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=cwd, env=step_env, check=False, capture_output=True, text=True,
                          timeout=300)
    outputs = parse_output_file(files["GITHUB_OUTPUT"].read_text("utf-8"))
    return StepRun(name, True, proc.returncode, proc.stdout, proc.stderr, outputs,
                   files["GITHUB_STEP_SUMMARY"].read_text("utf-8"))


def runner_env(env: Mapping[str, str], workspace: Path, temp: Path) -> dict[str, str]:
    """The variables the runner sets for every step."""
    return {**env, "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(temp)}


def run_composite(action_dir: Path, inputs: Mapping[str, str], *, workspace: Path,
                  temp: Path, env: Mapping[str, str]) -> ActionRun:
    """Run the composite action in ``action_dir`` with ``inputs``, as the runner would."""
    spec = yaml.safe_load((action_dir / "action.yml").read_text("utf-8"))
    assert spec["runs"]["using"] == "composite"
    declared = spec.get("inputs") or {}
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    values = {k: str(inputs.get(k, (v or {}).get("default", ""))) for k, v in declared.items()}
    ctx = Context(
        inputs=values,
        github={"action_path": str(action_dir), "workspace": str(workspace),
                "run_id": env.get("GITHUB_RUN_ID", "1"),
                "run_attempt": env.get("GITHUB_RUN_ATTEMPT", "1")},
        runner={"temp": str(temp), "os": "Linux"},
    )
    base_env = {
        **runner_env(env, workspace, temp),
        "GITHUB_ACTION_PATH": str(action_dir),
        **{f"INPUT_{k.upper()}": v for k, v in values.items()},
    }
    runs: list[StepRun] = []
    failed = False
    tag = f"{action_dir.name}-{len(list(temp.iterdir()))}"
    for i, step in enumerate(spec["runs"]["steps"]):
        name = str(step.get("name") or step.get("id"))
        if not ctx.condition(step.get("if"), failed):
            runs.append(StepRun(name, ran=False, uses=str(step.get("uses", ""))))
            continue
        if "uses" in step:  # a marketplace action (actions/cache, ...): recorded, not run
            rendered = {k: ctx.render(v) for k, v in (step.get("with") or {}).items()}
            runs.append(StepRun(name, ran=True, uses=str(step["uses"]), inputs=rendered))
            continue
        run = _run_bash(ctx, step, f"{tag}-{i}", workspace=workspace, temp=temp, env=base_env)
        if "id" in step:
            ctx.steps[step["id"]] = run.outputs
        runs.append(run)
        if run.returncode != 0 and not step.get("continue-on-error"):
            failed = True
    outputs = {k: ctx.render(v["value"]) for k, v in (spec.get("outputs") or {}).items()}
    return ActionRun(runs, outputs, failed)


@dataclass
class Marketplace:
    """A step that uses a marketplace action: not run, its ``with:`` rendered for checks."""

    uses: str
    inputs: dict[str, str]


def run_workflow_job(job: Mapping[str, Any], *, workspace: Path, temp: Path,
                     env: Mapping[str, str],
                     input_overrides: Mapping[str, Mapping[str, str]] | None = None,
                     local_actions: Mapping[str, str] | None = None,
                     ) -> list[tuple[str, ActionRun | StepRun | Marketplace]]:
    """Run a workflow job's steps: local actions (``uses: ./...``) and bash ``run:`` steps.

    Marketplace actions (checkout, setup-python, upload-sarif, ...) are not run:
    their inputs are rendered and returned, so a test can check what they
    would get. ``local_actions`` maps a published reference (``your-org/gate@v1``)
    to the local folder standing in for it. ``input_overrides`` maps a step id to
    inputs added to its ``with:`` (used to skip re-installing gate in every job).
    """
    ctx = Context(inputs={}, github={"workspace": str(workspace),
                                     "event_name": env.get("GITHUB_EVENT_NAME", "push"),
                                     "ref": env.get("GITHUB_REF", "refs/heads/main")},
                  runner={"temp": str(temp), "os": "Linux"})
    results: list[tuple[str, ActionRun | StepRun | Marketplace]] = []
    failed = False
    for i, step in enumerate(job["steps"]):
        uses = str(step.get("uses", ""))
        uses = (local_actions or {}).get(uses, uses)
        sid = step.get("id", f"step{i}")
        if uses and not uses.startswith("./"):
            rendered = {k: ctx.render(v) for k, v in (step.get("with") or {}).items()}
            results.append((sid, Marketplace(uses, rendered)))
            continue
        if not ctx.condition(step.get("if"), failed):
            continue
        if uses.startswith("./"):
            inputs = {k: ctx.render(v) for k, v in (step.get("with") or {}).items()}
            inputs.update((input_overrides or {}).get(sid, {}))
            action = run_composite(workspace / uses, inputs, workspace=workspace, temp=temp,
                                   env=env)
            ctx.steps[sid], ok = action.outputs, not action.failed
            results.append((sid, action))
        else:
            run = _run_bash(ctx, step, f"job-{i}", workspace=workspace, temp=temp,
                            env=runner_env(env, workspace, temp))
            ctx.steps[sid], ok = run.outputs, run.returncode == 0
            results.append((sid, run))
        ctx.outcomes[sid] = "success" if ok else "failure"
        if not ok and not step.get("continue-on-error"):
            failed = True
    return results
