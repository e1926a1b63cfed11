"""One feature, two sides' summaries -> its statistics (pure; numbers in, numbers out).

Numeric features take one of two paths, named in the result as ``method``:

* ``exact``: both sides' value counts (at most ``exact_max_rows`` finite values
  a side). Every statistic is exact; KS's p-value is exact up to
  ``EXACT_KS_MAX_N`` values a side.
* ``binned``: the reference's quantiles at ``bins`` ranks are the edges, and
  each side's count, sum and centred square sum per bin come from its engine.
  PSI is exact (its decile edges are among the edges). KS is exact at the
  edges; the true statistic can exceed it by at most the largest share of a
  side in one bin, reported as ``precision.ks``. Wasserstein treats each
  bin's values as sitting at their mean; the error is at most half the sum
  over bins of both sides' shares times the bin's width, reported
  (normalised) as ``precision.wasserstein_norm``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gate.drift import stats
from gate.drift.summarisers import Bins, NumericOverview

NUMERIC_STATISTICS = ("psi", "ks", "ks_p_value", "wasserstein", "wasserstein_norm")
CATEGORICAL_STATISTICS = ("chi2", "chi2_p_value", "jensen_shannon", "linf")
UNSEEN_SHOWN = 10


def ranks(n: int, parts: int) -> list[int]:
    """1-based ranks of the ``parts``-quantiles of n sorted values: ceil(k n / parts), k < parts."""
    return sorted({(k * n + parts - 1) // parts for k in range(1, parts)})


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _side(n: int, total: float, square_sum: float, lo: float | None, hi: float | None
          ) -> dict[str, float | None]:
    mean = total / n
    return {"mean": _finite(mean), "std": _finite(math.sqrt(max(square_sum, 0.0) / n)),
            "min": lo, "max": hi}


def empty_numeric() -> dict[str, Any]:
    """The statistics of a feature one side has no finite value of."""
    return {"method": None, "statistics": dict.fromkeys(NUMERIC_STATISTICS),
            "precision": {}, "ks_method": None}


def numeric_exact(reference: Sequence[tuple[float, int]], current: Sequence[tuple[float, int]],
                  psi_bins: int) -> dict[str, Any]:
    """Statistics from both sides' value counts (sorted or not)."""
    rv, rc = _arrays(reference)
    cv, cc = _arrays(current)
    n1, n2 = int(rc.sum()), int(cc.sum())
    grid = np.union1d(rv, cv)
    cum1 = _cumulative(rv, rc, grid)
    cum2 = _cumulative(cv, cc, grid)
    numerator = stats.ks_numerator(cum1, cum2, n1, n2)
    p_value, ks_method = stats.ks_p_value(numerator, n1, n2)
    total1, total2 = float(np.dot(rv, rc)), float(np.dot(cv, cc))
    ref = _side(n1, total1, float(np.dot(rc, (rv - total1 / n1) ** 2)),
                float(rv.min()), float(rv.max()))
    cur = _side(n2, total2, float(np.dot(cc, (cv - total2 / n2) ** 2)),
                float(cv.min()), float(cv.max()))
    distance = stats.wasserstein(rv, rc, cv, cc)
    running = np.cumsum(rc)
    edges = np.unique(rv[np.searchsorted(running, ranks(n1, psi_bins), side="left")])
    psi = stats.psi(_bin_counts(rv, rc, edges), _bin_counts(cv, cc, edges))
    return {
        "method": "exact", "ks_method": ks_method,
        "statistics": {"psi": psi, "ks": numerator / (n1 * n2), "ks_p_value": p_value,
                       "wasserstein": distance,
                       "wasserstein_norm": stats.normalised(distance, ref["std"] or 0.0)},
        "precision": {"ks": 0.0, "wasserstein_norm": 0.0},
        "summary": {"reference": ref, "current": cur},
    }


def numeric_binned(edges: Sequence[float], psi_edges: Sequence[float], reference: Bins,
                   current: Bins, ref_overview: NumericOverview,
                   cur_overview: NumericOverview) -> dict[str, Any]:
    """Statistics from per-bin counts, sums and centred squares over the reference's edges."""
    c1 = np.asarray(reference.counts, dtype=float)
    c2 = np.asarray(current.counts, dtype=float)
    n1, n2 = int(sum(reference.counts)), int(sum(current.counts))
    cum1 = np.cumsum(np.asarray(reference.counts, dtype=object))[:-1]  # exact integers
    cum2 = np.cumsum(np.asarray(current.counts, dtype=object))[:-1]
    numerator = stats.ks_numerator(cum1, cum2, n1, n2)
    p_value, ks_method = stats.ks_p_value(numerator, n1, n2)
    s1, s2 = np.asarray(reference.sums, dtype=float), np.asarray(current.sums, dtype=float)
    ref = _side(n1, float(s1.sum()), float(sum(reference.squares)), ref_overview.minimum,
                ref_overview.maximum)
    cur = _side(n2, float(s2.sum()), float(sum(current.squares)), cur_overview.minimum,
                cur_overview.maximum)
    m1, m2 = c1 > 0, c2 > 0
    distance = stats.wasserstein(s1[m1] / c1[m1], c1[m1], s2[m2] / c2[m2], c2[m2])
    low = min(v for v in (ref_overview.minimum, cur_overview.minimum) if v is not None)
    high = max(v for v in (ref_overview.maximum, cur_overview.maximum) if v is not None)
    bounds = np.concatenate([[low], np.asarray(edges, dtype=float), [high]])
    widths = np.maximum(np.diff(bounds), 0.0)
    shares1, shares2 = c1 / n1, c2 / n2
    std = ref["std"] or 0.0
    fine = np.asarray(edges, dtype=float)
    coarse = np.concatenate([[0], np.searchsorted(np.asarray(psi_edges, dtype=float),
                                                  fine, side="right")])
    size = len(psi_edges) + 1
    psi = stats.psi(np.bincount(coarse, weights=c1, minlength=size),
                    np.bincount(coarse, weights=c2, minlength=size))
    return {
        "method": "binned", "ks_method": ks_method,
        "statistics": {"psi": psi, "ks": numerator / (n1 * n2), "ks_p_value": p_value,
                       "wasserstein": distance,
                       "wasserstein_norm": stats.normalised(distance, std)},
        "precision": {
            "ks": float(np.max(np.maximum(shares1, shares2))),
            # a bin's mass moved to its mean travels at most half the bin's width on average
            "wasserstein_norm": stats.normalised(
                float(np.sum((shares1 + shares2) * widths)) / 2, std),
        },
        "summary": {"reference": ref, "current": cur},
    }


def categorical(reference: Mapping[str, int], current: Mapping[str, int]) -> dict[str, Any]:
    """Chi-squared, Jensen-Shannon, L-infinity and the never-seen categories."""
    statistics: dict[str, float | None] = dict.fromkeys(CATEGORICAL_STATISTICS)
    unseen = {k: v for k, v in current.items() if reference.get(k, 0) == 0}
    total_current = sum(current.values())
    if reference and current:
        chi = stats.chi_squared(reference, current)
        if chi is not None:
            statistics["chi2"], statistics["chi2_p_value"] = chi
        statistics["jensen_shannon"] = stats.jensen_shannon(reference, current)
        statistics["linf"] = stats.l_infinity(reference, current)
    shown = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:UNSEEN_SHOWN]
    return {
        "statistics": {k: _finite(v) for k, v in statistics.items()},
        "categories": {"reference": len(reference), "current": len(current)},
        "unseen": {"count": sum(unseen.values()), "categories": len(unseen),
                   "share": (sum(unseen.values()) / total_current) if total_current else 0.0,
                   "values": [k for k, _ in shown]},
    }


def category_key(value: Any) -> str:
    """A category as the same string on every engine (1, 1.0 and True are "1", "1", "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _arrays(pairs: Sequence[tuple[float, int]]) -> tuple[Any, Any]:
    values = np.array([float(v) for v, _ in pairs], dtype=float)
    counts = np.array([int(n) for _, n in pairs], dtype=np.int64)
    order = np.argsort(values, kind="stable")
    return values[order], counts[order]


def _cumulative(values: Any, counts: Any, grid: Any) -> list[int]:
    running = np.concatenate([[0], np.cumsum(counts)])
    return [int(x) for x in running[np.searchsorted(values, grid, side="right")]]


def _bin_counts(values: Any, counts: Any, edges: Any) -> Any:
    index = np.searchsorted(edges, values, side="left")
    return np.bincount(index, weights=counts.astype(float), minlength=len(edges) + 1)
