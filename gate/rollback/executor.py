"""Executing a rollback plan: in order, journaled, resumable, each step exactly once.

The executor takes the plan's exclusive lock (beside its journal, which is
keyed by the plan's sha256: see ``gate.rollback.journal``) and hands each step to a
*step runner* (``gate.rollback.runner``, a process in a session of its own,
which inherits the lock). The runner records the step's start, every attempt
and the step's end in the journal itself. So when the
executor is killed at any moment, even SIGKILL in the middle of a step, the
runner finishes that step and records it; a re-run waits on the lock until
the runner is done, reads the journal, and resumes after the last completed
step. No step runs twice unless its runner is killed too (the whole process
tree, or the machine): then the step was started but never ended, and the
re-run runs it again, which is why steps must be idempotent.

Per step: up to ``retries + 1`` attempts, ``backoff_s * 2^(k-1)`` seconds
before retry k; an attempt succeeds when the action succeeds and then its
``verify`` (a command or an HTTP check, with its own retries) succeeds. A step
that fails stops the run (exit 1); a re-run starts again at that step.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.decision import plural
from gate.errors import RollbackError
from gate.rollback.journal import Journal, Progress, journal_path, lock_path, plan_lock
from gate.rollback.runner import EXIT_INTERRUPTED
from gate.rollback.steps import STEP_KINDS, kind_of
from gate.rollback.template import (
    ENV_NAME,
    Place,
    plan_env,
    plan_string_problem,
    string_places,
)

MAX_TIMEOUT_S = 86400.0  # a step or its verify runs a day at most (as the plan schemas say)
# The plans this executor runs, by their `kind`, with their schema: a rollback plan (gate
# check, gate rollout) and a recalibration plan (gate drift). Same steps, same journal.
PLAN_SCHEMAS = {"gate.rollback-plan": "rollback-plan",
                "gate.recalibration-plan": "recalibration-plan"}

Echo = Callable[[str], None]


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan and the exact bytes it was read from."""

    path: Path
    shown: str
    doc: Mapping[str, Any]
    sha256: str

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        return list(self.doc["steps"])


def check_steps(steps: Sequence[Any], shown: str) -> None:
    """Every step's kind is registered and its settings can run (RollbackError otherwise)."""
    for i, step in enumerate(steps):
        where = f"$.steps[{i}]"
        kind = step["kind"]
        if kind not in STEP_KINDS:
            raise RollbackError(f"step '{step['name']}' has kind '{kind}', which gate cannot run",
                                path=shown, pointer=f"{where}.kind",
                                hint=f"use one of: {', '.join(STEP_KINDS)}")
        if kind not in step:
            raise RollbackError(f"step '{step['name']}' of kind {kind} has no '{kind}' settings",
                                path=shown, pointer=where,
                                hint=f"add the '{kind}' key, or rebuild the plan with gate")
        blocks = [(f"{where}.{kind}", kind, step[kind])]
        if "verify" in step:
            vkind = kind_of(step["verify"])
            if vkind is None:
                raise RollbackError("a verify block needs exactly one of: "
                                    + ", ".join(STEP_KINDS), path=shown,
                                    pointer=f"{where}.verify", hint="give verify `run:` or `http:`")
            blocks.append((f"{where}.verify.{vkind}", vkind, step["verify"][vkind]))
            _check_verify_limits(step["verify"], f"{where}.verify", shown)
        for pointer, k, spec in blocks:
            problem = STEP_KINDS[k].problem(spec)
            if problem is not None:
                raise RollbackError(problem[1], path=shown, pointer=pointer + problem[0],
                                    hint=f"fix the step at {pointer + problem[0]}")
        _check_strings(step, where, shown)


def _plan_strings(step: Mapping[str, Any]) -> list[Place]:
    """(JSON path, string, is shell code) of every string a step runner expands."""
    out: list[Place] = []
    for holder, pointer in ((step, "$"), (step.get("verify") or {}, "$.verify")):
        for kind, step_kind in STEP_KINDS.items():
            if kind in holder:
                out += step_kind.strings(holder[kind], f"{pointer}.{kind}")
    return out + string_places(step.get("env") or {}, "$.env")


def _check_strings(step: Mapping[str, Any], where: str, shown: str) -> None:
    """Every string holds only ``${env.NAME}`` and ``$${``, and no shell script holds either."""
    for pointer, text, shell in _plan_strings(step):
        problem = plan_string_problem(text, shell=shell)
        if problem is not None:
            at = where + pointer[1:]
            raise RollbackError(problem, path=shown, pointer=at,
                                hint="use the plan exactly as this version of gate wrote it "
                                "(rebuild it with gate check or gate rollout)")
    for name in (step.get("env") or {}):
        if not ENV_NAME.match(str(name)):
            raise RollbackError(f"'{name}' is not an environment variable name", path=shown,
                                pointer=f"{where}.env", hint="rebuild the plan with gate")


def _check_verify_limits(verify: Mapping[str, Any], where: str, shown: str) -> None:
    timeout, retries = verify.get("timeout_s", 1), verify.get("retries", 0)
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
            or timeout > MAX_TIMEOUT_S):
        raise RollbackError("verify timeout_s must be a positive number of seconds, at most "
                            f"{MAX_TIMEOUT_S:g}",
                            path=shown, pointer=f"{where}.timeout_s",
                            hint=f"fix the value at {where}.timeout_s")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise RollbackError("verify retries must be a whole number from 0 to 20", path=shown,
                            pointer=f"{where}.retries", hint=f"fix the value at {where}.retries")


def load_plan(path: Path, shown: str, *, expect_sha256: str | None = None) -> LoadedPlan:
    """Read, digest-check and validate a plan; every problem names the file and JSON path."""
    from gate.documents import read_document
    from gate.errors import DocumentError
    from gate.schemas import validate  # jsonschema: only for a real plan

    def promised(sha: str) -> None:  # checked before the bytes are even decoded
        if expect_sha256 is not None and sha != expect_sha256.lower():
            raise RollbackError(
                f"the plan's sha256 is {sha}, not the expected {expect_sha256.lower()}: it is "
                "not the plan the gate wrote", path=shown,
                hint="execute the rollback-plan.json written by the same gate run as the "
                "decision the digest came from; do not edit a plan by hand",
            )

    try:  # a FIFO or device is refused
        doc, sha = read_document(
            path, shown, error=RollbackError, missing="rollback plan not found",
            missing_hint="pass the rollback-plan.json that gate check or gate rollout wrote "
            "(in its --output-dir)", unreadable="cannot read the plan",
            not_utf8="it is not UTF-8", json_only=True, on_digest=promised)
    except DocumentError as e:
        raise RollbackError(f"the plan is not valid JSON: {e.message}", path=shown,
                            line=e.line, col=e.col,
                            hint="use the plan exactly as gate wrote it") from e
    kind = doc.get("kind") if isinstance(doc, dict) else None
    schema = PLAN_SCHEMAS.get(kind if isinstance(kind, str) else "", "rollback-plan")
    validate(doc, schema, path=shown, what=f"the {schema.removesuffix('-plan')} plan",
             error=RollbackError)
    check_steps(doc["steps"], shown)
    return LoadedPlan(path, shown, doc, sha)


def _policy(step: Mapping[str, Any]) -> str:
    text = f"timeout {step['timeout_s']:g}s"
    if step["retries"]:
        text += (f", {plural(step['retries'], 'retry', 'retries')} "
                 f"(backoff {step['backoff_s']:g}s, doubling)")
    return text


_GATE_REF = re.compile(r"\$(GATE_(?:MODEL|TARGET)_[A-Z0-9_]+)")


def _gate_variables(step: Mapping[str, Any], gate_env: Mapping[str, str]) -> dict[str, str]:
    """The GATE_MODEL_*/GATE_TARGET_* variables a step's shell scripts read, with values."""
    found: dict[str, str] = {}
    for _, text, shell in _plan_strings(step):
        for name in _GATE_REF.findall(text) if shell else ():
            if name in gate_env:
                found[name] = gate_env[name]
    return found


def plan_journal(plan: LoadedPlan, directory: Path, shown_dir: str | None = None) -> Journal:
    """The journal of ``plan`` in ``directory`` (shown as ``shown_dir``, if given)."""
    path = journal_path(directory, plan.sha256)
    shown = str(Path(shown_dir) / path.name) if shown_dir is not None else str(path)
    return Journal(path, shown)


def describe(plan: LoadedPlan, progress: Progress, journal: Journal) -> list[str]:
    """The dry run: every step with its substituted command or request."""
    doc = plan.doc
    gate_env = plan_env(doc)
    same = progress.plan_sha256 == plan.sha256
    completed = progress.completed if same else frozenset()
    lines = [
        f"gate rollback: dry run of {plan.shown} (sha256 {plan.sha256[:12]})",
        f"  {_target(plan, ': ')} (trigger: {doc.get('trigger', 'check')})",
    ]
    if doc["reasons"]:
        lines.append("  reasons: " + ", ".join(dict.fromkeys(r["id"] for r in doc["reasons"])))
    if not doc["steps"]:
        lines.append("  the plan has no steps: nothing would run (add rollback.steps to gate.yaml)")
    for i, step in enumerate(doc["steps"]):
        kind = step["kind"]
        done = "  [done in an earlier run]" if i in completed else ""
        lines.append(f"  {i + 1}. {step['name']}  {kind}: "
                     f"{STEP_KINDS[kind].describe(step[kind])}{done}")
        if step.get("env"):
            lines.append("       env: " + " ".join(f"{k}={v}" for k, v in step["env"].items()))
        used = _gate_variables(step, gate_env)
        if used:
            lines.append("       gate sets: " + " ".join(f"{k}={shlex.quote(v)}"
                                                       for k, v in used.items()))
        lines.append(f"       {_policy(step)}")
        if "verify" in step:
            v = step["verify"]
            vkind = kind_of(v) or "?"
            lines.append(f"       verify {vkind}: {STEP_KINDS[vkind].describe(v[vkind])} "
                         f"(timeout {v.get('timeout_s', step['timeout_s']):g}s, "
                         f"{plural(int(v.get('retries', 0)), 'retry', 'retries')})")
    if progress.plan_sha256 is None:
        lines.append(f"journal: no run yet ({journal.shown})")
    elif not same:
        lines.append(f"journal: {journal.shown} records a run of another plan; --execute "
                     "refuses to mix them unless you pass --restart")
    else:
        total = len(doc["steps"])
        lines.append(f"journal: {len(progress.completed)} of {total} steps completed "
                     f"({journal.shown}); --execute resumes after them, --restart starts over")
    lines.append("Nothing was run. Run again with --execute to carry out the plan.")
    return lines


# --- the executor ------------------------------------------------------------


def _show_attempts(records: Sequence[Mapping[str, Any]], echo: Echo, lines: int = 8) -> None:
    """Each attempt's outcome and the last lines of its output, as the runner recorded them."""
    for r in records:
        if r["event"] != "attempt":
            continue
        label = f"attempt {r['attempt']}" if r["phase"] == "step" else "verify"
        echo(f"      {label}: {r['summary']}")
        for line in str(r.get("output_tail") or "").rstrip("\n").splitlines()[-lines:]:
            echo(f"      | {line}")


# The audit ledger's hook (gate.audit.hooks.StepAudit): (kind, step index, detail).
StepRecorder = Callable[[str, int, Mapping[str, Any]], None]


def execute(plan: LoadedPlan, *, restart: bool, echo: Echo, journal: Journal,
            audit: StepRecorder | None = None) -> int:
    """Run the plan (resuming after completed steps); 0 done, 1 a step failed or was stopped.

    With ``audit``, each step's start is recorded before its runner starts (a failed append
    stops the run before the step) and its result once the runner has recorded its end.
    """
    lock = lock_path(journal.path)
    steps = plan.steps
    if not steps:
        raise RollbackError("the plan has no steps, so nothing can be rolled back",
                            path=plan.shown, pointer="$.steps",
                            hint="add rollback.steps (and rollback.target) to gate.yaml")

    def waiting() -> None:
        echo(f"waiting for another run of this plan to finish (it holds {lock.name})")

    try:
        journal.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RollbackError(f"cannot create the journal folder: {e.strerror}",
                            path=str(Path(journal.shown).parent),
                            hint="pass a writable --journal-dir (or $GATE_JOURNAL_DIR)") from e
    with plan_lock(lock, str(Path(journal.shown).with_name(lock.name)),
                   on_wait=waiting) as lock_fd:
        if journal.repair():
            echo("journal: cut off a record torn by an earlier crash")
        if restart and journal.path.exists():
            journal.append({"event": "restart"})
        progress = Progress.of(journal.records(len(steps)))
        if progress.plan_sha256 not in (None, plan.sha256):
            raise RollbackError(
                f"the journal records a run of another plan (sha256 "
                f"{progress.plan_sha256[:12]}...), not this one ({plan.sha256[:12]}...)",
                path=journal.shown,
                hint="pass --restart to execute this plan from its first step (the journal "
                "keeps the history)",
            )
        todo = [i for i in range(len(steps)) if i not in progress.completed]
        journal.append({"event": "run", "plan_sha256": plan.sha256, "pid": os.getpid(),
                        "resume_at": todo[0] if todo else None})
        echo(f"gate rollback: executing {plan.shown} (sha256 {plan.sha256[:12]}), "
             f"{plural(len(steps), 'step')}")
        for i, step in enumerate(steps):
            head = f"[{i + 1}/{len(steps)}] {step['name']}"
            if i in progress.completed:
                echo(f"{head}: done in an earlier run, skipped")
                continue
            if i in progress.interrupted:
                echo(f"{head}: was interrupted in an earlier run; running it again")
            kind = step["kind"]
            echo(f"{head} ({kind}): {STEP_KINDS[kind].describe(step[kind])}")
            if audit is not None:
                audit("step-start", i, {"name": step["name"], "kind": kind})
            code, end, records = _run_step(plan, journal, i, lock_fd)
            outcome = end.get("outcome", "failed")
            if audit is not None:
                audit("step-result", i, {"name": step["name"], "kind": kind, "outcome": outcome,
                                         "attempts": end.get("attempts", 0),
                                         "error": end.get("error")})
            _show_attempts(records, echo)
            echo(f"      {outcome} after {plural(int(end.get('attempts', 0)), 'attempt')}"
                 + (f": {end['error']}" if end.get("error") else ""))
            if outcome != "ok":
                finish = "interrupted" if code == EXIT_INTERRUPTED else "failed"
                journal.append({"event": "finish", "outcome": finish, "failed_step": i})
                echo(f"{_noun(plan)} stopped at step {i + 1} ({step['name']}): {outcome}. "
                     f"The journal "
                     f"{journal.shown} says what happened; fix the cause, then run `gate "
                     f"rollback {plan.shown} --execute` again to resume at this step.")
                return 1
        journal.append({"event": "finish", "outcome": "ok", "failed_step": None})
        echo(f"{_noun(plan)} complete: {_target(plan)}")
        return 0


def _recalibration(plan: LoadedPlan) -> bool:
    return plan.doc.get("kind") == "gate.recalibration-plan"


def _noun(plan: LoadedPlan) -> str:
    return "Recalibration" if _recalibration(plan) else "Rollback"


def _target(plan: LoadedPlan, sep: str = " ") -> str:
    model = plan.doc["model"]
    if _recalibration(plan):  # gate.drift.plan: what drifted, per check
        drifted = [f"{c['check']}/{d['feature']}" for c in plan.doc["drift"]
                   for d in c["drifted"]]
        return (f"recalibrate {model['name']} {model['version']} (drifted: "
                f"{', '.join(drifted) or 'none named'})")
    return (f"{model['name']}{sep}{model['candidate_version']} -> "
            f"{plan.doc['target']['version']}")


def _run_step(plan: LoadedPlan, journal: Journal, i: int,
              lock_fd: int) -> tuple[int, Mapping[str, Any], list[dict[str, Any]]]:
    """Hand step ``i`` to a runner (which inherits the lock) and wait for its recorded end.

    Returns the runner's exit code, the step's end record, and its records of this run.
    """
    cmd = [sys.executable, "-m", "gate.rollback.runner", str(plan.path), journal.shown,
           str(journal.path), str(i), plan.sha256]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(  # our own interpreter and module
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            pass_fds=(lock_fd,), start_new_session=True,
        )
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # Ctrl-C: the runner is in its own session; tell it
            proc.send_signal(signal.SIGTERM)
            code = proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", errors="replace").strip()
    # This run's records: those after its `run` record (it holds the lock, so only it and
    # its runners write, and each step runs once per run): one read of the journal per step.
    written = journal.records(len(plan.steps))
    run_at = max((k for k, r in enumerate(written) if r["event"] == "run"), default=-1)
    records = [r for r in written[run_at + 1:] if r.get("step") == i]
    ends = [r for r in records if r["event"] == "step-end"]
    if ends:
        return code, ends[-1], records
    if code == EXIT_INTERRUPTED:  # stopped before it recorded anything: the step did not run
        end = {"event": "step-end", "step": i, "name": plan.steps[i]["name"],
               "outcome": "interrupted", "attempts": 0}
        journal.append(end)
        return code, end, records
    end = {"event": "step-end", "step": i, "name": plan.steps[i]["name"], "outcome": "failed",
           "attempts": 0, "error": f"the step runner exited with {code} without recording an "
           f"outcome: {stderr[-2000:] or 'no message'}"}
    journal.append(end)
    raise RollbackError(str(end["error"]), path=journal.shown,
                        hint="this is a bug or a broken installation of gate; re-run with "
                        "--debug and report it (the step may or may not have run)")
