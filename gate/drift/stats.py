"""Drift statistics from summaries: no raw rows, no scipy.

Every function takes what the engines return (value counts, bin counts and
per-bin sums, category counts) and computes one statistic. The definitions
are those of the reference implementations the tests compare against:

* **KS** (two-sample Kolmogorov-Smirnov, two-sided): the statistic is the
  largest gap between the two empirical CDFs, computed from cumulative counts
  as the integer ``max |c1 * n2 - c2 * n1|`` over ``n1 * n2``. The p-value is
  **exact** when both samples have at most ``EXACT_KS_MAX_N`` values (the rule
  scipy's ``ks_2samp(method="auto")`` uses): the share of the
  ``C(n1 + n2, n1)`` orderings of the pooled sample whose lattice path leaves
  the band ``|i * n2 - j * n1| < D * n1 * n2``, counted by dynamic programming
  row by row in log space (so no count overflows). Like scipy's exact method
  it assumes no ties; the share is summed over the paths that leave, so tiny
  p-values keep their relative precision. For larger samples it is the
  **asymptotic** Kolmogorov distribution ``Q(l) = 2 sum (-1)^(k-1) exp(-2 k^2 l^2)`` at Stephens'
  corrected ``l = (sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * D``,
  ``ne = n1 n2 / (n1 + n2)``; scipy uses the one-sample exact distribution at
  ``n = round(ne)`` there, and the two agree to about 1.5 % (relative) from
  ``ne = 10,000`` up and better as ``ne`` grows (tests/test_drift_stats.py).
* **Wasserstein** (first Wasserstein, earth mover's distance, 1-D):
  ``integral |F1 - F2| dx`` over the pooled support of two weighted point
  sets; **normalised** by the reference's standard deviation (population,
  floored at 0.001 as Evidently does, so a constant reference does not
  divide by zero).
* **PSI**: ``sum (a - e) ln(a / e)`` over the reference's quantile bins,
  ``e`` and ``a`` the reference's and current's shares per bin, a share of 0
  counted as ``PSI_FLOOR`` (0.0001, as Evidently does).
* **Chi-squared** goodness of fit of the current's category counts against
  the reference's shares (scipy's ``chisquare(f_obs, f_exp)``), over the
  categories the reference has; its p-value is the upper tail of the
  chi-squared distribution with ``k - 1`` degrees of freedom (the regularised
  incomplete gamma function, by its series or continued fraction).
* **Jensen-Shannon distance** (natural log, scipy's ``jensenshannon``) and
  **L-infinity distance** (TFDV's drift measure: the largest difference of a
  category's share) over the union of the categories.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

EXACT_KS_MAX_N = 10_000
PSI_FLOOR = 0.0001
STD_FLOOR = 0.001

FloatArray = Any  # numpy arrays (numpy's stubs are not part of gate's typing)


# --- Kolmogorov-Smirnov ------------------------------------------------------------------


def ks_numerator(cum1: FloatArray, cum2: FloatArray, n1: int, n2: int) -> int:
    """``max |c1 * n2 - c2 * n1|`` over matching cumulative counts (exact, in integers)."""
    best = 0
    for c1, c2 in zip(cum1, cum2, strict=True):
        gap = abs(int(c1) * n2 - int(c2) * n1)
        best = max(best, gap)
    return best


def ks_exact_p_value(numerator: int, n1: int, n2: int) -> float:
    """P(D >= d) for the two-sided two-sample statistic ``d = numerator / (n1 n2)``.

    The orderings of the pooled sample are the monotone lattice paths from (0, 0)
    to (n2, n1) (row i: how many of sample 2 so far, column j: of sample 1); D >= d
    when a path leaves the band ``|i * n1 - j * n2| < numerator``. Row by row, the
    number of paths that reach each cell without having left is a cumulative sum of
    the row before over the band (in log space, so nothing overflows); every path
    that leaves does so by one step from an inside cell, counted there and
    multiplied by its ways on to the end. Summing those positive terms (rather than
    taking one minus the paths that stay) keeps tiny p-values accurate.
    """
    if numerator <= 0:
        return 1.0
    if n1 < n2:  # fewer, longer rows: the loop is over the smaller sample
        n1, n2 = n2, n1
    log_fact = np.array([math.lgamma(k + 1) for k in range(n1 + n2 + 1)])

    def onward(i: int, j: Any) -> Any:  # log of the paths from (i, j) to (n2, n1)
        a, b = n2 - i, n1 - j
        return log_fact[a + b] - log_fact[a] - log_fact[b]

    def band(i: int) -> tuple[int, int]:
        lo = max(0, (i * n1 - numerator) // n2 + 1)
        hi = min(n1, -((-(i * n1 + numerator)) // n2) - 1)
        return lo, hi

    exits: list[Any] = []
    previous = np.full(n1 + 1, -np.inf)
    previous[0] = 0.0  # log(1): the empty path, "above" row 0
    prev_lo, prev_hi = 0, 0
    for i in range(n2 + 1):
        lo, hi = band(i)
        row = np.full(n1 + 1, -np.inf)
        if lo <= hi:
            row[lo:hi + 1] = np.logaddexp.accumulate(previous[lo:hi + 1])
        if i > 0:  # down from an inside cell of the row before into an outside one
            js = np.arange(prev_lo, prev_hi + 1)
            js = js[(js < lo) | (js > hi)]
            if js.size:
                exits.append(previous[js] + onward(i, js))
        if lo <= hi < n1:  # across from the last inside cell of this row
            exits.append(np.array([row[hi] + onward(i, np.array([hi + 1]))[0]]))
        previous, prev_lo, prev_hi = row, lo, hi
    if not exits:
        return 0.0
    terms = np.concatenate(exits)
    top = float(np.max(terms))
    if not np.isfinite(top):
        return 0.0
    log_out = top + math.log(float(np.sum(np.exp(terms - top))))
    log_all = float(onward(0, np.array([0]))[0])
    return min(1.0, max(0.0, math.exp(log_out - log_all)))


def kolmogorov_sf(lam: float) -> float:
    """Q(lambda) = P(K > lambda) for the Kolmogorov distribution (the limit of sqrt(n) D)."""
    if lam <= 0:
        return 1.0
    if lam < 1.18:  # the theta-function form converges fast for small lambda
        y = math.exp(-math.pi ** 2 / (8 * lam * lam))
        total = sum(y ** ((2 * k - 1) ** 2) for k in range(1, 6))
        return max(0.0, min(1.0, 1.0 - math.sqrt(2 * math.pi) / lam * total))
    total, k = 0.0, 1
    while True:
        term = math.exp(-2 * k * k * lam * lam)
        total += term if k % 2 else -term
        if term < 1e-300 or k > 100:
            break
        k += 1
    return max(0.0, min(1.0, 2 * total))


def ks_asymptotic_p_value(d: float, n1: int, n2: int) -> float:
    """Kolmogorov's limit with Stephens' small-sample correction."""
    ne = n1 * n2 / (n1 + n2)
    root = math.sqrt(ne)
    return kolmogorov_sf((root + 0.12 + 0.11 / root) * d)


def ks_p_value(numerator: int, n1: int, n2: int) -> tuple[float, str]:
    """(p-value, method): exact for samples up to EXACT_KS_MAX_N each, else asymptotic."""
    if max(n1, n2) <= EXACT_KS_MAX_N:
        return ks_exact_p_value(numerator, n1, n2), "exact"
    return ks_asymptotic_p_value(numerator / (n1 * n2), n1, n2), "asymptotic"


# --- Wasserstein ------------------------------------------------------------------------


def wasserstein(values1: FloatArray, weights1: FloatArray, values2: FloatArray,
                weights2: FloatArray) -> float:
    """First Wasserstein distance of two weighted point sets (weights need not sum to 1)."""
    v1, w1 = np.asarray(values1, dtype=float), np.asarray(weights1, dtype=float)
    v2, w2 = np.asarray(values2, dtype=float), np.asarray(weights2, dtype=float)
    o1, o2 = np.argsort(v1, kind="stable"), np.argsort(v2, kind="stable")
    v1, w1, v2, w2 = v1[o1], w1[o1], v2[o2], w2[o2]
    grid = np.sort(np.concatenate([v1, v2]))
    cdf1 = np.concatenate([[0.0], np.cumsum(w1)]) / w1.sum()
    cdf2 = np.concatenate([[0.0], np.cumsum(w2)]) / w2.sum()
    f1 = cdf1[np.searchsorted(v1, grid[:-1], side="right")]
    f2 = cdf2[np.searchsorted(v2, grid[:-1], side="right")]
    return float(np.sum(np.abs(f1 - f2) * np.diff(grid)))


def normalised(distance: float, reference_std: float) -> float:
    """A distance in units of the reference's standard deviation (floored at STD_FLOOR)."""
    return distance / max(reference_std, STD_FLOOR)


# --- PSI -----------------------------------------------------------------------------------


def psi(reference_counts: FloatArray, current_counts: FloatArray) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = np.asarray(reference_counts, dtype=float)
    a = np.asarray(current_counts, dtype=float)
    e = np.maximum(e / e.sum(), PSI_FLOOR)
    a = np.maximum(a / a.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


# --- chi-squared ---------------------------------------------------------------------------


def _gamma_series(a: float, x: float) -> float:
    """P(a, x) by its power series (x < a + 1)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(100_000):
        ap += 1
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-16:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_fraction(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction, evaluated with the modified Lentz method."""
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X > statistic) for X ~ chi-squared with ``dof`` degrees of freedom."""
    if dof <= 0:
        return math.nan
    if statistic <= 0:
        return 1.0
    a, x = dof / 2, statistic / 2
    if x < a + 1:
        return max(0.0, 1.0 - _gamma_series(a, x))
    return max(0.0, min(1.0, _gamma_fraction(a, x)))


def chi_squared(reference: Mapping[str, int], current: Mapping[str, int]
                ) -> tuple[float, float] | None:
    """(statistic, p-value) of the current's counts against the reference's shares.

    Over the categories the reference has (the current's other values are the
    never-seen categories, reported apart). None when fewer than two categories
    or no current value falls in the reference's categories.
    """
    keys = sorted(k for k, v in reference.items() if v > 0)
    observed = np.array([current.get(k, 0) for k in keys], dtype=float)
    expected = np.array([reference[k] for k in keys], dtype=float)
    if len(keys) < 2 or observed.sum() == 0:
        return None
    expected = expected / expected.sum() * observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, chi2_sf(statistic, len(keys) - 1)


# --- categorical distances ---------------------------------------------------------------


def _shares(reference: Mapping[str, int], current: Mapping[str, int]
            ) -> tuple[FloatArray, FloatArray]:
    keys = sorted(set(reference) | set(current))
    p = np.array([reference.get(k, 0) for k in keys], dtype=float)
    q = np.array([current.get(k, 0) for k in keys], dtype=float)
    return p / p.sum(), q / q.sum()


def jensen_shannon(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """Jensen-Shannon distance (square root of the divergence, natural log)."""
    p, q = _shares(reference, current)
    m = (p + q) / 2

    def kl(x: FloatArray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log(x[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def l_infinity(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """The largest difference between a category's share on the two sides."""
    p, q = _shares(reference, current)
    return float(np.max(np.abs(p - q)))
