"""The execution journal beside a rollback plan: JSON lines, each flushed and fsynced.

``rollback-plan.json`` -> ``rollback-plan.journal.jsonl`` (and a ``.lock``).
The journal is append-only; a ``restart`` record starts a new session and
everything before it is history. A record counts only once its line is
complete: a line torn by a crash mid-write is ignored and cut off under the
lock before the next run appends.

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
from gate.fsutil import exclusive_lock


def journal_path(plan: Path) -> Path:
    """Where the journal of ``plan`` lives: beside it."""
    return plan.with_name(plan.stem + ".journal.jsonl")


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

    def _text(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        except OSError as e:
            raise RollbackError(f"cannot read the journal: {e.strerror}", path=self.shown) from e

    def records(self) -> list[dict[str, Any]]:
        """Every complete record, oldest first; a torn last line is left out."""
        text = self._text()
        lines = text.split("\n")
        out = []
        for n, line in enumerate(lines[:-1], start=1):  # the last piece has no newline
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                raise RollbackError(
                    f"line {n} of the journal is not a JSON record", path=self.shown, line=n,
                    hint="the journal was edited or damaged; move it aside (or pass --restart "
                    "to begin a fresh session after checking which steps ran)",
                ) from e
            if not isinstance(record, dict) or "event" not in record:
                raise RollbackError(f"line {n} of the journal is not a journal record",
                                    path=self.shown, line=n,
                                    hint="move the journal aside, or pass --restart")
            out.append(record)
        return out

    def repair(self) -> bool:
        """Cut off a torn last line (a crash mid-write); True if one was cut."""
        text = self._text()
        if not text or text.endswith("\n"):
            return False
        keep = text.rfind("\n") + 1
        with self.path.open("r+b") as fh:
            fh.truncate(len(text[:keep].encode("utf-8")))
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
