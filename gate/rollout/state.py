"""rollout-state.json: what `gate rollout` keeps between polls, beside rollout-decision.json.

Per stage: when it was first polled (the bake clock when neither --elapsed
nor --started-at is given), how many polls ran, and each sequential test's
state, so the next poll continues the same test instead of starting a new
one. The file belongs to one candidate version; a state left by another
version is set aside (a new rollout starts), and --reset-state starts over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gate.durations import iso_time
from gate.errors import RolloutError, json_path
from gate.fsutil import write_json
from gate.rollout.stats import SequentialState

KIND = "gate.rollout-state"
VERSION = 1


@dataclass(frozen=True)
class RolloutState:
    """The persisted polls of one candidate's rollout."""

    model_name: str
    model_version: str
    stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The artifacts' digests with the identity of the file they were computed from, so a
    # poll does not hash an unchanged artifact again (gate.bundle.artifacts.known_digests).
    artifacts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def first_poll_at(self, stage: str) -> str | None:
        return self.stages.get(stage, {}).get("first_poll_at")

    def tests(self, stage: str) -> dict[str, SequentialState]:
        raw = self.stages.get(stage, {}).get("tests", {})
        return {k: SequentialState.from_json(v) for k, v in raw.items()}

    def polled(self, stage: str, now: datetime, tests: Mapping[str, SequentialState],
               decision: str) -> RolloutState:
        """This state after one more poll of ``stage``."""
        before = self.stages.get(stage, {})
        at = now.isoformat(timespec="seconds")
        entry = {
            "first_poll_at": before.get("first_poll_at", at),
            "last_poll_at": at,
            "polls": int(before.get("polls", 0)) + 1,
            "last_decision": decision,
            "tests": {**before.get("tests", {}), **{k: v.to_json() for k, v in tests.items()}},
        }
        return RolloutState(self.model_name, self.model_version, {**self.stages, stage: entry},
                            self.artifacts)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": KIND, "version": VERSION,
                               "model": {"name": self.model_name, "version": self.model_version},
                               "stages": dict(self.stages)}
        if self.artifacts:
            doc["artifacts"] = dict(self.artifacts)
        return doc


def _damaged(shown: str, why: str, pointer: str | None = None, **where: Any) -> RolloutError:
    return RolloutError(
        f"the rollout state is damaged: {why}", path=shown, pointer=pointer,
        hint="restore the file, or pass --reset-state to start the stage's analysis over "
        "(the bake clock and the sequential tests restart from no evidence)", **where,
    )


def load_state(path: Path, shown: str, *, model_name: str,
               model_version: str) -> tuple[RolloutState, str | None]:
    """The state for this candidate (fresh if there is none) and a note if one was set aside.

    The file must match ``gate schema rollout-state``: a damaged file (a naive
    time, a count that is not a number, no stages, bytes that are not UTF-8) is
    an error naming the place, never read as a fresh start.
    """
    from gate.documents import read_document
    from gate.errors import DocumentError
    from gate.schemas import first_problem

    fresh = RolloutState(model_name, model_version)
    try:  # a FIFO or device is refused
        doc, _ = read_document(path, shown, error=RolloutError, missing=None,
                               unreadable="cannot read the rollout state",
                               not_utf8="it is not UTF-8 text (byte {start})",
                               encoding="utf-8", json_only=True)
    except FileNotFoundError:
        return fresh, None
    except DocumentError as e:
        raise _damaged(shown, e.message, line=e.line, col=e.col) from e
    problem = first_problem(doc, "rollout-state")
    if problem is not None:
        raise _damaged(shown, f"{problem[0]}: {problem[1]}", problem[0])
    for name, stage in doc["stages"].items():
        for key in ("first_poll_at", "last_poll_at"):
            try:
                iso_time(stage[key])
            except ValueError as e:
                raise _damaged(shown, f"{stage[key]!r} is not a time",
                               json_path(["stages", name, key])) from e
    state = RolloutState(doc["model"]["name"], doc["model"]["version"], doc["stages"],
                         doc.get("artifacts", {}))
    if (state.model_name, state.model_version) != (model_name, model_version):
        return fresh, (f"{shown} was left by {state.model_name} {state.model_version}; "
                       f"a new rollout of {model_name} {model_version} starts")
    return state, None


def save_state(path: Path, state: RolloutState) -> str:
    """Write the state atomically; returns its sha256."""
    return write_json(path, state.to_json())
