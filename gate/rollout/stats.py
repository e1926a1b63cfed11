r"""The statistics of a canary analysis: pure functions, standard library only.

Summaries
    ``summarize`` gives n, mean, sample standard deviation and the 50th, 90th
    and 99th percentiles (linear interpolation between order statistics, as
    numpy's default).

Mann-Whitney U (a fixed-horizon test)
    U of the canary sample x against the baseline y counts the pairs in which
    x wins, ties counting one half: ``U = R_x - n_x (n_x + 1) / 2`` with R_x the
    sum of x's mid-ranks in the pooled sample. Under H0 (both samples from one
    distribution) U has mean ``n_x n_y / 2`` and, with tie groups of sizes t,
    variance ``n_x n_y / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1)))``.
    The asymptotic p-value is the normal tail of ``(U - mean - 1/2) / sd`` (the
    1/2 is the continuity correction). Without ties and with a sample of at
    most 8 the exact null distribution is used instead: the number of
    orderings with U = u is the coefficient of q^u in the Gaussian binomial
    coefficient [n_x + n_y choose n_x]_q (Mann and Whitney, 1947). These are the
    conventions of ``scipy.stats.mannwhitneyu`` (``method="auto"``), which the
    tests compare against. "greater" means the canary tends to be larger.

Mixture sequential probability ratio test (an anytime-valid test)
    A fixed-horizon test may be looked at once. Re-run at every poll of a
    canary it rejects a healthy canary far more often than its alpha (the
    simulation in benchmarks/rollout_simulation.py measures how much). The
    mixture SPRT of Robbins (1970), as used for A/B tests by Johari, Koomen,
    Pekelis and Walsh ("Always Valid Inference: Continuous Monitoring of A/B
    Tests", Operations Research 70(3), 2022), instead gives a statistic that
    may be checked after every sample and still errs with probability at most
    alpha over the whole, unbounded, sequence of looks.

    The estimate is the difference of means ``d = mean_c - mean_b``; its
    variance ``V = s_c^2 / n_c + s_b^2 / n_b`` uses the sample variances (a
    plug-in, asymptotically valid as in Johari et al., section 4). With the
    standardised statistic ``z = d / sqrt(V)`` and the effective sample size
    ``m = n_c n_b / (n_c + n_b)``, the likelihood ratio of "difference theta"
    against "no difference", averaged over a normal mixing distribution
    ``theta ~ N(0, tau^2 sigma^2)`` (``sigma^2 = m V``, so tau is an effect size
    in standard deviations), is, with ``r = tau^2 m``::

        Lambda = (1 + r)^(-1/2) * exp(z^2 r / (2 (1 + r)))                (two-sided)

    For a one-sided question ("did the canary get worse?") the mixing
    distribution is the half-normal on the harmful side, which gives::

        Lambda = 2 (1 + r)^(-1/2) * exp(z^2 r / (2 (1 + r))) * Phi(z sqrt(r / (1 + r)))

    with z oriented so that positive is harmful. Under H0 each Lambda is a
    nonnegative martingale with mean 1 (one-sided: a supermartingale for every
    theta on the harmless side), so by Ville's inequality
    ``P(sup_n Lambda_n >= 1/alpha) <= alpha``. The always-valid p-value is
    ``p_n = min(1, 1 / max_{k <= n} Lambda_k)``: it only decreases, and
    rejecting when it falls to alpha keeps the type-I error at alpha however
    often and for however long the canary is polled. Howard, Ramdas,
    McAuliffe and Sekhon ("Time-uniform, nonparametric, nonasymptotic
    confidence sequences", Annals of Statistics 49(2), 2021) derive the same
    normal-mixture boundary and show that it is close to optimal near the
    sample size where the mixing scale matches the effect (there the boundary
    is tightest); ``MIXING_SD`` = 0.2 standard deviations tunes it for the
    effects a canary looks for (a 10% latency regression on a lognormal
    latency with shape 0.5 is 0.19 sd). Looking only at some polls (as gate
    does, once per `gate rollout`) can only lower the error rate.

    Assumptions: samples are independent, the traffic split within a stage is
    steady, and the samples per arm are enough for the mean to be near normal
    (``SEQUENTIAL_MIN_SAMPLES``); the monitoring data of each poll holds every
    sample since the stage began, so the running maximum is over nested data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

Alternative = Literal["greater", "less", "two-sided"]
Direction = Literal["increase", "decrease", "either"]

EXACT_MAX_SMALL = 8  # the exact distribution when a sample is this small (and no ties) ...
EXACT_MAX_CELLS = 200_000  # ... and n_x * n_y is at most this (its cost grows with it)
MIXING_SD = 0.2
SEQUENTIAL_MIN_SAMPLES = 20
_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / _SQRT2)


def norm_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z."""
    return 0.5 * math.erfc(-z / _SQRT2)


def log_norm_cdf(x: float) -> float:
    """log P(Z <= x), accurate far into the lower tail."""
    if x > -20.0:
        return math.log(norm_cdf(x))
    # Mills ratio asymptotics: Phi(x) ~ phi(x) / -x * (1 - 1/x^2 + 3/x^4)
    return -x * x / 2 - math.log(-x) - _LOG_SQRT_2PI + math.log1p(-1 / x**2 + 3 / x**4)


# --- summaries ---------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """The numbers policies and checks read about one sample."""

    n: int
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 when n < 2
    min: float
    max: float
    p50: float
    p90: float
    p99: float

    @property
    def variance(self) -> float:
        return self.sd * self.sd

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n", "mean", "sd", "min", "max", "p50", "p90", "p99")}


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of sorted data, interpolating linearly."""
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> Summary:
    """Summary of a non-empty sample (two-pass mean and variance, for accuracy)."""
    if not values:
        raise ValueError("cannot summarise an empty sample")
    n = len(values)
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    ordered = sorted(values)
    return Summary(n, mean, math.sqrt(var), ordered[0], ordered[-1], percentile(ordered, 50),
                   percentile(ordered, 90), percentile(ordered, 99))


def relative_change(candidate: float, baseline: float) -> float:
    """(candidate - baseline) / |baseline|; +-inf (or 0) when the baseline is 0."""
    if baseline == 0:
        if candidate == 0:
            return 0.0
        return math.copysign(math.inf, candidate)
    return (candidate - baseline) / abs(baseline)


# --- Mann-Whitney U ----------------------------------------------------------


@dataclass(frozen=True)
class RankSum:
    """What the Mann-Whitney test needs from the two samples."""

    u1: float  # U of the first sample
    n1: int
    n2: int
    tie_term: float  # sum over tie groups of t^3 - t


def rank_sum(x: Sequence[float], y: Sequence[float]) -> RankSum:
    """U of ``x`` against ``y`` from mid-ranks in the pooled sample."""
    pooled = sorted([(v, True) for v in x] + [(v, False) for v in y], key=lambda p: p[0])
    r1 = 0.0
    tie_term = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        t = j - i + 1
        from_x = sum(1 for k in range(i, j + 1) if pooled[k][1])
        r1 += from_x * ((i + j) / 2 + 1)  # the mid-rank of positions i..j (1-based)
        tie_term += t**3 - t
        i = j + 1
    n1 = len(x)
    return RankSum(r1 - n1 * (n1 + 1) / 2, n1, len(y), tie_term)


@lru_cache(maxsize=64)
def _exact_counts(m: int, n: int) -> tuple[int, ...]:
    """counts[u]: orderings of m x's and n y's with U = u (Gaussian binomial coefficients).

    [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i); each factor is
    applied as a power series truncated at degree m*n, which is exact because
    dividing by (1 - q^i) only carries coefficients upwards.
    """
    size = m * n + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, m + 1):
        a = n + i
        for j in range(size - 1, a - 1, -1):
            poly[j] -= poly[j - a]
        for j in range(i, size):
            poly[j] += poly[j - i]
    return tuple(poly)


def exact_sf(u: float, n1: int, n2: int) -> float:
    """P(U >= u) under H0 for samples of n1 and n2 without ties."""
    counts = _exact_counts(min(n1, n2), max(n1, n2))
    k = max(0, math.ceil(u - 1e-9))
    return sum(counts[k:]) / math.comb(n1 + n2, n1)


@dataclass(frozen=True)
class MannWhitney:
    """The outcome of one Mann-Whitney U test of the canary against the baseline."""

    u: float  # U of the canary
    n1: int
    n2: int
    alternative: Alternative
    method: Literal["exact", "asymptotic"]
    z: float | None  # (U - n1 n2 / 2) / sd, signed, without continuity correction
    p_value: float

    @property
    def effect(self) -> Literal["increase", "decrease", "none"]:
        """Which way the canary leans: U above or below its null mean."""
        mid = self.n1 * self.n2 / 2
        return "increase" if self.u > mid else "decrease" if self.u < mid else "none"

    def to_json(self) -> dict[str, Any]:
        return {"name": "mann-whitney", "u": self.u, "z": self.z, "p_value": self.p_value,
                "alternative": self.alternative, "method": self.method}


def choose_method(n1: int, n2: int, ties: bool) -> Literal["exact", "asymptotic"]:
    """scipy's ``auto`` rule, bounded: exact for a small sample without ties."""
    small = min(n1, n2) <= EXACT_MAX_SMALL and n1 * n2 <= EXACT_MAX_CELLS
    return "exact" if small and not ties else "asymptotic"


def mann_whitney_from_ranks(
    r: RankSum,
    *,
    alternative: Alternative = "two-sided",
    method: Literal["auto", "exact", "asymptotic"] = "auto",
    continuity: bool = True,
) -> MannWhitney:
    """The test from U and the tie term (the simulation keeps these incrementally)."""
    if r.n1 < 1 or r.n2 < 1:
        raise ValueError("Mann-Whitney needs at least one value in each sample")
    ties = r.tie_term > 0
    chosen = choose_method(r.n1, r.n2, ties) if method == "auto" else method
    u2 = r.n1 * r.n2 - r.u1
    stat, factor = {"greater": (r.u1, 1), "less": (u2, 1),
                    "two-sided": (max(r.u1, u2), 2)}[alternative]
    mu = r.n1 * r.n2 / 2
    n = r.n1 + r.n2
    var = r.n1 * r.n2 / 12 * ((n + 1) - r.tie_term / (n * (n - 1))) if n > 1 else 0.0
    sd = math.sqrt(max(var, 0.0))
    z = (r.u1 - mu) / sd if sd > 0 else None
    if chosen == "exact":
        p = exact_sf(stat, r.n1, r.n2)
    elif sd == 0:
        p = 1.0  # every value tied: no evidence either way
    else:
        p = norm_sf((stat - mu - (0.5 if continuity else 0.0)) / sd)
    return MannWhitney(r.u1, r.n1, r.n2, alternative, chosen, z, min(1.0, max(0.0, p * factor)))


def mann_whitney(
    x: Sequence[float],
    y: Sequence[float],
    *,
    alternative: Alternative = "two-sided",
    method: Literal["auto", "exact", "asymptotic"] = "auto",
    continuity: bool = True,
) -> MannWhitney:
    """Mann-Whitney U test of ``x`` (canary) against ``y`` (baseline)."""
    return mann_whitney_from_ranks(rank_sum(x, y), alternative=alternative, method=method,
                                   continuity=continuity)


# --- the mixture sequential probability ratio test --------------------------


def mixture_log_e(z: float, m: float, *, tau: float = MIXING_SD, sided: bool = True) -> float:
    """log Lambda for statistic z (positive = harmful) at effective sample size m."""
    r = tau * tau * m
    base = -0.5 * math.log1p(r) + z * z * r / (2 * (1 + r))
    if not sided:
        return base
    x = z * math.sqrt(r / (1 + r))
    if x <= -20.0:  # the exp and Phi terms cancel; keep the log finite
        return math.log(2) - 0.5 * math.log1p(r) + log_norm_cdf(x) + x * x / 2
    return math.log(2) + base + log_norm_cdf(x)


class SequentialMismatch(ValueError):
    """A poll that cannot continue the recorded test (other settings, or fewer samples)."""


@dataclass(frozen=True)
class SequentialState:
    """One sequential test as it stands after its last poll (persisted between polls)."""

    alpha: float
    direction: Direction
    mixing_sd: float = MIXING_SD
    polls: int = 0
    n_canary: int = 0
    n_baseline: int = 0
    max_log_e: float = 0.0  # Lambda_0 = 1
    rejected_at_poll: int | None = None
    rejected_direction: Literal["increase", "decrease"] | None = None

    @property
    def p_value(self) -> float:
        """The always-valid p-value: 1 / the largest mixture likelihood ratio so far."""
        return min(1.0, math.exp(-self.max_log_e)) if self.max_log_e < math.inf else 0.0

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "alpha", "direction", "mixing_sd", "polls", "n_canary", "n_baseline",
            "rejected_at_poll", "rejected_direction")}
        out["max_log_e"] = self.max_log_e if math.isfinite(self.max_log_e) else "inf"
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SequentialState:
        fields = dict(doc)
        fields["max_log_e"] = math.inf if doc["max_log_e"] == "inf" else float(doc["max_log_e"])
        return cls(**fields)


@dataclass(frozen=True)
class SequentialPoll:
    """What one poll of a sequential test found."""

    state: SequentialState
    z: float | None
    log_e: float  # this poll's log Lambda
    effect: Literal["increase", "decrease", "none"]

    @property
    def rejected(self) -> bool:
        return self.state.rejected_at_poll is not None

    def to_json(self) -> dict[str, Any]:
        s = self.state
        return {
            "name": "sequential",
            "z": self.z,
            "e_value": _exp_or_none(self.log_e),
            "max_e_value": _exp_or_none(s.max_log_e),
            "p_value": s.p_value,
            "alpha": s.alpha,
            "mixing_sd": s.mixing_sd,
            "direction": s.direction,
            "poll": s.polls,
            "rejected_at_poll": s.rejected_at_poll,
        }


def _exp_or_none(log_e: float) -> float | None:
    return math.exp(log_e) if log_e < 700 else None  # beyond float range: p is 0 anyway


def sequential_poll(
    prev: SequentialState | None,
    canary: Summary,
    baseline: Summary,
    *,
    alpha: float,
    direction: Direction,
    mixing_sd: float = MIXING_SD,
) -> SequentialPoll:
    """Continue (or start) the test with every sample seen so far; the state only grows."""
    start = SequentialState(alpha=alpha, direction=direction, mixing_sd=mixing_sd)
    if prev is None:
        prev = start
    elif (prev.alpha, prev.direction, prev.mixing_sd) != (alpha, direction, mixing_sd):
        raise SequentialMismatch(
            f"the test began with alpha {prev.alpha}, direction {prev.direction}, mixing sd "
            f"{prev.mixing_sd}; this poll asks for alpha {alpha}, direction {direction}, "
            f"mixing sd {mixing_sd}"
        )
    elif canary.n < prev.n_canary or baseline.n < prev.n_baseline:
        raise SequentialMismatch(
            f"the previous poll saw {prev.n_canary} canary and {prev.n_baseline} baseline "
            f"samples, this one only {canary.n} and {baseline.n}: the monitoring data must hold "
            "every sample since the stage began"
        )
    d = canary.mean - baseline.mean
    v = canary.variance / canary.n + baseline.variance / baseline.n
    m = canary.n * baseline.n / (canary.n + baseline.n)
    effect: Literal["increase", "decrease", "none"] = (
        "increase" if d > 0 else "decrease" if d < 0 else "none")
    z: float | None
    if v > 0:
        z = d / math.sqrt(v)
        oriented = -z if direction == "decrease" else z
        log_e = mixture_log_e(oriented, m, tau=mixing_sd, sided=direction != "either")
    else:  # both samples constant: the difference is known exactly
        z = None
        harmful = (effect != "none" and direction == "either") or effect == direction
        log_e = math.inf if harmful else 0.0
    state = replace(prev, polls=prev.polls + 1, n_canary=canary.n, n_baseline=baseline.n,
                    max_log_e=max(prev.max_log_e, log_e))
    if state.rejected_at_poll is None and state.p_value <= alpha and effect != "none":
        state = replace(state, rejected_at_poll=state.polls, rejected_direction=effect)
    return SequentialPoll(state, z, log_e, effect)
