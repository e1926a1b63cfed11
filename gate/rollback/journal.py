"""The execution journal of a rollback plan: JSON lines, each flushed and fsynced.

A journal belongs to the plan's *content*, not to a copy of the file: it is
``rollback-<sha256 of the plan>.journal.jsonl`` (and a ``.lock``) in the
journal folder, which is ``--journal-dir``, else ``$GATE_JOURNAL_DIR``, else
the plan's own folder. A fresh copy of the same plan (what a CI job downloads
on every run) finds the journal of earlier runs when the folder is kept (a CI
cache); a new plan has a new digest and so a journal of its own, and an old
journal can never block it.

The journal is append-only; a ``restart`` record starts a new session and
everything before it is history. A record counts only once its line is
complete: a line torn by a crash mid-write is ignored and cut off under the
lock before the next run appends. Every record is checked against
``gate schema journal-record`` when it is read.

Records (all carry ``event`` and ``at``):

* ``run``: an executor began (``plan_sha256``, ``pid``, ``resume_at``);
* ``step-start``: a step runner took step ``step`` (``name``, ``kind``, ``pid``);
* ``attempt``: one attempt (``phase`` step or verify, ``ok``, ``summary``,
  ``exit_code``, ``status``, ``timed_out``, ``output_tail``, ``duration_s``);
* ``step-end``: the step's ``outcome`` (ok, failed, interrupted) and ``attempts``;
* ``finish``: the executor's outcome (ok, failed, interrupted) and ``failed_step``;
* ``restart``: --restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate.errors import RollbackError
from gate.fsutil import exclusive_lock, read_regular

JOURNAL_DIR_ENV = "GATE_JOURNAL_DIR"


def journal_dir(plan: Path, option: str | None, env: Mapping[str, str]) -> str:
    """The journal folder as the user named it: ``--journal-dir``, else ``$GATE_JOURNAL_DIR``,
    else the plan's folder."""
    return option or env.get(JOURNAL_DIR_ENV) or str(plan.parent)


def journal_path(directory: Path, plan_sha256: str) -> Path:
    """The journal of the plan with digest ``plan_sha256`` in ``directory``."""
    return directory / f"rollback-{plan_sha256}.journal.jsonl"


def lock_path(journal: Path) -> Path:
    """The lock that one execution of the plan holds (its step runners inherit it)."""
    return journal.with_name(journal.name.removesuffix(".jsonl") + ".lock")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Journal:
    """Append and read the records of one plan's executions."""

    def __init__(self, path: Path, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown or str(path)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line, then flush it to disk (fsync)."""
        line = json.dumps({"at": now(), **record}, ensure_ascii=False) + "\n"
        created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                data = line.encode("utf-8")
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:  # make the new directory entry durable too
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as e:
            raise RollbackError(f"cannot write the journal: {e.strerror}", path=self.shown,
                                hint="the journal must be writable beside the plan") from e

    def _bytes(self) -> bytes:
        try:
            return read_regular(self.path)  # a FIFO or device is refused, never waited on
        except FileNotFoundError:
            return b""
        except OSError as e:
            raise RollbackError(f"cannot read the journal: {e.strerror}", path=self.shown) from e

    def _damaged(self, n: int, what: str, pointer: str | None = None) -> RollbackError:
        return RollbackError(
            f"line {n} of the journal {what}", path=self.shown, line=n, pointer=pointer,
            hint="the journal was edited or damaged: check which steps really ran, then move "
            "it aside (or pass --restart to begin a fresh session)",
        )

    def records(self, steps: int | None = None) -> list[dict[str, Any]]:
        """Every complete record, oldest first; a torn last line is left out.

        Each record must match the journal-record schema, and (given the plan's
        number of ``steps``) name a step the plan has.
        """
        from gate.documents import parse_json
        from gate.errors import DocumentError
        from gate.schemas import first_problem

        lines = self._bytes().split(b"\n")
        out = []
        for n, raw in enumerate(lines[:-1], start=1):  # the last piece has no newline
            if not raw.strip():
                continue
            try:
                record = parse_json(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise self._damaged(n, f"is not UTF-8 text (byte {e.start})") from e
            except DocumentError as e:
                raise self._damaged(n, f"is not a JSON record ({e.message})") from e
            problem = first_problem(record, "journal-record")
            if problem is not None:
                raise self._damaged(n, f"is not a journal record: {problem[1]}", problem[0])
            step = record.get("step", record.get("failed_step", record.get("resume_at")))
            if steps is not None and isinstance(step, int) and step >= steps:
                raise self._damaged(n, f"names step {step}, and the plan has {steps} steps "
                                    "(counting from 0)")
            out.append(record)
        return out

    def repair(self) -> bool:
        """Cut off a torn last line (a crash mid-write); True if one was cut."""
        data = self._bytes()
        if not data or data.endswith(b"\n"):
            return False
        keep = data.rfind(b"\n") + 1
        with self.path.open("r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        return True


def session(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records since the last restart."""
    starts = [i for i, r in enumerate(records) if r["event"] == "restart"]
    return list(records[starts[-1] + 1:] if starts else records)


@dataclass(frozen=True)
class Progress:
    """Where a plan's execution stands, from its journal session."""

    plan_sha256: str | None  # of the plan this session executes (None: no run yet)
    completed: frozenset[int]  # steps whose last end was ok
    interrupted: frozenset[int]  # steps started but never ended (a runner was killed)
    last_end: Mapping[int, Mapping[str, Any]]

    @classmethod
    def of(cls, records: Sequence[Mapping[str, Any]]) -> Progress:
        sha = None
        started: set[int] = set()
        ends: dict[int, Mapping[str, Any]] = {}
        for r in session(records):
            if r["event"] == "run" and sha is None:
                sha = r.get("plan_sha256")
            elif r["event"] == "step-start":
                started.add(int(r["step"]))
                ends.pop(int(r["step"]), None)
            elif r["event"] == "step-end":
                ends[int(r["step"])] = r
        done = frozenset(i for i, r in ends.items() if r.get("outcome") == "ok")
        return cls(sha, done, frozenset(started - set(ends)), ends)


def plan_lock(path: Path, shown: str, on_wait: Any = None) -> AbstractContextManager[int]:
    """Hold an exclusive lock on ``path`` (blocking); yields its fd so step runners inherit it."""
    return exclusive_lock(path, shown, on_wait=on_wait, error=RollbackError)
