"""Judging one rollout stage: monitoring samples + policy findings -> promote, hold or rollback.

Pure: nothing here reads a file or calls an engine. Per analysed metric:

* ``min`` / ``max`` bound the canary's mean;
* ``max_increase`` / ``max_decrease`` bound the relative change of the canary's
  mean against the baseline's (0.10 = 10%);
* ``test`` (``mann-whitney`` or ``sequential``) makes a change count only when
  it is significant at ``1 - confidence`` (default 0.98, as Kayenta) in a
  harmful direction. The harmful direction is ``direction``, else implied by
  the bounds given (increase, decrease, or either when both or neither are).
  With a test and no bound for a harmful side, any significant change there
  counts.

A metric with fewer than ``min_samples`` samples (per side, when compared with
the baseline) holds; a metric without data holds, or fails when ``required``.
The stage rolls back when any check fails or any policy denies, else holds
while the bake time runs or any check holds, else promotes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from gate.decision import Finding
from gate.durations import seconds
from gate.errors import ManifestError
from gate.rollout.monitoring import Monitoring
from gate.rollout.stats import (
    SEQUENTIAL_MIN_SAMPLES,
    Alternative,
    Direction,
    SequentialState,
    Summary,
    mann_whitney,
    relative_change,
    sequential_poll,
    summarize,
)

CheckOutcome = Literal["pass", "hold", "fail"]
Verdict = Literal["promote", "hold", "rollback"]

DEFAULT_CONFIDENCE = 0.98
EXIT_CODES: dict[Verdict, int] = {"promote": 0, "rollback": 1, "hold": 3}
_ALTERNATIVE: dict[Direction, Alternative] = {
    "increase": "greater", "decrease": "less", "either": "two-sided"}
_BOUNDS = ("min", "max", "max_increase", "max_decrease")


@dataclass(frozen=True)
class Check:
    """The verdict on one analysis entry of the stage."""

    metric: str
    index: int
    outcome: CheckOutcome
    reasons: tuple[str, ...]
    analysis: Mapping[str, Any]
    observed: Mapping[str, Any]
    thresholds: Mapping[str, Any]
    test: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        """Stable id, used as the finding id in the rollback plan's reasons."""
        return f"rollout.{self.metric}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "metric": self.metric, "analysis_index": self.index,
            "outcome": self.outcome, "reasons": list(self.reasons),
            "observed": dict(self.observed), "thresholds": dict(self.thresholds),
            "test": dict(self.test) if self.test is not None else None,
        }


def state_key(index: int, entry: Mapping[str, Any]) -> str:
    """Where a sequential test's state lives in the state file."""
    return f"{index}:{entry['metric']}"


def direction_of(entry: Mapping[str, Any], where: str) -> Direction:
    """The harmful direction of a metric: explicit, or implied by its bounds."""
    inc, dec = "max_increase" in entry, "max_decrease" in entry
    implied: Direction = "either"
    if inc != dec:
        implied = "increase" if inc else "decrease"
    direction: Direction = entry.get("direction", implied)
    for bound, side in (("max_increase", "increase"), ("max_decrease", "decrease")):
        if bound in entry and direction not in (side, "either"):
            raise ManifestError(
                f"{entry['metric']}: direction {direction} contradicts {bound}: the test would "
                "never see that change",
                pointer=f"{where}.direction",
                hint="drop `direction`, or set it to `either`",
            )
    return direction


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%" if math.isfinite(x) else ("+inf%" if x > 0 else "-inf%")


@dataclass(frozen=True)
class _TestResult:
    doc: dict[str, Any] | None = None
    significant: frozenset[str] = frozenset()  # directions of a significant change
    p_value: float = 1.0
    state: SequentialState | None = None
    hold: str | None = None  # why the test cannot run yet


class StatTest(Protocol):
    """A statistical test of canary against baseline: what it found on this poll."""

    def __call__(self, canary: Sequence[float], baseline: Sequence[float], *, alpha: float,
                 direction: Direction, prev: SequentialState | None) -> _TestResult: ...


def _mann_whitney(canary: Sequence[float], baseline: Sequence[float], *, alpha: float,
                  direction: Direction, prev: SequentialState | None) -> _TestResult:
    mw = mann_whitney(canary, baseline, alternative=_ALTERNATIVE[direction])
    significant = mw.p_value <= alpha and mw.effect != "none"
    return _TestResult({**mw.to_json(), "alpha": alpha, "significant": significant},
                       frozenset([mw.effect] if significant else []), mw.p_value, prev)


def _sequential(canary: Sequence[float], baseline: Sequence[float], *, alpha: float,
                direction: Direction, prev: SequentialState | None) -> _TestResult:
    n = min(len(canary), len(baseline))
    if n < SEQUENTIAL_MIN_SAMPLES:
        return _TestResult(state=prev, hold=f"{n} samples; the sequential test starts at "
                           f"{SEQUENTIAL_MIN_SAMPLES} per side")
    poll = sequential_poll(prev, summarize(canary), summarize(baseline), alpha=alpha,
                           direction=direction)
    rejected = poll.state.rejected_direction
    return _TestResult({**poll.to_json(), "significant": poll.rejected},
                       frozenset([rejected] if rejected else []), poll.state.p_value,
                       poll.state)


# name (an analysis entry's `test:`) -> the test; a new test is one function and one line
# here (and its name in the manifest schema's enum, which a test keeps equal to this).
STAT_TESTS: dict[str, StatTest] = {
    "mann-whitney": _mann_whitney,
    "sequential": _sequential,
}


def _run_test(test: str | None, canary: Sequence[float], baseline: Sequence[float], *,
              alpha: float, direction: Direction, prev: SequentialState | None) -> _TestResult:
    if test is None:
        return _TestResult(state=prev)
    run = STAT_TESTS.get(test)
    if run is None:
        raise ManifestError(f"unknown statistical test '{test}'",
                            hint=f"choose one of: {', '.join(STAT_TESTS)}")
    return run(canary, baseline, alpha=alpha, direction=direction, prev=prev)


def _bound_failures(entry: Mapping[str, Any], metric: str, canary: Summary) -> list[str]:
    out = []
    if "min" in entry and canary.mean < entry["min"]:
        out.append(f"{metric}: canary mean {canary.mean:.6g} is below min {entry['min']:g}")
    if "max" in entry and canary.mean > entry["max"]:
        out.append(f"{metric}: canary mean {canary.mean:.6g} is above max {entry['max']:g}")
    return out


def _change_failures(entry: Mapping[str, Any], metric: str, canary: Summary, baseline: Summary,
                     direction: Direction, alpha: float, test: _TestResult) -> list[str]:
    name = entry.get("test")
    change = relative_change(canary.mean, baseline.mean)
    out = []
    for side, key in (("increase", "max_increase"), ("decrease", "max_decrease")):
        if key not in entry and not (name and direction in (side, "either")):
            continue
        tolerance = float(entry.get(key, 0.0))
        if (change if side == "increase" else -change) <= tolerance:
            continue
        said = (f"{metric}: canary mean {_pct(change)} against the baseline "
                f"({canary.mean:.6g} vs {baseline.mean:.6g})")
        limit = f"over {key} {tolerance * 100:g}%" if key in entry else f"a {side}"
        if not name:
            out.append(f"{said}, {limit}")
        elif side in test.significant:
            out.append(f"{said}, {limit}, significant ({name} p={test.p_value:.3g} <= "
                       f"{alpha:.3g})")
    return out


def evaluate_check(
    entry: Mapping[str, Any],
    index: int,
    *,
    data: Monitoring,
    stage_min_samples: int = 0,
    prev: SequentialState | None = None,
    where: str = "$",
) -> tuple[Check, SequentialState | None]:
    """One analysis entry (at the JSON path ``where``) against the samples; the sequential
    state it leaves (if any)."""
    metric = str(entry["metric"])
    canary, baseline = data.canary.get(metric) or [], data.baseline.get(metric) or []
    compares = any(k in entry for k in ("test", "max_increase", "max_decrease"))
    direction = direction_of(entry, where) if compares else "either"
    alpha = round(1 - float(entry.get("confidence", DEFAULT_CONFIDENCE)), 12)
    min_n = int(entry.get("min_samples", stage_min_samples))
    thresholds: dict[str, Any] = {k: entry[k] for k in _BOUNDS if k in entry}
    if "test" in entry:
        thresholds.update(confidence=1 - alpha, direction=direction)
    thresholds["min_samples"] = min_n
    c_sum = summarize(canary) if canary else None
    b_sum = summarize(baseline) if baseline else None
    change = relative_change(c_sum.mean, b_sum.mean) if c_sum and b_sum else None
    observed = {
        "canary": c_sum.to_json() if c_sum else None,
        "baseline": b_sum.to_json() if b_sum else None,
        "relative_change": change if change is not None and math.isfinite(change) else None,
    }

    def done(outcome: CheckOutcome, reasons: Sequence[str], test: _TestResult | None = None,
             ) -> tuple[Check, SequentialState | None]:
        return (Check(metric, index, outcome, tuple(reasons), dict(entry), observed, thresholds,
                      test.doc if test else None), test.state if test else prev)

    missing = [side for side, s in (("canary", c_sum), ("baseline", b_sum))
               if s is None and (side == "canary" or compares)]
    if missing or c_sum is None:
        why = f"no {' or '.join(missing)} samples of {metric} in the monitoring data"
        if entry.get("required", False):
            return done("fail", [why + ", and the metric is required"])
        return done("hold", [why])
    n = min(c_sum.n, b_sum.n) if compares and b_sum else c_sum.n
    if n < min_n:
        return done("hold", [f"{n} samples of {metric}, fewer than min_samples {min_n}"])
    fails = _bound_failures(entry, metric, c_sum)
    if not compares or b_sum is None:
        return done("fail" if fails else "pass", fails)
    test = _run_test(entry.get("test"), canary, baseline, alpha=alpha, direction=direction,
                     prev=prev)
    if test.hold is not None and not fails:
        return done("hold", [f"{metric}: {test.hold}"], test)
    fails += _change_failures(entry, metric, c_sum, b_sum, direction, alpha, test)
    return done("fail" if fails else "pass", fails, test)


def evaluate_checks(
    stage: Mapping[str, Any],
    data: Monitoring,
    states: Mapping[str, SequentialState],
    *,
    where: str = "$",
) -> tuple[list[Check], dict[str, SequentialState]]:
    """Every analysis entry of ``stage`` (at the JSON path ``where``); the sequential states
    after this poll."""
    checks: list[Check] = []
    new_states: dict[str, SequentialState] = {}
    for i, entry in enumerate(stage.get("analysis") or []):
        key = state_key(i, entry)
        check, state = evaluate_check(entry, i, data=data,
                                      stage_min_samples=int(stage.get("min_samples", 0)),
                                      prev=states.get(key), where=f"{where}.analysis[{i}]")
        checks.append(check)
        if state is not None:
            new_states[key] = state
    return checks, new_states


def monitoring_summary(data: Monitoring) -> dict[str, dict[str, Any]]:
    """``input.rollout.monitoring``: per metric, the summary of each side (or null)."""
    out: dict[str, dict[str, Any]] = {}
    for metric in sorted(set(data.canary) | set(data.baseline)):
        sides: dict[str, Summary | None] = {
            side: summarize(data.side(side)[metric]) if data.side(side).get(metric) else None
            for side in ("canary", "baseline")}
        out[metric] = {side: s.to_json() if s else None for side, s in sides.items()}
    return out


@dataclass(frozen=True)
class RolloutDecision:
    """The verdict on a stage. Exit codes (docs/rollout.md): 0 promote, 1 rollback, 3 hold."""

    stage: Mapping[str, Any]
    next_stage: Mapping[str, Any] | None
    checks: tuple[Check, ...]
    bake_s: float
    elapsed_s: float
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> Verdict:
        if any(c.outcome == "fail" for c in self.checks) or any(
                f.effect == "fail" for f in self.findings):
            return "rollback"
        if self.elapsed_s < self.bake_s or any(c.outcome == "hold" for c in self.checks):
            return "hold"
        return "promote"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def traffic_weight(self) -> float:
        """The canary's share of traffic (percent) once this decision is carried out."""
        verdict = self.verdict
        if verdict == "rollback":
            return 0
        if verdict == "hold":
            return self.stage["weight"]  # type: ignore[no-any-return]  # schema: a number
        return self.next_stage["weight"] if self.next_stage else 100

    @property
    def reasons(self) -> list[str]:
        """Why the stage rolls back or holds (empty on promote)."""
        verdict = self.verdict
        if verdict == "promote":
            return []
        wanted: CheckOutcome = "fail" if verdict == "rollback" else "hold"
        out = [r for c in self.checks if c.outcome == wanted for r in c.reasons]
        if verdict == "rollback":
            out += [f"policy {f.id}: {f.message}" for f in self.findings if f.effect == "fail"]
        elif self.elapsed_s < self.bake_s:
            out.insert(0, f"baking: {_duration(self.elapsed_s)} of {_duration(self.bake_s)} "
                       f"at stage {self.stage['name']}")
        return out

    def rollback_reasons(self) -> list[Finding]:
        """The failed checks and denying policies, as findings for the rollback plan."""
        out = [Finding(id=c.id, kind="failure", rule="rollout.analysis", message=r,
                       severity="high", details={"stage": self.stage["name"]})
               for c in self.checks if c.outcome == "fail" for r in c.reasons]
        return out + [f for f in self.findings if f.effect == "fail"]

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.verdict,
            "exit_code": self.exit_code,
            "stage": {"name": self.stage["name"], "weight": self.stage["weight"],
                      "bake_s": self.bake_s, "elapsed_s": self.elapsed_s},
            "next_stage": ({"name": self.next_stage["name"], "weight": self.next_stage["weight"]}
                           if self.next_stage else None),
            "traffic_weight": self.traffic_weight,
            "reasons": self.reasons,
            "checks": [c.to_json() for c in self.checks],
            "findings": [f.to_json() for f in self.findings],
        }


def _duration(s: float) -> str:
    if s >= 3600 and s % 60 == 0:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    if s >= 60:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{s:g}s"


def find_stage(stages: Sequence[Mapping[str, Any]], name: str) -> tuple[int, Mapping[str, Any]]:
    """The stage called ``name`` and its index; a ManifestError listing the names otherwise."""
    for i, stage in enumerate(stages):
        if stage["name"] == name:
            return i, stage
    names = ", ".join(str(s["name"]) for s in stages)
    raise ManifestError(f"no rollout stage called '{name}'", pointer="$.rollout.stages",
                        hint=f"pass --stage with one of: {names}")


def judge_stage(
    stages: Sequence[Mapping[str, Any]],
    name: str,
    data: Monitoring,
    *,
    elapsed_s: float,
    states: Mapping[str, SequentialState],
    findings: Iterable[Finding] = (),
) -> tuple[RolloutDecision, dict[str, SequentialState]]:
    """The decision on stage ``name`` and the sequential states to keep for the next poll."""
    index, stage = find_stage(stages, name)
    bake_s = seconds(stage.get("bake"), 0.0)
    checks, new_states = evaluate_checks(stage, data, states,
                                         where=f"$.rollout.stages[{index}]")
    nxt = stages[index + 1] if index + 1 < len(stages) else None
    decision = RolloutDecision(stage, nxt, tuple(checks), bake_s, elapsed_s, tuple(findings))
    return decision, new_states
