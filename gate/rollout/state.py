"""rollout-state.json: what `gate rollout` keeps between polls, beside rollout-decision.json.

Per stage: when it was first polled (the bake clock when neither --elapsed
nor --started-at is given), how many polls ran, and each sequential test's
state, so the next poll continues the same test instead of starting a new
one. The file belongs to one candidate version; a state left by another
version is set aside (a new rollout starts), and --reset-state starts over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gate.errors import RolloutError
from gate.fsutil import write_json
from gate.rollout.stats import SequentialState

STATE_FILE = "rollout-state.json"
KIND = "gate.rollout-state"
VERSION = 1


@dataclass(frozen=True)
class RolloutState:
    """The persisted polls of one candidate's rollout."""

    model_name: str
    model_version: str
    stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

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
        return RolloutState(self.model_name, self.model_version, {**self.stages, stage: entry})

    def to_json(self) -> dict[str, Any]:
        return {"kind": KIND, "version": VERSION,
                "model": {"name": self.model_name, "version": self.model_version},
                "stages": dict(self.stages)}


def load_state(path: Path, shown: str, *, model_name: str,
               model_version: str) -> tuple[RolloutState, str | None]:
    """The state for this candidate (fresh if there is none) and a note if one was set aside."""
    fresh = RolloutState(model_name, model_version)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return fresh, None
    except OSError as e:
        raise RolloutError(f"cannot read the rollout state: {e.strerror}", path=shown) from e
    try:
        doc = json.loads(text)
        if doc.get("kind") != KIND or doc.get("version") != VERSION:
            raise ValueError(f"not a {KIND} version {VERSION} document")
        model = doc["model"]
        state = RolloutState(str(model["name"]), str(model["version"]), dict(doc["stages"]))
        for stage in state.stages:  # parse every test now, so a damaged file fails here
            state.tests(stage)
            datetime.fromisoformat(str(state.first_poll_at(stage)))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise RolloutError(
            f"the rollout state is damaged ({type(e).__name__}: {e})", path=shown,
            hint="pass --reset-state to start the stage's analysis over (the sequential "
            "tests restart from no evidence)",
        ) from e
    if (state.model_name, state.model_version) != (model_name, model_version):
        return fresh, (f"{shown} was left by {state.model_name} {state.model_version}; "
                       f"a new rollout of {model_name} {model_version} starts")
    return state, None


def save_state(path: Path, state: RolloutState) -> str:
    """Write the state atomically; returns its sha256."""
    return write_json(path, state.to_json())
