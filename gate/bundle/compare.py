"""Candidate vs. baseline metrics -> ``input.evaluation.comparison`` (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from gate.errors import DocumentError, json_path


def compare(
    candidate: Mapping[str, float],
    baseline: Mapping[str, float],
    *,
    path: str | None = None,
) -> dict[str, dict[str, float | None]]:
    """For each metric both reports have: candidate, baseline, delta and relative delta.

    ``delta = candidate - baseline``; ``relative_delta = delta / |baseline|``,
    null when the baseline is 0 or the ratio is too large to be a number.
    Metrics only one side has are left out. ``path`` (the baseline report)
    is named if a difference cannot be represented at all.
    """
    out: dict[str, dict[str, float | None]] = {}
    for name, cand in candidate.items():
        if name not in baseline:
            continue
        base = baseline[name]
        try:
            delta = cand - base
        except OverflowError:  # a huge integer minus a float does not fit a float
            delta = math.inf
        if isinstance(delta, float) and not math.isfinite(delta):
            raise DocumentError(
                f"metric '{name}': candidate {cand} and baseline {base} differ by more than a "
                "number can hold",
                path=path,
                pointer=json_path(["metrics", name]),
                hint="check the metric's values in both reports",
            )
        try:
            relative: float | None = delta / abs(base) if base != 0 else None
        except OverflowError:  # the ratio of huge integers does not fit a float
            relative = None
        if relative is not None and not math.isfinite(relative):
            relative = None
        out[name] = {"candidate": cand, "baseline": base, "delta": delta,
                     "relative_delta": relative}
    return out
