"""Judging a stage (pure): bounds, tolerances, tests, holds, and the stage verdict."""

from __future__ import annotations

from typing import Any

import pytest

from gate.decision import Finding
from gate.errors import ManifestError
from gate.rollout.judge import (
    RolloutDecision,
    direction_of,
    evaluate_check,
    judge_stage,
    monitoring_summary,
    state_key,
)
from gate.rollout.monitoring import Monitoring
from gate.rollout.stats import SEQUENTIAL_MIN_SAMPLES

STAGES: list[dict[str, Any]] = [
    {"name": "canary-5", "weight": 5, "bake": "30m", "min_samples": 4,
     "analysis": [{"metric": "error_rate", "max": 0.02}]},
    {"name": "canary-50", "weight": 50},
    {"name": "full", "weight": 100},
]


def data(canary: dict[str, list[float]] | None = None,
         baseline: dict[str, list[float]] | None = None) -> Monitoring:
    return Monitoring(canary=canary or {}, baseline=baseline or {})


def check(entry: dict[str, Any], canary: list[float] | None, baseline: list[float] | None = None,
          **kw: Any) -> Any:
    d = data({"m": canary} if canary is not None else {},
             {"m": baseline} if baseline is not None else {})
    return evaluate_check({"metric": "m", **entry}, 0, data=d, **kw)[0]


# --- bounds on the canary's mean ---------------------------------------------


def test_absolute_bounds() -> None:
    assert check({"max": 0.02}, [0.0, 0.01, 0.02, 0.03]).outcome == "pass"  # mean 0.015
    over = check({"max": 0.01}, [0.0, 0.01, 0.02, 0.03])
    assert over.outcome == "fail"
    assert over.reasons == ("m: canary mean 0.015 is above max 0.01",)
    assert check({"min": 0.9}, [0.8, 0.9]).outcome == "fail"
    assert over.observed["canary"]["n"] == 4 and over.observed["baseline"] is None


def test_relative_bound_without_a_test_is_a_plain_threshold() -> None:
    up = check({"max_increase": 0.10}, [111.0, 111.0], [100.0, 100.0])
    assert up.outcome == "fail" and "+11.0%" in up.reasons[0] and "over max_increase 10%" \
        in up.reasons[0]
    assert check({"max_increase": 0.10}, [109.0], [100.0]).outcome == "pass"
    assert check({"max_decrease": 0.02}, [97.0], [100.0]).outcome == "fail"
    assert check({"max_decrease": 0.02}, [130.0], [100.0]).outcome == "pass"  # up is fine
    assert check({"max_increase": 0.1}, [0.1], [0.0]).outcome == "fail"  # from a zero baseline


# --- significance: only a significant change counts ---------------------------

SLOW = [float(110 + i) for i in range(30)]  # mean 124.5
FAST = [float(100 + i) for i in range(30)]  # mean 114.5: the canary is +8.7%


def test_significant_change_beyond_tolerance_fails() -> None:
    canary = [v * 1.3 for v in FAST]
    c = check({"max_increase": 0.10, "test": "mann-whitney"}, canary, FAST)
    assert c.outcome == "fail"
    assert c.test["significant"] and c.test["alternative"] == "greater"
    assert c.thresholds == {"max_increase": 0.10, "confidence": 0.98, "direction": "increase",
                            "min_samples": 0}


def test_significant_change_within_tolerance_passes() -> None:
    c = check({"max_increase": 0.10, "test": "mann-whitney"}, SLOW, FAST)
    assert c.test["significant"]  # +8.7% is clearly there ...
    assert c.outcome == "pass"  # ... but within the 10% allowed


def test_change_beyond_tolerance_that_is_not_significant_passes() -> None:
    c = check({"max_increase": 0.10, "test": "mann-whitney"}, [130.0, 90.0, 150.0],
              [100.0, 120.0, 95.0])
    assert c.observed["relative_change"] > 0.10
    assert not c.test["significant"] and c.outcome == "pass"


def test_test_without_bounds_fails_on_any_significant_change_either_way() -> None:
    c = check({"test": "mann-whitney"}, [v * 0.7 for v in FAST], FAST)
    assert c.thresholds["direction"] == "either" and c.test["alternative"] == "two-sided"
    assert c.outcome == "fail" and "a decrease" in c.reasons[0]


def test_direction() -> None:
    assert direction_of({"metric": "m", "max_increase": 0.1}, "x") == "increase"
    assert direction_of({"metric": "m", "max_decrease": 0.1}, "x") == "decrease"
    assert direction_of({"metric": "m", "max_increase": 0.1, "max_decrease": 0.1}, "x") == "either"
    assert direction_of({"metric": "m"}, "x") == "either"
    assert direction_of({"metric": "m", "direction": "increase"}, "x") == "increase"
    with pytest.raises(ManifestError, match="contradicts max_decrease") as e:
        direction_of({"metric": "m", "max_decrease": 0.1, "direction": "increase"},
                     "$.rollout.stages[0].analysis[2]")
    assert e.value.pointer == "$.rollout.stages[0].analysis[2].direction"


def test_one_sided_test_ignores_improvement() -> None:
    c = check({"test": "mann-whitney", "direction": "increase"}, [v * 0.5 for v in FAST], FAST)
    assert c.outcome == "pass" and not c.test["significant"]


# --- data that is missing or too thin ----------------------------------------


def test_missing_data_holds_or_fails_when_required() -> None:
    assert check({"max": 1}, None).outcome == "hold"
    assert check({"max": 1}, None).reasons == ("no canary samples of m in the monitoring data",)
    assert check({"max": 1, "required": True}, None).outcome == "fail"
    no_base = check({"max_increase": 0.1}, [1.0], None)
    assert no_base.outcome == "hold" and "no baseline samples" in no_base.reasons[0]
    assert check({"max": 1}, [0.5], None).outcome == "pass"  # bounds need no baseline


def test_min_samples_holds_per_side() -> None:
    assert check({"max": 1}, [0.5] * 3, stage_min_samples=4).outcome == "hold"
    assert check({"max": 1, "min_samples": 2}, [0.5] * 3, stage_min_samples=4).outcome == "pass"
    thin = check({"max_increase": 0.5}, [1.0] * 10, [1.0] * 3, stage_min_samples=4)
    assert thin.outcome == "hold" and thin.reasons == ("3 samples of m, fewer than min_samples 4",)
    # a breached bound on too few samples is not yet a verdict
    assert check({"max": 0.1}, [0.5] * 3, stage_min_samples=4).outcome == "hold"


def test_sequential_waits_for_its_minimum_then_keeps_state() -> None:
    entry = {"metric": "m", "test": "sequential", "max_increase": 0.1}
    few = data({"m": [1.0] * 5}, {"m": [1.0] * 5})
    c, state = evaluate_check(entry, 0, data=few)
    assert c.outcome == "hold" and state is None and c.test is None
    n = SEQUENTIAL_MIN_SAMPLES
    even = data({"m": [1.0, 2.0] * n}, {"m": [1.0, 2.0] * n})
    c1, s1 = evaluate_check(entry, 0, data=even)
    assert c1.outcome == "pass" and s1 is not None and s1.polls == 1
    assert c1.test is not None
    assert c1.test["name"] == "sequential" and c1.test["poll"] == 1
    worse = data({"m": [1.0, 2.0] * n + [3.0, 4.0] * 4 * n}, {"m": [1.0, 2.0] * 5 * n})
    c2, s2 = evaluate_check(entry, 0, data=worse, prev=s1)
    assert c2.outcome == "fail" and s2 is not None and s2.rejected_at_poll == 2
    assert "significant (sequential p=" in c2.reasons[0]


# --- the stage verdict -------------------------------------------------------


def verdict(checks_data: Monitoring, elapsed_s: float, findings: tuple[Finding, ...] = (),
            stage: str = "canary-5") -> RolloutDecision:
    return judge_stage(STAGES, stage, checks_data, elapsed_s=elapsed_s, states={},
                       findings=findings)[0]


HEALTHY = data({"error_rate": [0.0] * 9 + [0.1]})  # mean 0.01
BROKEN = data({"error_rate": [0.0] * 8 + [0.5, 0.5]})  # mean 0.1


def test_promote_after_bake() -> None:
    d = verdict(HEALTHY, 1800)
    assert (d.verdict, d.exit_code, d.reasons) == ("promote", 0, [])
    assert d.next_stage == STAGES[1] and d.traffic_weight == 50


def test_hold_while_baking() -> None:
    d = verdict(HEALTHY, 600)
    assert (d.verdict, d.exit_code, d.traffic_weight) == ("hold", 3, 5)
    assert d.reasons == ["baking: 10m00s of 30m00s at stage canary-5"]


def test_a_failed_check_rolls_back_even_while_baking() -> None:
    d = verdict(BROKEN, 60)
    assert (d.verdict, d.exit_code, d.traffic_weight) == ("rollback", 1, 0)
    assert d.reasons == ["error_rate: canary mean 0.1 is above max 0.02"]
    reasons = d.rollback_reasons()
    assert [(f.id, f.effect) for f in reasons] == [("rollout.error_rate", "fail")]


def test_policies_deny_or_warn() -> None:
    deny = Finding(id="ROLLOUT-001", kind="failure", message="p99 over the SLO", rule="c.deny")
    warn = Finding(id="ROLLOUT-002", kind="warning", message="thin", rule="c.warn")
    assert verdict(HEALTHY, 1800, (warn,)).verdict == "promote"
    d = verdict(HEALTHY, 1800, (deny, warn))
    assert d.verdict == "rollback" and d.reasons == ["policy ROLLOUT-001: p99 over the SLO"]
    assert [f.id for f in d.rollback_reasons()] == ["ROLLOUT-001"]
    doc = d.to_json()
    assert [f["id"] for f in doc["findings"]] == ["ROLLOUT-001", "ROLLOUT-002"]


def test_last_stage_completes_at_full_traffic() -> None:
    d = verdict(HEALTHY, 0, stage="full")
    assert (d.verdict, d.next_stage, d.traffic_weight) == ("promote", None, 100)
    assert d.to_json()["next_stage"] is None


def test_unknown_stage_names_the_choices() -> None:
    with pytest.raises(ManifestError, match="no rollout stage called 'canary-7'") as e:
        verdict(HEALTHY, 0, stage="canary-7")
    assert "canary-5, canary-50, full" in e.value.hint


def test_monitoring_summary_for_policies() -> None:
    summary = monitoring_summary(data({"a": [1.0, 3.0]}, {"a": [2.0], "b": [5.0]}))
    assert summary["a"]["canary"]["mean"] == 2.0 and summary["a"]["baseline"]["n"] == 1
    assert summary["b"] == {"canary": None, "baseline": summary["b"]["baseline"]}
    assert state_key(2, {"metric": "latency_ms"}) == "2:latency_ms"


def test_the_statistical_tests_registry_is_the_only_list() -> None:
    """gate.yaml may name exactly the tests the registry runs."""
    import json
    from pathlib import Path

    from gate.rollout.judge import STAT_TESTS

    schema = json.loads((Path(__file__).resolve().parent.parent / "gate" / "schemas" /
                         "manifest.schema.json").read_text())
    analysis = schema["$defs"]["stage"]["properties"]["analysis"]["items"]["properties"]
    assert analysis["test"]["enum"] == list(STAT_TESTS)
