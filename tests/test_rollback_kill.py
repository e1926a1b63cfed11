"""Killing `gate rollback --execute` at any moment: a re-run runs every step exactly once in total.

Each step appends its name to a marker file; after the kill and a re-run, the
file must name every step once. Two ways to kill: SIGKILL while a step is
running (at each step), and SIGKILL injected right after each thing the
executor does (each journal record it writes, each runner it starts or waits
for). The waits below are for events (a file appearing, a line printed), with
generous limits only so that a bug fails the test instead of hanging it.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from gate.rollback.journal import Journal, session

pytestmark = pytest.mark.slow  # each test starts and kills gate processes

GATE = [sys.executable, "-c", "import sys; from gate.cli import main; sys.argv[0] = 'gate'; main()"]
LIMIT_S = 60.0

# Runs gate with a SIGKILL after the executor's N-th action (GATE_TEST_KILL_AT=N).
INJECT = r"""
import os, signal, subprocess, sys
from gate.rollback import journal

kill_at = int(os.environ["GATE_TEST_KILL_AT"])
count = [0]

def point():
    count[0] += 1
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

real_append = journal.Journal.append

def append(self, record):
    real_append(self, record)
    point()

class Popen(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        point()

    def wait(self, timeout=None):
        code = super().wait(timeout)
        point()
        return code

journal.Journal.append = append
subprocess.Popen = Popen
from gate.cli import main
sys.argv[0] = "gate"
main()
"""


@pytest.fixture(autouse=True)
def _not_in_ci(not_in_ci: None) -> None:
    """The CI job running this suite must not decide whether --execute runs."""


def write_plan(root: Path, commands: list[str]) -> Path:
    steps = [{"name": f"s{i}", "kind": "run", "run": cmd, "timeout_s": 60, "retries": 0,
              "backoff_s": 0} for i, cmd in enumerate(commands)]
    doc = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00+00:00",
           "model": {"name": "m", "candidate_version": "2"}, "target": {"version": "1"},
           "reasons": [], "steps": steps}
    path = root / "rollback-plan.json"
    path.write_text(json.dumps(doc), "utf-8")
    return path


def start(root: Path, *cmd: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*cmd, "rollback", "rollback-plan.json", "--execute"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})


class Lines:
    """A process's output lines, as they come (a reader thread feeds a queue)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.q.put(line)

    def wait_for(self, text: str) -> None:
        while True:
            try:
                line = self.q.get(timeout=LIMIT_S)
            except queue.Empty:
                pytest.fail(f"never printed {text!r}; printed: {''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return

    def all(self) -> str:
        """Everything printed (call once the process has ended)."""
        self.thread.join(LIMIT_S)
        while not self.q.empty():
            self.seen.append(self.q.get_nowait())
        return "".join(self.seen)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=LIMIT_S)
    return proc.returncode, out


def markers(root: Path) -> list[str]:
    return (root / "markers").read_text("utf-8").split()


def ended_ok(root: Path) -> list[int]:
    sha = hashlib.sha256((root / "rollback-plan.json").read_bytes()).hexdigest()
    records = session(Journal(root / f"rollback-{sha}.journal.jsonl").records())
    return [r["step"] for r in records if r["event"] == "step-end" and r["outcome"] == "ok"]


MARK = "echo s{i} >> markers"
BLOCK = "; echo started > reached; while [ ! -e release ]; do sleep 0.01; done"


@pytest.mark.parametrize("k", range(3))
def test_sigkill_while_a_step_runs(tmp_path: Path, k: int) -> None:
    write_plan(tmp_path, [MARK.format(i=i) + (BLOCK if i == k else "") for i in range(3)])
    first = start(tmp_path, *GATE)
    Lines(first).wait_for(f"[{k + 1}/3] s{k}")
    while not (tmp_path / "reached").exists():  # the step is under way
        assert first.poll() is None, "the executor ended before the step started"
        threading.Event().wait(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(LIMIT_S)

    again = start(tmp_path, *GATE)
    out = Lines(again)
    # the step's runner outlived the executor and still holds the plan's lock
    out.wait_for("waiting for another run of this plan to finish")
    (tmp_path / "release").touch()
    code = again.wait(LIMIT_S)
    printed = out.all()
    assert code == 0, printed
    assert f"[{k + 1}/3] s{k}: done in an earlier run, skipped" in printed
    assert markers(tmp_path) == ["s0", "s1", "s2"]  # each exactly once
    assert sorted(ended_ok(tmp_path)) == [0, 1, 2]


@pytest.mark.parametrize("kill_at", range(1, 9))
def test_sigkill_after_each_executor_action(tmp_path: Path, kill_at: int) -> None:
    """Actions of a 3-step run: the run record; start and wait for each step's runner (x3);
    the finish record. A kill after any of them, then a re-run: every step once."""
    write_plan(tmp_path, [MARK.format(i=i) for i in range(3)])
    code, out = finish(start(tmp_path, sys.executable, "-c", INJECT,
                             env={"GATE_TEST_KILL_AT": str(kill_at)}))
    assert code == -signal.SIGKILL, out
    code, out = finish(start(tmp_path, *GATE))
    assert code == 0, out
    assert markers(tmp_path) == ["s0", "s1", "s2"]
    assert sorted(ended_ok(tmp_path)) == [0, 1, 2]


def test_injection_covers_every_action(tmp_path: Path) -> None:
    write_plan(tmp_path, [MARK.format(i=i) for i in range(3)])
    code, out = finish(start(tmp_path, sys.executable, "-c", INJECT,
                             env={"GATE_TEST_KILL_AT": "9"}))  # one past the last action
    assert code == 0, out
    assert markers(tmp_path) == ["s0", "s1", "s2"]


def test_ctrl_c_stops_the_step_and_its_processes(tmp_path: Path) -> None:
    hang = "sleep 300 & echo $! > child.pid; echo started > reached; wait"
    write_plan(tmp_path, [MARK.format(i=0), f"test -e release || {{ {hang}; }}",
                          MARK.format(i=2)])
    first = start(tmp_path, *GATE)
    while not (tmp_path / "reached").exists():
        assert first.poll() is None, first.communicate()[0]
        threading.Event().wait(0.01)
    first.send_signal(signal.SIGINT)
    code, out = finish(first)
    assert code == 1, out
    assert "Rollback stopped at step 2 (s1): interrupted" in out
    child = int((tmp_path / "child.pid").read_text("utf-8"))
    stat: Any = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text("utf-8").split(") ")[1][0] == "Z"
    (tmp_path / "release").touch()
    code, out = finish(start(tmp_path, *GATE))
    assert code == 0, out
    assert markers(tmp_path) == ["s0", "s2"]  # s0 not repeated; s1 ran again (no marker)
    assert sorted(ended_ok(tmp_path)) == [0, 1, 2]
