"""The step runner: one step of a rollback plan, in a process of its own.

``python -m gate.rollback.runner PLAN JOURNAL_SHOWN JOURNAL STEP SHA256`` is
started by the executor in a new session, inheriting the plan's lock. It
re-reads the plan (refusing it if its digest changed), records the step's
start, each attempt and the step's end in the journal, and exits 0 (ok),
1 (failed) or 130 (interrupted). Its stdout is /dev/null and its stderr a
file, so a dead executor's closed pipes cannot kill it: it outlives the
executor, and the lock it holds makes a re-run wait until the step is recorded.

SIGTERM or SIGINT ends the step's process group and records the step as
interrupted; a signal that arrives while the end is being recorded waits
until the record is on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gate.fsutil import read_regular
from gate.rollback.journal import Journal
from gate.rollback.steps import STEP_KINDS, Attempt, kind_of
from gate.rollback.template import MissingEnv, expand, plan_env, walk

MAX_BACKOFF_S = 300.0
EXIT_INTERRUPTED = 130


class Interrupted(BaseException):  # a signal, not an error
    """SIGTERM or SIGINT reached a step runner."""


def step_env(step: Mapping[str, Any], attempt: int,
             plan: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment of a step's command: ours, gate's variables, the step's env, where we are.

    The step's env values are expanded in one pass (``${env.NAME}`` from the job's
    environment, ``$${`` as ``${``); MissingEnv names a variable that is not set.
    """
    env = dict(os.environ)
    if plan is not None:
        env.update(plan_env(plan))
    job = dict(os.environ)
    env.update({k: expand(str(v), job) for k, v in (step.get("env") or {}).items()})
    env["GATE_ROLLBACK_STEP"] = str(step["name"])
    env["GATE_ROLLBACK_ATTEMPT"] = str(attempt)
    return env


def _attempt_block(kind: str, spec: Any, *, timeout_s: float, step: Mapping[str, Any],
                   attempt: int, plan: Mapping[str, Any] | None) -> Attempt:
    try:
        env = step_env(step, attempt, plan)
        # Secrets enter here, never in the plan or the dry run; one pass, never rescanned.
        spec = walk(spec, lambda text: expand(text, os.environ))
    except MissingEnv as e:
        return Attempt(False, f"the environment variable {e.args[0]} is not set (the step uses "
                       f"${{env.{e.args[0]}}}); set it in the deploy job", final=True)
    return STEP_KINDS[kind].attempt(spec, timeout_s=timeout_s, env=env)


def _verify(step: Mapping[str, Any], journal: Journal, i: int, attempt: int,
            plan: Mapping[str, Any] | None) -> Attempt:
    v = step["verify"]
    kind = kind_of(v)
    assert kind is not None  # checked when the plan was loaded
    tries = int(v.get("retries", 0)) + 1
    result = Attempt(False, "not run")
    for k in range(1, tries + 1):
        started = time.monotonic()
        result = _attempt_block(kind, v[kind], timeout_s=float(v.get("timeout_s",
                                                                     step["timeout_s"])),
                                step=step, attempt=attempt, plan=plan)
        journal.append({"event": "attempt", "step": i, "attempt": attempt, "phase": "verify",
                        "verify_attempt": k, **result.to_json(),
                        "duration_s": round(time.monotonic() - started, 3)})
        if result.ok or result.final:
            return result
        if k < tries:
            time.sleep(min(step["backoff_s"] * 2 ** (k - 1), MAX_BACKOFF_S))
    return result


def run_step(step: Mapping[str, Any], journal: Journal, i: int,
             plan: Mapping[str, Any] | None = None) -> str:
    """All attempts at one step (in the runner); returns ok, failed or interrupted."""
    journal.append({"event": "step-start", "step": i, "name": step["name"],
                    "kind": step["kind"], "pid": os.getpid()})
    started = time.monotonic()
    outcome, attempts = "failed", 0
    try:
        for attempt in range(1, int(step["retries"]) + 2):
            attempts = attempt
            if attempt > 1:
                time.sleep(min(step["backoff_s"] * 2 ** (attempt - 2), MAX_BACKOFF_S))
            t0 = time.monotonic()
            result = _attempt_block(step["kind"], step[step["kind"]],
                                    timeout_s=float(step["timeout_s"]), step=step,
                                    attempt=attempt, plan=plan)
            journal.append({"event": "attempt", "step": i, "attempt": attempt, "phase": "step",
                            **result.to_json(), "duration_s": round(time.monotonic() - t0, 3)})
            if result.ok and "verify" in step:
                result = _verify(step, journal, i, attempt, plan)
            if result.ok:
                outcome = "ok"
                break
            if result.final:  # cannot start, and another try cannot change that
                break
    except Interrupted:
        outcome = "interrupted"
    # A signal now must not lose the record of a step that is over: hold it until written.
    held = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        journal.append({"event": "step-end", "step": i, "name": step["name"],
                        "outcome": outcome, "attempts": attempts,
                        "duration_s": round(time.monotonic() - started, 3)})
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    return outcome


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str]) -> int:
    """``PLAN JOURNAL_SHOWN JOURNAL STEP SHA256``: run one step, record it, exit."""
    plan_path, shown, path, index, sha = argv
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        data = read_regular(plan_path)  # a FIFO swapped in for the plan is refused, not waited on
    except OSError as e:
        print(f"gate: cannot read the plan {plan_path}: {e.strerror or e}", file=sys.stderr)
        return 2
    if hashlib.sha256(data).hexdigest() != sha:
        print(f"gate: the plan {plan_path} changed while it was executing", file=sys.stderr)
        return 2
    doc = json.loads(data)  # the executor validated these very bytes (same digest)
    step = doc["steps"][int(index)]
    try:
        outcome = run_step(step, Journal(Path(path), shown), int(index), doc)
    except Interrupted:  # before the step started (run_step records any later interruption)
        return EXIT_INTERRUPTED
    return {"ok": 0, "failed": 1}.get(outcome, EXIT_INTERRUPTED)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print("gate.rollback.runner is started by `gate rollback --execute`", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
