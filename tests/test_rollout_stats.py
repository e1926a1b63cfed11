"""The rollout statistics: hand-checked numbers, and Mann-Whitney against scipy."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import mannwhitneyu

from gate.rollout.stats import (
    SequentialMismatch,
    SequentialState,
    Summary,
    _exact_counts,
    log_norm_cdf,
    mann_whitney,
    mixture_log_e,
    norm_cdf,
    norm_sf,
    rank_sum,
    relative_change,
    sequential_poll,
    summarize,
)


def test_normal_tails() -> None:
    assert norm_sf(1.959963984540054) == pytest.approx(0.025, abs=1e-12)
    assert norm_cdf(0.0) == 0.5
    # the asymptotic branch of log Phi joins the direct one smoothly
    assert log_norm_cdf(-20.0001) == pytest.approx(log_norm_cdf(-19.9999), abs=1e-2)
    assert log_norm_cdf(-19.99) == pytest.approx(math.log(norm_cdf(-19.99)), rel=1e-12)
    assert math.isfinite(log_norm_cdf(-1e6))


def test_summary_by_hand() -> None:
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.n, s.mean, s.min, s.max) == (4, 2.5, 1.0, 4.0)
    assert s.sd == pytest.approx(math.sqrt(5 / 3))
    # linear interpolation between order statistics: (n - 1) * q / 100
    assert (s.p50, s.p90, s.p99) == pytest.approx((2.5, 3.7, 3.97))
    one = summarize([7.0])
    assert (one.sd, one.p99) == (0.0, 7.0)


def test_relative_change() -> None:
    assert relative_change(110.0, 100.0) == pytest.approx(0.10)
    assert relative_change(-90.0, -100.0) == pytest.approx(0.10)  # less negative is up
    assert relative_change(0.0, 0.0) == 0.0
    assert relative_change(0.01, 0.0) == math.inf


def test_exact_distribution_by_hand() -> None:
    # Orderings of two x and two y, by U: xxyy 0, xyxy 1, xyyx 2, yxxy 2, yxyx 3, yyxx 4
    assert _exact_counts(2, 2) == (1, 1, 2, 1, 1)
    assert sum(_exact_counts(3, 5)) == math.comb(8, 3)


def test_mann_whitney_exact_by_hand() -> None:
    r = mann_whitney([1, 2, 3], [4, 5, 6], alternative="less")
    assert (r.u, r.method) == (0.0, "exact")
    assert r.p_value == pytest.approx(1 / 20)  # one ordering of C(6, 3) is this extreme
    assert mann_whitney([1, 2, 3], [4, 5, 6], alternative="two-sided").p_value == pytest.approx(0.1)
    assert mann_whitney([1, 2, 3], [4, 5, 6], alternative="greater").p_value == 1.0
    assert r.effect == "decrease"


def test_mann_whitney_ties_by_hand() -> None:
    # pooled: 1x 2x 2x 2y 3x 3y 4y 5y -> mid-ranks 1, 3, 3, 3, 5.5, 5.5, 7, 8
    x, y = [1, 2, 2, 3], [2, 3, 4, 5]
    r = rank_sum(x, y)
    assert (r.u1, r.tie_term) == (2.5, 30.0)  # R_x = 12.5; ties 3^3-3 + 2^3-2
    sd = math.sqrt(16 / 12 * (9 - 30 / 56))
    greater = mann_whitney(x, y, alternative="greater")
    assert greater.method == "asymptotic"
    assert greater.p_value == pytest.approx(norm_sf((2.5 - 8 - 0.5) / sd))
    assert greater.p_value == pytest.approx(0.96295, abs=1e-5)
    assert mann_whitney(x, y, alternative="less").p_value == pytest.approx(0.06833, abs=1e-5)


def test_all_tied_has_no_evidence() -> None:
    r = mann_whitney([1.0] * 20, [1.0] * 20, alternative="greater")
    assert (r.p_value, r.z, r.effect) == (1.0, None, "none")


def _samples(rng: random.Random, n: int, kind: str, shift: float) -> list[float]:
    if kind == "ties":
        return [float(rng.randint(0, 4)) + (1 if rng.random() < shift else 0) for _ in range(n)]
    return [rng.lognormvariate(0, 0.5) * (1 + shift) for _ in range(n)]


@pytest.mark.parametrize("seed", range(40))
def test_mann_whitney_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    kind = "ties" if seed % 2 else "continuous"
    n1, n2 = rng.randint(1, 40), rng.randint(1, 60)
    x, y = _samples(rng, n1, kind, 0.2), _samples(rng, n2, kind, 0.0)
    for alternative in ("greater", "less", "two-sided"):
        methods = ["auto", "asymptotic"] + (["exact"] if kind == "continuous" else [])
        for method in methods:
            ours = mann_whitney(x, y, alternative=alternative, method=method)  # type: ignore[arg-type]
            theirs = mannwhitneyu(x, y, alternative=alternative, method=method)
            assert ours.u == pytest.approx(float(theirs.statistic), abs=1e-9)
            assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-9, abs=1e-12)


def test_auto_uses_exact_only_for_small_untied_samples() -> None:
    assert mann_whitney([1.0, 2.0], [3.0] + [float(i) for i in range(4, 40)]).method == "exact"
    assert mann_whitney([1.0, 1.0], [3.0, 4.0]).method == "asymptotic"
    assert mann_whitney([float(i) for i in range(9)], [float(i) + .5 for i in range(9)]).method \
        == "asymptotic"


# --- the mixture SPRT --------------------------------------------------------


def test_mixture_by_hand() -> None:
    # tau 0.2, m 100 -> r = 4: log L = -ln(5)/2 + z^2 * 4 / 10 (two-sided)
    assert mixture_log_e(0.0, 100, tau=0.2, sided=False) == pytest.approx(-0.5 * math.log(5))
    assert mixture_log_e(3.0, 100, tau=0.2, sided=False) == pytest.approx(-0.80472 + 3.6, abs=1e-5)
    # one-sided: 2 * Phi(z sqrt(r/(1+r))) times the two-sided value; at z = 0 that is 1
    assert mixture_log_e(0.0, 100, tau=0.2) == pytest.approx(-0.5 * math.log(5))
    expected = -0.80472 + 3.6 + math.log(2 * norm_cdf(3 * math.sqrt(0.8)))
    assert mixture_log_e(3.0, 100, tau=0.2) == pytest.approx(expected, abs=1e-5)
    assert math.isfinite(mixture_log_e(-60.0, 1e6))


def test_mixture_is_the_integral_it_claims() -> None:
    """Lambda = integral of the likelihood ratio over the (half-)normal mixing density."""
    z, m, tau = 1.7, 250.0, 0.2
    v = 1 / m  # with unit sd, the variance of the difference is 1/m; d = z sqrt(v)
    d = z * math.sqrt(v)

    def integral(lo: float, density_scale: float) -> float:
        steps, hi = 20000, 2.0
        h = (hi - lo) / steps
        total = 0.0
        for k in range(steps + 1):
            theta = lo + k * h
            lr = math.exp((theta * d - theta * theta / 2) / v)
            dens = density_scale * math.exp(-theta * theta / (2 * tau * tau)) / (
                tau * math.sqrt(2 * math.pi))
            total += (0.5 if k in (0, steps) else 1.0) * lr * dens
        return total * h

    assert math.log(integral(-2.0, 1.0)) == pytest.approx(
        mixture_log_e(z, m, tau=tau, sided=False), abs=1e-6)
    assert math.log(integral(0.0, 2.0)) == pytest.approx(mixture_log_e(z, m, tau=tau), abs=1e-6)


def _summary(n: int, mean: float, sd: float) -> Summary:
    return Summary(n, mean, sd, mean, mean, mean, mean, mean)


def test_sequential_rejects_and_stays_rejected() -> None:
    first = sequential_poll(None, _summary(100, 1.0, 1.0), _summary(100, 1.0, 1.0), alpha=0.05,
                            direction="increase")
    assert (first.rejected, first.state.polls, first.state.p_value) == (False, 1, 1.0)
    harm = sequential_poll(first.state, _summary(400, 1.5, 1.0), _summary(400, 1.0, 1.0),
                           alpha=0.05, direction="increase")
    assert harm.rejected and harm.state.rejected_at_poll == 2
    assert harm.state.rejected_direction == "increase"
    calm = sequential_poll(harm.state, _summary(800, 1.0, 1.0), _summary(800, 1.0, 1.0),
                           alpha=0.05, direction="increase")
    # the always-valid p-value never goes back up, so the rejection stands
    assert calm.rejected and calm.state.p_value == harm.state.p_value
    assert calm.log_e < harm.log_e


def test_sequential_one_sided_ignores_the_harmless_side() -> None:
    better = sequential_poll(None, _summary(2000, 0.5, 1.0), _summary(2000, 1.0, 1.0),
                             alpha=0.05, direction="increase")
    assert not better.rejected and better.state.p_value == 1.0
    either = sequential_poll(None, _summary(2000, 0.5, 1.0), _summary(2000, 1.0, 1.0),
                             alpha=0.05, direction="either")
    assert either.rejected and either.state.rejected_direction == "decrease"
    decrease = sequential_poll(None, _summary(2000, 0.5, 1.0), _summary(2000, 1.0, 1.0),
                               alpha=0.05, direction="decrease")
    assert decrease.rejected


def test_sequential_constant_samples() -> None:
    same = sequential_poll(None, _summary(50, 0.0, 0.0), _summary(50, 0.0, 0.0), alpha=0.05,
                           direction="increase")
    assert (same.z, same.rejected) == (None, False)
    apart = sequential_poll(None, _summary(50, 1.0, 0.0), _summary(50, 0.0, 0.0), alpha=0.05,
                            direction="increase")
    assert apart.rejected and apart.state.p_value == 0.0
    assert SequentialState.from_json(apart.state.to_json()) == apart.state


def test_sequential_refuses_a_poll_that_does_not_continue_it() -> None:
    s = sequential_poll(None, _summary(100, 1.0, 1.0), _summary(100, 1.0, 1.0), alpha=0.05,
                        direction="increase").state
    with pytest.raises(SequentialMismatch, match="every sample since the stage began"):
        sequential_poll(s, _summary(90, 1.0, 1.0), _summary(100, 1.0, 1.0), alpha=0.05,
                        direction="increase")
    with pytest.raises(SequentialMismatch, match=r"alpha 0\.05"):
        sequential_poll(s, _summary(100, 1.0, 1.0), _summary(100, 1.0, 1.0), alpha=0.02,
                        direction="increase")
    assert SequentialState.from_json(s.to_json()) == s


def _false_rejections(reps: int, polls: int, per_poll: int, *, sequential: bool) -> int:
    """A/A streams polled repeatedly: how many runs reject at some poll (alpha 0.05)."""
    rng = random.Random(7)
    rejected = 0
    for _ in range(reps):
        sums = [[0, 0.0, 0.0], [0, 0.0, 0.0]]  # n, sum, sum of squares per arm
        state = None
        for _poll in range(polls):
            for arm in sums:
                for _ in range(per_poll):
                    v = rng.gauss(100.0, 30.0)
                    arm[0] += 1
                    arm[1] += v
                    arm[2] += v * v
            c, b = (_summary(int(a[0]), a[1] / a[0],
                             math.sqrt((a[2] - a[1] ** 2 / a[0]) / (a[0] - 1))) for a in sums)
            if sequential:
                poll = sequential_poll(state, c, b, alpha=0.05, direction="increase")
                state = poll.state
                hit = poll.rejected
            else:  # a one-sided z-test at 0.05, re-run at every poll
                z = (c.mean - b.mean) / math.sqrt(c.variance / c.n + b.variance / b.n)
                hit = norm_sf(z) <= 0.05
            if hit:
                rejected += 1
                break
    return rejected


@pytest.mark.slow  # 600 simulated rollouts
def test_sequential_keeps_alpha_where_repeated_testing_does_not() -> None:
    reps = 300
    seq = _false_rejections(reps, 50, 10, sequential=True)
    fixed = _false_rejections(reps, 50, 10, sequential=False)
    assert seq / reps <= 0.05  # seeded: deterministic
    assert fixed / reps > 0.15  # peeking 50 times inflates 0.05 several-fold
