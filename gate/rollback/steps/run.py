"""The ``run`` step kind: a command, as an argv list (no shell) or a string run by /bin/sh.

The command runs in a process group of its own, with stdin closed and stdout
and stderr captured to a temporary file (a pipe could block on a grandchild
that keeps it open). On timeout, on interruption, and when the command ends,
its whole process group is ended: SIGTERM, then SIGKILL after a grace period.
A step that means to leave a daemon behind must start it in a new session.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from gate.rollback.steps.attempt import Attempt, tail
from gate.rollback.template import Place, render_command, shell_script_index, string_places

KILL_GRACE_S = 5.0


def _live_members(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies do not count)."""
    if not os.path.isdir("/proc"):  # not Linux: zombies look alive, so this errs on waiting
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "stat"), encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue  # it exited while we looked
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            return True
    return False


def kill_group(pgid: int, leader: subprocess.Popen[bytes] | None = None, *,
               grace_s: float = KILL_GRACE_S) -> None:
    """End every process of group ``pgid``: SIGTERM, SIGKILL after ``grace_s``, then wait."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for limit, sig in ((grace_s, signal.SIGKILL), (2.0, None)):
        deadline = time.monotonic() + limit
        while True:
            if leader is not None:
                leader.poll()  # reap our own child, or it lingers as a zombie
            if not _live_members(pgid) or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)


def _looked_in(program: str, env: Mapping[str, str]) -> str:
    """Where a program that was not found was looked for, as the error should say."""
    if "/" in program:
        return f"looked in {os.path.abspath(os.path.dirname(program) or '.')}"
    path = env.get("PATH", os.defpath)
    return f"looked in PATH={path}" if path else "PATH is empty"


class RunStep:
    """Run a command; exit status 0 is success."""

    name = "run"

    def problem(self, spec: Any) -> tuple[str, str] | None:
        if isinstance(spec, list) and spec and all(isinstance(a, str) for a in spec):
            return None if spec[0] else ("[0]", "the program name is empty")
        if isinstance(spec, str) and spec.strip():
            return None
        return "", "a command is an argv list of strings or a non-empty shell string"

    def render(self, spec: Any, variables: Mapping[str, str], env: dict[str, str]) -> Any:
        return render_command(spec, variables, env)

    def strings(self, spec: Any, pointer: str) -> list[Place]:
        if isinstance(spec, str):
            return [(pointer, spec, True)]
        if not isinstance(spec, list):
            return []
        script = shell_script_index([str(a) for a in spec])
        return [p for i, a in enumerate(spec)
                for p in string_places(a, f"{pointer}[{i}]", shell=i == script)]

    def describe(self, spec: Any) -> str:
        return shlex.join(spec) if isinstance(spec, list) else f"sh -c {shlex.quote(spec)}"

    def attempt(self, spec: Any, *, timeout_s: float, env: Mapping[str, str]) -> Attempt:
        program = spec[0] if isinstance(spec, list) else "/bin/sh"
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(  # argv from the plan, shell only for strings
                    spec, shell=isinstance(spec, str), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, env=dict(env), start_new_session=True,
                )
            except FileNotFoundError:
                return Attempt(False, f"command not found: {program} ({_looked_in(program, env)}); "
                               "not retried", final=True)
            except PermissionError:
                return Attempt(False, f"not executable: {program} (chmod +x it?); not retried",
                               final=True)
            except OSError as e:
                return Attempt(False, f"cannot start {program}: {e.strerror}")
            timed_out = False
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_group(proc.pid, proc)
                code = proc.wait()
            except BaseException:  # interrupted: end the step's processes, then give way
                kill_group(proc.pid, proc)
                proc.wait()
                raise
            finally:
                kill_group(proc.pid, proc, grace_s=0)  # whatever the step left in its group
            out.seek(0)
            output = tail(out.read())
        if timed_out:
            return Attempt(False, f"timed out after {timeout_s:g}s; its process group was "
                           "killed", output, code, timed_out=True)
        if code < 0:
            return Attempt(False, f"killed by signal {signal.Signals(-code).name}", output, code)
        return Attempt(code == 0, f"exit {code}", output, code)
