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

from gate.rollback.journal import Journal
from gate.rollback.plan import expand_env
from gate.rollback.steps import STEP_KINDS, Attempt, kind_of

MAX_BACKOFF_S = 300.0
EXIT_INTERRUPTED = 130


class Interrupted(BaseException):  # a signal, not an error
    """SIGTERM or SIGINT reached a step runner."""


def step_env(step: Mapping[str, Any], attempt: int) -> dict[str, str]:
    """The environment of a step's command: ours, the step's env, and where we are."""
    env = dict(os.environ)
    env.update(step.get("env") or {})
    env["GATE_ROLLBACK_STEP"] = str(step["name"])
    env["GATE_ROLLBACK_ATTEMPT"] = str(attempt)
    return env


def _attempt_block(kind: str, spec: Any, *, timeout_s: float, env: Mapping[str, str]) -> Attempt:
    try:
        spec = expand_env(spec, env)  # secrets enter here, never in the plan or the dry run
    except KeyError as e:
        return Attempt(False, f"the environment variable {e.args[0]} is not set (the step "
                       f"uses ${{env.{e.args[0]}}}); set it in the deploy job")
    return STEP_KINDS[kind].attempt(spec, timeout_s=timeout_s, env=env)


def _verify(step: Mapping[str, Any], journal: Journal, i: int, attempt: int) -> Attempt:
    v = step["verify"]
    kind = kind_of(v)
    assert kind is not None  # checked when the plan was loaded
    tries = int(v.get("retries", 0)) + 1
    result = Attempt(False, "not run")
    for k in range(1, tries + 1):
        started = time.monotonic()
        result = _attempt_block(kind, v[kind], timeout_s=float(v.get("timeout_s",
                                                                     step["timeout_s"])),
                                env=step_env(step, attempt))
        journal.append({"event": "attempt", "step": i, "attempt": attempt, "phase": "verify",
                        "verify_attempt": k, **result.to_json(),
                        "duration_s": round(time.monotonic() - started, 3)})
        if result.ok:
            return result
        if k < tries:
            time.sleep(min(step["backoff_s"] * 2 ** (k - 1), MAX_BACKOFF_S))
    return result


def run_step(step: Mapping[str, Any], journal: Journal, i: int) -> str:
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
                                    timeout_s=float(step["timeout_s"]),
                                    env=step_env(step, attempt))
            journal.append({"event": "attempt", "step": i, "attempt": attempt, "phase": "step",
                            **result.to_json(), "duration_s": round(time.monotonic() - t0, 3)})
            if result.ok and ("verify" not in step or _verify(step, journal, i, attempt).ok):
                outcome = "ok"
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
    data = Path(plan_path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        print(f"gate: the plan {plan_path} changed while it was executing", file=sys.stderr)
        return 2
    step = json.loads(data)["steps"][int(index)]
    try:
        outcome = run_step(step, Journal(Path(path), shown), int(index))
    except Interrupted:  # before the step started (run_step records any later interruption)
        return EXIT_INTERRUPTED
    return {"ok": 0, "failed": 1}.get(outcome, EXIT_INTERRUPTED)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print("gate.rollback.runner is started by `gate rollback --execute`", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
