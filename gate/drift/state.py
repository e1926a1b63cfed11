"""drift-state.json: since when each feature has drifted, across scheduled `gate drift` runs.

One entry per drifting feature (``check/feature``): ``since`` (the first run
of the current streak that saw it drift), ``last`` and ``runs``. A feature
that stops drifting leaves the file; a run that errors leaves it untouched.
A damaged file is an error (exit 2) naming it, with ``--reset-state`` as the
way out, never silently started over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gate.documents import load_file
from gate.errors import DocumentError, DriftError
from gate.fsutil import write_json

KIND = "gate.drift-state"
VERSION = 1


def load_state(path: Path, shown: str, *, model: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The features of the state file (empty when there is none, or it is another model's)."""
    if not path.exists():
        return {}
    try:
        doc = load_file(path, shown)
    except DocumentError as e:
        raise DriftError(f"cannot read the drift state: {e.message}", path=shown, line=e.line,
                         col=e.col, hint="pass --reset-state to start the record over") from e
    features = doc.get("features") if isinstance(doc, dict) else None
    if (not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(features, dict)
            or not all(isinstance(v, dict) and isinstance(v.get("since"), str)
                       and isinstance(v.get("runs"), int) for v in features.values())):
        raise DriftError("the drift state is not a gate drift-state document", path=shown,
                         hint="pass --reset-state to start the record over")
    if doc.get("model") != dict(model):  # another model's record says nothing about this one
        return {}
    return {str(k): dict(v) for k, v in features.items()}


def advance(features: Mapping[str, Mapping[str, Any]], drifting: Iterable[str],
            now: str) -> dict[str, dict[str, Any]]:
    """The state after a run in which ``drifting`` (check/feature keys) drifted."""
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(drifting)):
        before = features.get(key)
        out[key] = {"since": before["since"] if before else now, "last": now,
                    "runs": int(before["runs"]) + 1 if before else 1}
    return out


def save_state(path: Path, model: Mapping[str, str], features: Mapping[str, Any]) -> str:
    """Write the state; returns its sha256."""
    return write_json(path, {"kind": KIND, "version": VERSION, "model": dict(model),
                             "features": dict(features)})
