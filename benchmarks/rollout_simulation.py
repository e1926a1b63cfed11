"""Simulation: false rollbacks and power of gate's rollout tests on synthetic canary streams.

    python benchmarks/rollout_simulation.py [--reps 2000] [--polls 100] [--per-poll 20]

A stage is polled ``--polls`` times; before each poll canary and baseline each
gain ``--per-poll`` new samples, and every poll sees all samples so far (as
`gate rollout` does). Latency is lognormal (median 120 ms, shape 0.45);
errors are per-request 0/1 at 1%. Both tests are one-sided ("the canary got
worse") at alpha = 0.05:

* fixed horizon: Mann-Whitney U (gate.rollout.stats), valid when looked at
  once, here re-run at every poll as a dashboard or a naive canary job would;
* sequential: the mixture SPRT (gate.rollout.stats.sequential_poll) with its
  always-valid p-value, made to be looked at every poll.

A/A streams (no difference) give the false-rollback rate: the share of runs
rolled back at some poll. A/B streams (canary latency x1.1) give the power:
the samples per arm at which 80% of runs have detected the regression (for
the fixed-horizon test, the sample size at which one test has 80% power).

Mann-Whitney is evaluated on U kept up to date as samples arrive (sorted
lists, bisection), then gate's own p-value function; a self-check compares
it with gate's full computation. Pure Python, seeded: the figures are exact
for a given seed.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gate.rollout.stats import (
    SEQUENTIAL_MIN_SAMPLES,
    RankSum,
    SequentialState,
    Summary,
    mann_whitney,
    mann_whitney_from_ranks,
    sequential_poll,
)

ALPHA = 0.05
Draw = Callable[[random.Random], float]


def latency(scale: float = 1.0) -> Draw:
    mu = math.log(120.0 * scale)
    return lambda rng: rng.lognormvariate(mu, 0.45)


def errors(rate: float) -> Draw:
    return lambda rng: 1.0 if rng.random() < rate else 0.0


@dataclass
class Arm:
    """One side's samples: sorted (for U) and running moments (for the mSPRT)."""

    values: list[float] = field(default_factory=list)
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, v: float) -> None:
        bisect.insort(self.values, v)
        self.n += 1
        d = v - self.mean
        self.mean += d / self.n
        self.m2 += d * (v - self.mean)

    def summary(self) -> Summary:
        sd = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        return Summary(self.n, self.mean, sd, 0.0, 0.0, 0.0, 0.0, 0.0)  # quantiles unused


class Stream:
    """Canary and baseline samples arriving poll by poll, with U and the tie term kept current."""

    def __init__(self) -> None:
        self.canary, self.baseline = Arm(), Arm()
        self.u1 = 0.0
        self.counts: Counter[float] = Counter()
        self.tie_term = 0.0

    def _tie(self, v: float) -> None:
        t = self.counts[v]
        self.tie_term += 3 * t * t + 3 * t  # (t+1)^3 - (t+1) - (t^3 - t)
        self.counts[v] = t + 1

    def add_canary(self, v: float) -> None:
        b = self.baseline.values
        lo, hi = bisect.bisect_left(b, v), bisect.bisect_right(b, v)
        self.u1 += lo + 0.5 * (hi - lo)
        self.canary.add(v)
        self._tie(v)

    def add_baseline(self, v: float) -> None:
        c = self.canary.values
        lo, hi = bisect.bisect_left(c, v), bisect.bisect_right(c, v)
        self.u1 += (len(c) - hi) + 0.5 * (hi - lo)
        self.baseline.add(v)
        self._tie(v)

    def mann_whitney_p(self) -> float:
        r = RankSum(self.u1, self.canary.n, self.baseline.n, self.tie_term)
        return mann_whitney_from_ranks(r, alternative="greater", method="asymptotic").p_value


@dataclass
class Run:
    """When (in samples per arm) each test first rejected, if it did."""

    fixed_first: int | None = None  # repeated Mann-Whitney: first poll that rejected
    fixed_at: dict[int, bool] = field(default_factory=dict)  # n -> rejected at that n
    sequential_first: int | None = None


def simulate(rng: random.Random, canary: Draw, baseline: Draw, polls: int, per_poll: int) -> Run:
    s = Stream()
    run = Run()
    state: SequentialState | None = None
    for _ in range(polls):
        for _ in range(per_poll):
            s.add_canary(canary(rng))
            s.add_baseline(baseline(rng))
        n = s.canary.n
        rejected = s.mann_whitney_p() <= ALPHA
        run.fixed_at[n] = rejected
        if rejected and run.fixed_first is None:
            run.fixed_first = n
        if run.sequential_first is None and n >= SEQUENTIAL_MIN_SAMPLES:
            poll = sequential_poll(state, s.canary.summary(), s.baseline.summary(), alpha=ALPHA,
                                   direction="increase")
            state = poll.state
            if poll.rejected:
                run.sequential_first = n
    return run


def self_check(seed: int) -> None:
    """The incremental U gives gate's own Mann-Whitney p-value."""
    rng = random.Random(seed)
    for draw in (latency(), errors(0.2)):
        s = Stream()
        xs, ys = [], []
        for _ in range(300):
            x, y = draw(rng), draw(rng)
            xs.append(x)
            ys.append(y)
            s.add_canary(x)
            s.add_baseline(y)
        full = mann_whitney(xs, ys, alternative="greater", method="asymptotic").p_value
        assert math.isclose(s.mann_whitney_p(), full, rel_tol=1e-9, abs_tol=1e-15), (full, s)


def quantile_n(firsts: list[int | None], q: float) -> int | None:
    """The smallest n by which a share ``q`` of runs had rejected (None: not within the runs)."""
    hits = sorted(n for n in firsts if n is not None)
    need = math.ceil(q * len(firsts))
    return hits[need - 1] if len(hits) >= need else None


def scenario(name: str, canary: Draw, baseline: Draw, reps: int, polls: int, per_poll: int,
             seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{name}")
    runs = [simulate(rng, canary, baseline, polls, per_poll) for _ in range(reps)]
    last = polls * per_poll
    fixed_firsts = [r.fixed_first for r in runs]
    seq_firsts = [r.sequential_first for r in runs]
    checkpoints = sorted(runs[0].fixed_at)
    power = {n: sum(r.fixed_at[n] for r in runs) / reps for n in checkpoints}
    return {
        "scenario": name, "reps": reps, "polls": polls, "per_poll": per_poll,
        "samples_per_arm": last,
        "fixed_once_at_end": power[last],
        "fixed_any_poll": sum(n is not None for n in fixed_firsts) / reps,
        "sequential_any_poll": sum(n is not None for n in seq_firsts) / reps,
        "fixed_n80": next((n for n in checkpoints if power[n] >= 0.8), None),
        "sequential_n80": quantile_n(seq_firsts, 0.8),
        "sequential_median_n": quantile_n(seq_firsts, 0.5),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _n(x: int | None, last: int) -> str:
    return str(x) if x is not None else f"> {last}"


def report(results: list[dict[str, Any]], reps: int, polls: int, per_poll: int) -> str:
    aa = [r for r in results if r["scenario"].startswith("A/A")]
    ab = [r for r in results if not r["scenario"].startswith("A/A")]
    lines = [
        f"{reps} runs per scenario, {polls} polls of {per_poll} new samples per arm "
        f"(up to {polls * per_poll} per arm), one-sided alpha = {ALPHA}",
        "",
        "False rollbacks (A/A: the canary is as good as the baseline)",
        "",
        "| stream | Mann-Whitney once, at the end | Mann-Whitney at every poll "
        "| sequential (mSPRT) at every poll |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['scenario'][4:]} | {_pct(r['fixed_once_at_end'])} | "
              f"{_pct(r['fixed_any_poll'])} | {_pct(r['sequential_any_poll'])} |" for r in aa]
    lines += [
        "",
        "Samples per arm to detect the regression with 80% power",
        "",
        "| regression | Mann-Whitney, one test at n | sequential, 80% stopped by n "
        "| sequential, median stop |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['scenario']} | {_n(r['fixed_n80'], r['samples_per_arm'])} | "
              f"{_n(r['sequential_n80'], r['samples_per_arm'])} | "
              f"{_n(r['sequential_median_n'], r['samples_per_arm'])} |" for r in ab]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--polls", type=int, default=100)
    ap.add_argument("--per-poll", type=int, default=20)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    self_check(args.seed)
    started = time.perf_counter()
    plan = [
        ("A/A latency (lognormal)", latency(), latency()),
        ("A/A error rate (1%)", errors(0.01), errors(0.01)),
        ("latency +10%", latency(1.10), latency()),
    ]
    results = [scenario(name, c, b, args.reps, args.polls, args.per_poll, args.seed)
               for name, c, b in plan]
    print(report(results, args.reps, args.polls, args.per_poll))
    print(f"\n({time.perf_counter() - started:.0f} s; seed {args.seed})", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
