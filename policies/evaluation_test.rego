package gate.evaluation_test

import rego.v1

import data.gate.evaluation

report := {"evaluation": {
	"metrics": {"roc_auc": 0.928, "recall": 0.769, "latency_ms": 12, "precision": 0.571},
	"slices": [
		{"name": "region=eu", "metrics": {"roc_auc": 0.949}, "count": 190500},
		{"name": "region=us", "metrics": {"roc_auc": 0.887}, "count": 22400},
	],
	"baseline": {"model_version": "2.3.1", "metrics": {"roc_auc": 0.941, "recall": 0.774, "latency_ms": 10}, "slices": []},
	"comparison": {},
}}

no_baseline := json.patch(report, [{"op": "replace", "path": "/evaluation/baseline", "value": null}])

rules := {
	"missing": evaluation.deny_missing_metric,
	"floor": evaluation.deny_floor,
	"ceiling": evaluation.deny_ceiling,
	"threshold": evaluation.deny_threshold,
	"absolute": evaluation.deny_absolute_change,
	"relative": evaluation.deny_relative_change,
	"baseline": evaluation.deny_baseline_missing_metric,
	"no_baseline": evaluation.warn_no_baseline,
	"slice": evaluation.deny_slice_bound,
	"gap": evaluation.deny_slice_gap,
	"slice_missing": evaluation.deny_slice_metric_missing,
	"settings": evaluation.deny_settings,
}

test_default_settings_check_nothing if {
	outcome := rules with input as report
	every _, results in outcome {
		count(results) == 0
	}
	count(outcome) == 12
}

test_missing_metric_denied if {
	results := evaluation.deny_missing_metric with input as report
		with data.gate.evaluation.floors as {"accuracy": 0.9}
		with data.gate.evaluation.thresholds as {"accuracy": {"threshold": 0.9, "greater_is_better": true}}
	count(results) == 1
	some result in results
	result.metric == "accuracy"
	result.required_by == ["floors", "thresholds"]
	result.msg == "the evaluation report has no metric 'accuracy', which data.gate.evaluation.floors and thresholds requires; the report has: latency_ms, precision, recall, roc_auc"
}

test_missing_metric_in_empty_report if {
	some result in evaluation.deny_missing_metric with input as {"evaluation": {"metrics": {}, "slices": [], "baseline": null}}
		with data.gate.evaluation.ceilings as {"latency_ms": 50}
	endswith(result.msg, "the report has: (none)")
}

test_floor if {
	some result in evaluation.deny_floor with input as report
		with data.gate.evaluation.floors as {"roc_auc": 0.93}
	result.msg == "roc_auc is 0.928, below its floor 0.93 (short by 0.002)"
	result.floor == 0.93
	count(evaluation.deny_floor) == 0 with input as report
		with data.gate.evaluation.floors as {"roc_auc": 0.928}
}

test_findings_point_into_the_report if {
	located := object.union(report, {"sources": {"report": "reports/eval.json"}})
	some result in evaluation.deny_floor with input as located
		with data.gate.evaluation.floors as {"roc_auc": 0.93}
	result._loc == {"file": "reports/eval.json", "path": "$.metrics[\"roc_auc\"]"}
	some unlocated in evaluation.deny_floor with input as report
		with data.gate.evaluation.floors as {"roc_auc": 0.93}
	unlocated._loc == null
}

test_ceiling if {
	some result in evaluation.deny_ceiling with input as report
		with data.gate.evaluation.ceilings as {"latency_ms": 10}
	result.msg == "latency_ms is 12, above its ceiling 10 (over by 2)"
	count(evaluation.deny_ceiling) == 0 with input as report
		with data.gate.evaluation.ceilings as {"latency_ms": 12}
}

test_threshold_greater_is_better if {
	some result in evaluation.deny_threshold with input as report
		with data.gate.evaluation.thresholds as {"roc_auc": {"threshold": 0.93, "greater_is_better": true}}
	result.msg == "roc_auc is 0.928; its threshold requires at least 0.93 (greater is better)"
	count(evaluation.deny_threshold) == 0 with input as report
		with data.gate.evaluation.thresholds as {"roc_auc": {"threshold": 0.928, "greater_is_better": true}}
}

test_threshold_lower_is_better if {
	some result in evaluation.deny_threshold with input as report
		with data.gate.evaluation.thresholds as {"latency_ms": {"threshold": 10, "greater_is_better": false}}
	result.msg == "latency_ms is 12; its threshold requires at most 10 (lower is better)"
	count(evaluation.deny_threshold) == 0 with input as report
		with data.gate.evaluation.thresholds as {"latency_ms": {"threshold": 12, "greater_is_better": false}}
}

test_absolute_change_tolerated_regression_exceeded if {
	some result in evaluation.deny_absolute_change with input as report
		with data.gate.evaluation.thresholds as {"roc_auc": {"min_absolute_change": -0.01, "greater_is_better": true}}
	result.msg == "roc_auc is 0.928 against 0.941 for the baseline (2.3.1), a change of -0.013 (greater is better); min_absolute_change -0.01 requires at least 0.931"
	result.required == 0.931
	count(evaluation.deny_absolute_change) == 0 with input as report
		with data.gate.evaluation.thresholds as {"roc_auc": {"min_absolute_change": -0.02, "greater_is_better": true}}
}

test_absolute_change_positive_demands_improvement if {
	# As in MLflow: candidate >= baseline + min_absolute_change.
	better := json.patch(report, [{"op": "replace", "path": "/evaluation/metrics/roc_auc", "value": 0.95}])
	count(evaluation.deny_absolute_change) == 1 with input as better
		with data.gate.evaluation.thresholds as {"roc_auc": {"min_absolute_change": 0.01, "greater_is_better": true}}
	count(evaluation.deny_absolute_change) == 0 with input as better
		with data.gate.evaluation.thresholds as {"roc_auc": {"min_absolute_change": 0.009, "greater_is_better": true}}
}

test_absolute_change_exact_boundary_passes_despite_float_rounding if {
	# 0.94 + 0.01 is 0.9500000000000001 in binary floating point.
	exact := json.patch(report, [
		{"op": "replace", "path": "/evaluation/metrics/roc_auc", "value": 0.95},
		{"op": "replace", "path": "/evaluation/baseline/metrics/roc_auc", "value": 0.94},
	])
	count(evaluation.deny_absolute_change) == 0 with input as exact
		with data.gate.evaluation.thresholds as {"roc_auc": {"min_absolute_change": 0.01, "greater_is_better": true}}
}

test_absolute_change_lower_is_better if {
	some result in evaluation.deny_absolute_change with input as report
		with data.gate.evaluation.thresholds as {"latency_ms": {"min_absolute_change": 1, "greater_is_better": false}}
	result.msg == "latency_ms is 12 against 10 for the baseline (2.3.1), a change of 2 (lower is better); min_absolute_change 1 requires at most 9"
	count(evaluation.deny_absolute_change) == 0 with input as report
		with data.gate.evaluation.thresholds as {"latency_ms": {"min_absolute_change": -5, "greater_is_better": false}}
}

test_relative_change_greater_is_better if {
	some result in evaluation.deny_relative_change with input as report
		with data.gate.evaluation.thresholds as {"recall": {"min_relative_change": -0.005, "greater_is_better": true}}
	result.msg == "recall is 0.769 against 0.774 for the baseline (2.3.1), a relative change of -0.646% (greater is better); min_relative_change -0.005 (-0.5%) requires at least 0.77013"
	count(evaluation.deny_relative_change) == 0 with input as report
		with data.gate.evaluation.thresholds as {"recall": {"min_relative_change": -0.01, "greater_is_better": true}}
}

test_relative_change_lower_is_better if {
	some result in evaluation.deny_relative_change with input as report
		with data.gate.evaluation.thresholds as {"latency_ms": {"min_relative_change": -0.1, "greater_is_better": false}}
	result.relative_improvement == -0.2
	result.required == 11
	endswith(result.msg, "min_relative_change -0.1 (-10%) requires at most 11")
	count(evaluation.deny_relative_change) == 0 with input as report
		with data.gate.evaluation.thresholds as {"latency_ms": {"min_relative_change": -0.2, "greater_is_better": false}}
}

test_relative_change_uses_the_magnitude_of_a_negative_baseline if {
	# r2 improved from -0.5 to -0.4: +20%, although (c - b) / b would say -20%.
	negative := json.patch(report, [
		{"op": "add", "path": "/evaluation/metrics/r2", "value": -0.4},
		{"op": "add", "path": "/evaluation/baseline/metrics/r2", "value": -0.5},
	])
	count(evaluation.deny_relative_change) == 0 with input as negative
		with data.gate.evaluation.thresholds as {"r2": {"min_relative_change": 0.1, "greater_is_better": true}}
}

zero(candidate) := json.patch(report, [
	{"op": "add", "path": "/evaluation/metrics/bias", "value": candidate},
	{"op": "add", "path": "/evaluation/baseline/metrics/bias", "value": 0},
])

test_relative_change_from_a_zero_baseline if {
	demand := {"bias": {"min_relative_change": 0.05, "greater_is_better": false}}
	tolerate := {"bias": {"min_relative_change": -0.05, "greater_is_better": false}}
	some result in evaluation.deny_relative_change with input as zero(0.1) with data.gate.evaluation.thresholds as demand
	result.msg == "bias is 0.1 against 0 for the baseline (2.3.1): no relative change can be measured from 0, so the candidate must be better than the baseline (lower is better)"
	count(evaluation.deny_relative_change) == 1 with input as zero(0) with data.gate.evaluation.thresholds as demand
	count(evaluation.deny_relative_change) == 0 with input as zero(-0.1) with data.gate.evaluation.thresholds as demand
	count(evaluation.deny_relative_change) == 0 with input as zero(0) with data.gate.evaluation.thresholds as tolerate
	some worse in evaluation.deny_relative_change with input as zero(0.1) with data.gate.evaluation.thresholds as tolerate
	contains(worse.msg, "must be no worse than the baseline")
}

test_baseline_without_the_metric_denied if {
	some result in evaluation.deny_baseline_missing_metric with input as report
		with data.gate.evaluation.thresholds as {"precision": {"min_absolute_change": -0.01, "greater_is_better": true}}
	result.msg == "the baseline (2.3.1) has no 'precision', so the min_absolute_change limit on it cannot be checked; the baseline has: latency_ms, recall, roc_auc"
	count(evaluation.deny_absolute_change) == 0 with input as report
		with data.gate.evaluation.thresholds as {"precision": {"min_absolute_change": -0.01, "greater_is_better": true}}
	count(evaluation.deny_baseline_missing_metric) == 0 with input as report
		with data.gate.evaluation.thresholds as {"precision": {"threshold": 0.5, "greater_is_better": true}}
}

test_no_baseline_warns_and_skips_change_limits if {
	limits := {
		"roc_auc": {"min_absolute_change": -0.01, "min_relative_change": -0.01, "greater_is_better": true},
		"recall": {"threshold": 0.5, "greater_is_better": true},
	}
	some result in evaluation.warn_no_baseline with input as no_baseline with data.gate.evaluation.thresholds as limits
	result.metrics == ["roc_auc"]
	result.msg == "there is no baseline report, so the change limits on roc_auc were not checked"
	count(evaluation.deny_absolute_change) == 0 with input as no_baseline with data.gate.evaluation.thresholds as limits
	count(evaluation.deny_relative_change) == 0 with input as no_baseline with data.gate.evaluation.thresholds as limits
	count(evaluation.deny_baseline_missing_metric) == 0 with input as no_baseline with data.gate.evaluation.thresholds as limits
}

test_baseline_without_version_is_named_plainly if {
	unversioned := json.patch(report, [{"op": "replace", "path": "/evaluation/baseline/model_version", "value": null}])
	some result in evaluation.deny_absolute_change with input as unversioned
		with data.gate.evaluation.thresholds as {"roc_auc": {"min_absolute_change": 0, "greater_is_better": true}}
	contains(result.msg, "against 0.941 for the baseline, a change of -0.013")
}

test_slice_floor_and_ceiling if {
	some low in evaluation.deny_slice_bound with input as report
		with data.gate.evaluation.slice_floors as {"roc_auc": 0.9}
	low.msg == "slice region=us (n=22400): roc_auc is 0.887, below the slice floor 0.9"
	low.slice == "region=us"
	some high in evaluation.deny_slice_bound with input as report
		with data.gate.evaluation.slice_ceilings as {"roc_auc": 0.94}
	high.msg == "slice region=eu (n=190500): roc_auc is 0.949, above the slice ceiling 0.94"
	count(evaluation.deny_slice_bound) == 0 with input as report
		with data.gate.evaluation.slice_floors as {"roc_auc": 0.85}
		with data.gate.evaluation.slice_ceilings as {"roc_auc": 0.95}
}

test_slice_without_count if {
	uncounted := json.patch(report, [{"op": "remove", "path": "/evaluation/slices/1/count"}])
	some result in evaluation.deny_slice_bound with input as uncounted
		with data.gate.evaluation.slice_floors as {"roc_auc": 0.9}
	result.msg == "slice region=us: roc_auc is 0.887, below the slice floor 0.9"
}

test_slice_gap if {
	some result in evaluation.deny_slice_gap with input as report
		with data.gate.evaluation.max_slice_gap as {"roc_auc": 0.05}
	result.msg == "roc_auc differs by 0.062 between slice region=eu (0.949) and slice region=us (0.887); at most 0.05 is allowed"
	result.lowest == {"slice": "region=us", "value": 0.887}
	count(evaluation.deny_slice_gap) == 0 with input as report
		with data.gate.evaluation.max_slice_gap as {"roc_auc": 0.062}
}

test_slice_metric_missing if {
	results := evaluation.deny_slice_metric_missing with input as report
		with data.gate.evaluation.slice_floors as {"recall": 0.7}
	{r.slice | some r in results} == {"region=eu", "region=us"}
	some r in results
	r.msg == "slice region=us reports no 'recall', which data.gate.evaluation.slice_floors bounds"
}

test_report_without_slices if {
	flat := json.patch(report, [{"op": "replace", "path": "/evaluation/slices", "value": []}])
	results := evaluation.deny_slice_metric_missing with input as flat
		with data.gate.evaluation.slice_ceilings as {"error_rate": 0.1}
		with data.gate.evaluation.max_slice_gap as {"roc_auc": 0.05}
	messages := {r.msg | some r in results}
	messages == {
		"the evaluation report has no slices, so 'error_rate' cannot be checked against data.gate.evaluation.slice_ceilings",
		"0 of 0 slices report 'roc_auc', so its gap between slices (data.gate.evaluation.max_slice_gap) cannot be measured; at least 2 must",
	}
}

test_gap_needs_two_slices if {
	one := json.patch(report, [{"op": "remove", "path": "/evaluation/slices/1/metrics/roc_auc"}])
	some result in evaluation.deny_slice_metric_missing with input as one
		with data.gate.evaluation.max_slice_gap as {"roc_auc": 0.05}
	startswith(result.msg, "1 of 2 slices report 'roc_auc'")
	count(evaluation.deny_slice_gap) == 0 with input as one
		with data.gate.evaluation.max_slice_gap as {"roc_auc": 0.05}
}

test_invalid_settings_denied if {
	results := evaluation.deny_settings with input as report
		with data.gate.evaluation.floors as {"roc_auc": "0.9"}
		with data.gate.evaluation.thresholds as {
			"a": 0.9,
			"b": {"threshold": 0.9},
			"c": {"greater_is_better": true},
			"d": {"threshold": "high", "greater_is_better": true},
			"e": {"min_relative_change": 5, "greater_is_better": true},
			"f": {"threshold": 0.9, "greater_is_beter": true},
		}
	{r.msg | some r in results} == {
		"data.gate.evaluation.floors.roc_auc: must be a number, not \"0.9\"",
		"data.gate.evaluation.thresholds.a: must be a mapping of threshold, min_absolute_change, min_relative_change and greater_is_better",
		"data.gate.evaluation.thresholds.b: greater_is_better must be true or false",
		"data.gate.evaluation.thresholds.c: sets none of threshold, min_absolute_change, min_relative_change",
		"data.gate.evaluation.thresholds.d: threshold must be a number, not \"high\"",
		"data.gate.evaluation.thresholds.e: min_relative_change must be between -1 and 1, not 5",
		"data.gate.evaluation.thresholds.f: unknown key 'greater_is_beter' (expected threshold, min_absolute_change, min_relative_change, greater_is_better)",
		"data.gate.evaluation.thresholds.f: greater_is_better must be true or false",
	}
}

test_invalid_threshold_is_not_applied if {
	count(evaluation.deny_threshold) == 0 with input as report
		with data.gate.evaluation.thresholds as {"roc_auc": {"threshold": 0.99}}
}
