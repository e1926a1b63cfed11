# METADATA
# title: Evaluation
# description: >-
#   The candidate reaches its metric floors and ceilings, does not regress
#   against the model in production beyond the agreed limits (after MLflow's
#   MetricThreshold), and serves every evaluation slice well enough.
package gate.evaluation

import rego.v1

# METADATA
# title: Required metric missing
# description: >-
#   A metric that data.gate.evaluation.floors, ceilings or thresholds names
#   must be in the candidate's evaluation report: a missing metric is a
#   failure, never a silent pass.
# custom:
#   id: GATE-EVAL-001
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Compute the metric in the evaluation job and write it to the report, or
#     check its spelling in the report and in your data.
deny_missing_metric contains result if {
	some metric in {pair[0] | some pair in metric_requirements}
	not is_number(object.get(input.evaluation.metrics, metric, null))
	settings := sort([pair[1] | some pair in metric_requirements; pair[0] == metric])
	result := {
		"_loc": report_loc("$.metrics"),
		"msg": sprintf("the evaluation report has no metric '%s', which data.gate.evaluation.%s requires; the report has: %s", [
			metric,
			concat(" and ", settings),
			listing(object.keys(input.evaluation.metrics)),
		]),
		"metric": metric,
		"required_by": settings,
	}
}

# METADATA
# title: Metric below its floor
# description: Every metric in data.gate.evaluation.floors must be at least its floor.
# custom:
#   id: GATE-EVAL-002
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Do not ship this candidate: improve the model (data, features,
#     training) until it reaches the floor, or have the floor revised.
deny_floor contains result if {
	some metric, floor in data.gate.evaluation.floors
	is_number(floor)
	value := input.evaluation.metrics[metric]
	is_number(value)
	value < floor
	result := {
		"_loc": report_loc(metric_path(metric)),
		"msg": sprintf("%s is %v, below its floor %v (short by %v)", [metric, value, floor, num(floor - value)]),
		"metric": metric,
		"value": value,
		"floor": floor,
	}
}

# METADATA
# title: Metric above its ceiling
# description: Every metric in data.gate.evaluation.ceilings must be at most its ceiling.
# custom:
#   id: GATE-EVAL-003
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Do not ship this candidate: bring the metric (error rate, latency,
#     size) under the ceiling, or have the ceiling revised.
deny_ceiling contains result if {
	some metric, ceiling in data.gate.evaluation.ceilings
	is_number(ceiling)
	value := input.evaluation.metrics[metric]
	is_number(value)
	value > ceiling
	result := {
		"_loc": report_loc(metric_path(metric)),
		"msg": sprintf("%s is %v, above its ceiling %v (over by %v)", [metric, value, ceiling, num(value - ceiling)]),
		"metric": metric,
		"value": value,
		"ceiling": ceiling,
	}
}

# METADATA
# title: Metric fails its threshold
# description: >-
#   MLflow MetricThreshold.threshold: the candidate's metric must be at least
#   the threshold when greater is better, at most the threshold otherwise.
# custom:
#   id: GATE-EVAL-004
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Do not ship this candidate: improve the model until the metric meets
#     its threshold, or have the threshold revised.
deny_threshold contains result if {
	some metric, limit in valid_thresholds
	is_number(limit.threshold)
	value := input.evaluation.metrics[metric]
	is_number(value)
	not better_or_equal(value, limit.threshold, limit.greater_is_better)
	result := {
		"_loc": report_loc(metric_path(metric)),
		"msg": sprintf("%s is %v; its threshold requires %s %v (%s)", [
			metric,
			value,
			at_least[limit.greater_is_better],
			limit.threshold,
			direction[limit.greater_is_better],
		]),
		"metric": metric,
		"value": value,
		"threshold": limit.threshold,
		"greater_is_better": limit.greater_is_better,
	}
}

# METADATA
# title: Change against the baseline too small
# description: >-
#   MLflow MetricThreshold.min_absolute_change: the candidate must be at least
#   baseline + min_absolute_change when greater is better (at most
#   baseline - min_absolute_change otherwise). A positive value demands an
#   improvement, as in MLflow; a negative value tolerates a regression of at
#   most its size.
# custom:
#   id: GATE-EVAL-005
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Compare the candidate with the model in production metric by metric;
#     ship only an improvement within the agreed limits, or waive this rule
#     for this release with the trade-off written in the reason.
deny_absolute_change contains result if {
	some metric, limit in valid_thresholds
	is_number(limit.min_absolute_change)
	candidate := input.evaluation.metrics[metric]
	baseline := input.evaluation.baseline.metrics[metric]
	is_number(candidate)
	is_number(baseline)
	required := baseline + (sign[limit.greater_is_better] * limit.min_absolute_change)
	not better_or_equal(candidate + (sign[limit.greater_is_better] * epsilon), required, limit.greater_is_better)
	result := {
		"_loc": report_loc(metric_path(metric)),
		"msg": sprintf("%s is %v against %v for %s, a change of %v (%s); min_absolute_change %v requires %s %v", [
			metric,
			candidate,
			baseline,
			baseline_name,
			num(candidate - baseline),
			direction[limit.greater_is_better],
			limit.min_absolute_change,
			at_least[limit.greater_is_better],
			num(required),
		]),
		"metric": metric,
		"candidate": candidate,
		"baseline": baseline,
		"delta": candidate - baseline,
		"required": num(required),
		"min_absolute_change": limit.min_absolute_change,
		"greater_is_better": limit.greater_is_better,
	}
}

# METADATA
# title: Relative change against the baseline too small
# description: >-
#   MLflow MetricThreshold.min_relative_change: the relative improvement,
#   (candidate - baseline) / |baseline| when greater is better and
#   (baseline - candidate) / |baseline| otherwise, must be at least
#   min_relative_change. A negative value tolerates a relative regression of
#   at most its size. When the baseline is 0 the candidate must simply be
#   better (not worse, for a negative limit), as MLflow does.
# custom:
#   id: GATE-EVAL-006
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Compare the candidate with the model in production metric by metric;
#     ship only an improvement within the agreed limits, or waive this rule
#     for this release with the trade-off written in the reason.
deny_relative_change contains result if {
	some metric, limit in valid_thresholds
	is_number(limit.min_relative_change)
	candidate := input.evaluation.metrics[metric]
	baseline := input.evaluation.baseline.metrics[metric]
	is_number(candidate)
	is_number(baseline)
	baseline != 0
	improvement := (sign[limit.greater_is_better] * (candidate - baseline)) / abs(baseline)
	improvement < limit.min_relative_change - epsilon
	required := baseline + ((sign[limit.greater_is_better] * limit.min_relative_change) * abs(baseline))
	result := {
		"_loc": report_loc(metric_path(metric)),
		"msg": sprintf("%s is %v against %v for %s, a relative change of %v%% (%s); min_relative_change %v (%v%%) requires %s %v", [
			metric,
			candidate,
			baseline,
			baseline_name,
			percent(improvement),
			direction[limit.greater_is_better],
			limit.min_relative_change,
			percent(limit.min_relative_change),
			at_least[limit.greater_is_better],
			num(required),
		]),
		"metric": metric,
		"candidate": candidate,
		"baseline": baseline,
		"relative_improvement": improvement,
		"required": num(required),
		"min_relative_change": limit.min_relative_change,
		"greater_is_better": limit.greater_is_better,
	}
}

deny_relative_change contains result if {
	some metric, limit in valid_thresholds
	is_number(limit.min_relative_change)
	candidate := input.evaluation.metrics[metric]
	is_number(candidate)
	input.evaluation.baseline.metrics[metric] == 0
	not zero_baseline_ok(candidate, limit)
	result := {
		"_loc": report_loc(metric_path(metric)),
		"msg": sprintf("%s is %v against 0 for %s: no relative change can be measured from 0, so the candidate must be %s than the baseline (%s)", [
			metric,
			candidate,
			baseline_name,
			zero_baseline_need(limit),
			direction[limit.greater_is_better],
		]),
		"metric": metric,
		"candidate": candidate,
		"baseline": 0,
		"relative_improvement": null,
		"required": 0,
		"min_relative_change": limit.min_relative_change,
		"greater_is_better": limit.greater_is_better,
	}
}

# METADATA
# title: Baseline lacks a compared metric
# description: >-
#   A metric with a min_absolute_change or min_relative_change must be in the
#   baseline report too, or the change cannot be measured (MLflow fails the
#   comparison the same way).
# custom:
#   id: GATE-EVAL-007
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Evaluate the production model on the same metrics (re-run its
#     evaluation), or drop the change limit for that metric.
deny_baseline_missing_metric contains result if {
	is_object(input.evaluation.baseline)
	some metric, limit in valid_thresholds
	some key in change_keys
	is_number(object.get(limit, key, null))
	is_number(input.evaluation.metrics[metric])
	not is_number(object.get(input.evaluation.baseline, ["metrics", metric], null))
	result := {
		"_loc": source("baseline"),
		"msg": sprintf("%s has no '%s', so the %s limit on it cannot be checked; the baseline has: %s", [
			baseline_name,
			metric,
			key,
			listing(object.keys(input.evaluation.baseline.metrics)),
		]),
		"metric": metric,
		"limit": key,
	}
}

# METADATA
# title: No baseline to compare with
# description: >-
#   Change limits are set but the release has no baseline report (gate.yaml
#   evaluation.baseline), so they were not checked. Expected for a first
#   release; advisory by default.
# custom:
#   id: GATE-EVAL-008
#   severity: info
#   enforcement: advisory
#   remediation: >-
#     Add the production model's evaluation report as evaluation.baseline in
#     gate.yaml, so the candidate is compared with what it replaces.
warn_no_baseline contains result if {
	not is_object(object.get(input.evaluation, "baseline", null))
	metrics := sort({metric |
		some metric, limit in valid_thresholds
		some key in change_keys
		is_number(object.get(limit, key, null))
	})
	count(metrics) > 0
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("there is no baseline report, so the change limits on %s were not checked", [concat(", ", metrics)]),
		"metrics": metrics,
	}
}

# METADATA
# title: Slice outside its bounds
# description: >-
#   In every evaluation slice, each metric in data.gate.evaluation.slice_floors
#   must reach its floor and each in slice_ceilings stay under its ceiling.
# custom:
#   id: GATE-EVAL-009
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Investigate the named slice (data quality, coverage in training data);
#     collect more data for it or reweight training, then re-evaluate.
deny_slice_bound contains result if {
	some slice in input.evaluation.slices
	some metric, floor in data.gate.evaluation.slice_floors
	is_number(floor)
	value := slice.metrics[metric]
	is_number(value)
	value < floor
	result := {
		"_loc": source("report"),
		"msg": sprintf("slice %s%s: %s is %v, below the slice floor %v", [slice.name, slice_size(slice), metric, value, floor]),
		"slice": slice.name,
		"metric": metric,
		"value": value,
		"floor": floor,
	}
}

deny_slice_bound contains result if {
	some slice in input.evaluation.slices
	some metric, ceiling in data.gate.evaluation.slice_ceilings
	is_number(ceiling)
	value := slice.metrics[metric]
	is_number(value)
	value > ceiling
	result := {
		"_loc": source("report"),
		"msg": sprintf("slice %s%s: %s is %v, above the slice ceiling %v", [slice.name, slice_size(slice), metric, value, ceiling]),
		"slice": slice.name,
		"metric": metric,
		"value": value,
		"ceiling": ceiling,
	}
}

# METADATA
# title: Gap between slices too wide
# description: >-
#   For each metric in data.gate.evaluation.max_slice_gap, the highest and the
#   lowest value over the evaluation slices may differ by at most the gap: the
#   model must serve every group about equally well.
# custom:
#   id: GATE-EVAL-010
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Investigate the weakest slice; a gap this wide needs a fix (data,
#     reweighting) or sign-off from the fairness review as a waiver.
deny_slice_gap contains result if {
	some metric, max_gap in data.gate.evaluation.max_slice_gap
	is_number(max_gap)
	reported := [slice | some slice in input.evaluation.slices; is_number(slice.metrics[metric])]
	count(reported) > 1
	values := [slice.metrics[metric] | some slice in reported]
	gap := max(values) - min(values)
	gap > max_gap + epsilon
	highest := [slice.name | some slice in reported; slice.metrics[metric] == max(values)][0]
	lowest := [slice.name | some slice in reported; slice.metrics[metric] == min(values)][0]
	result := {
		"_loc": source("report"),
		"msg": sprintf("%s differs by %v between slice %s (%v) and slice %s (%v); at most %v is allowed", [
			metric,
			num(gap),
			highest,
			max(values),
			lowest,
			min(values),
			max_gap,
		]),
		"metric": metric,
		"gap": num(gap),
		"max_gap": max_gap,
		"highest": {"slice": highest, "value": max(values)},
		"lowest": {"slice": lowest, "value": min(values)},
	}
}

# METADATA
# title: Slice metric missing
# description: >-
#   A metric with a slice floor or ceiling must be reported by every slice,
#   and one with a maximum slice gap by at least two; a report without slices
#   fails every slice setting. Missing data is a failure, not a silent pass.
# custom:
#   id: GATE-EVAL-011
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Compute the metric per slice in the evaluation job and write the slices
#     to the report, or remove the slice setting from your data.
deny_slice_metric_missing contains result if {
	some slice in input.evaluation.slices
	some pair in slice_requirements
	not is_number(object.get(slice, ["metrics", pair[0]], null))
	result := {
		"_loc": source("report"),
		"msg": sprintf("slice %s reports no '%s', which data.gate.evaluation.%s bounds", [slice.name, pair[0], pair[1]]),
		"slice": slice.name,
		"metric": pair[0],
	}
}

deny_slice_metric_missing contains result if {
	count(input.evaluation.slices) == 0
	some pair in slice_requirements
	result := {
		"_loc": source("report"),
		"msg": sprintf("the evaluation report has no slices, so '%s' cannot be checked against data.gate.evaluation.%s", [pair[0], pair[1]]),
		"slice": null,
		"metric": pair[0],
	}
}

deny_slice_metric_missing contains result if {
	some metric, _ in data.gate.evaluation.max_slice_gap
	reporting := count([slice | some slice in input.evaluation.slices; is_number(slice.metrics[metric])])
	reporting < 2
	result := {
		"_loc": source("report"),
		"msg": sprintf("%v of %v slices report '%s', so its gap between slices (data.gate.evaluation.max_slice_gap) cannot be measured; at least 2 must", [
			reporting,
			count(input.evaluation.slices),
			metric,
		]),
		"slice": null,
		"metric": metric,
	}
}

# METADATA
# title: Evaluation settings invalid
# description: >-
#   The settings under data.gate.evaluation must be well formed: bounds are
#   numbers; a threshold entry is a mapping with greater_is_better (a
#   boolean), at least one of threshold, min_absolute_change and
#   min_relative_change (numbers; min_relative_change between -1 and 1), and
#   no other key. A misspelt setting would otherwise check nothing.
# custom:
#   id: GATE-EVAL-012
#   severity: high
#   enforcement: hard-mandatory
#   remediation: Fix the named setting in your policy data documents.
deny_settings contains result if {
	some problem in settings_problems
	result := {
		"msg": sprintf("data.gate.evaluation.%s: %s", [problem[0], problem[1]]),
		"setting": problem[0],
	}
}

# Helpers. Settings are read key by key: a reference to data.gate.evaluation as
# a whole (or with a variable key) would include this package's own rules.

epsilon := 1e-9

limit_keys := ["threshold", "min_absolute_change", "min_relative_change"]

change_keys := ["min_absolute_change", "min_relative_change"]

sign := {true: 1, false: -1}

at_least := {true: "at least", false: "at most"}

direction := {true: "greater is better", false: "lower is better"}

bounds := {
	"floors": data.gate.evaluation.floors,
	"ceilings": data.gate.evaluation.ceilings,
	"slice_floors": data.gate.evaluation.slice_floors,
	"slice_ceilings": data.gate.evaluation.slice_ceilings,
	"max_slice_gap": data.gate.evaluation.max_slice_gap,
}

metric_requirements contains [metric, "floors"] if some metric, _ in data.gate.evaluation.floors

metric_requirements contains [metric, "ceilings"] if some metric, _ in data.gate.evaluation.ceilings

metric_requirements contains [metric, "thresholds"] if some metric, _ in data.gate.evaluation.thresholds

slice_requirements contains [metric, "slice_floors"] if some metric, _ in data.gate.evaluation.slice_floors

slice_requirements contains [metric, "slice_ceilings"] if some metric, _ in data.gate.evaluation.slice_ceilings

valid_thresholds[metric] := limit if {
	some metric, limit in data.gate.evaluation.thresholds
	is_object(limit)
	is_boolean(object.get(limit, "greater_is_better", null))
}

settings_problems contains [sprintf("%s.%s", [name, metric]), sprintf("must be a number, not %s", [json.marshal(value)])] if {
	some name, values in bounds
	some metric, value in values
	not is_number(value)
}

settings_problems contains [sprintf("thresholds.%s", [metric]), "must be a mapping of threshold, min_absolute_change, min_relative_change and greater_is_better"] if {
	some metric, limit in data.gate.evaluation.thresholds
	not is_object(limit)
}

settings_problems contains [sprintf("thresholds.%s", [metric]), problem] if {
	some metric, limit in data.gate.evaluation.thresholds
	is_object(limit)
	some problem in threshold_problems(limit)
}

threshold_problems(limit) := {problem |
	some key, _ in limit
	not key in {"threshold", "min_absolute_change", "min_relative_change", "greater_is_better"}
	problem := sprintf("unknown key '%s' (expected threshold, min_absolute_change, min_relative_change, greater_is_better)", [key])
} | {problem |
	not is_boolean(object.get(limit, "greater_is_better", null))
	problem := "greater_is_better must be true or false"
} | {problem |
	count([key | some key in limit_keys; object.get(limit, key, null) != null]) == 0
	problem := "sets none of threshold, min_absolute_change, min_relative_change"
} | {problem |
	some key in limit_keys
	value := object.get(limit, key, null)
	value != null
	not is_number(value)
	problem := sprintf("%s must be a number, not %s", [key, json.marshal(value)])
} | {problem |
	value := object.get(limit, "min_relative_change", null)
	is_number(value)
	abs(value) > 1
	problem := sprintf("min_relative_change must be between -1 and 1, not %v", [value])
}

better_or_equal(value, bound, true) if value >= bound

better_or_equal(value, bound, false) if value <= bound

zero_baseline_ok(candidate, limit) if {
	limit.min_relative_change > 0
	sign[limit.greater_is_better] * candidate > 0
}

zero_baseline_ok(candidate, limit) if {
	limit.min_relative_change <= 0
	sign[limit.greater_is_better] * candidate >= 0
}

baseline_name := sprintf("the baseline (%s)", [version]) if {
	version := input.evaluation.baseline.model_version
	is_string(version)
} else := "the baseline"

slice_size(slice) := sprintf(" (n=%v)", [slice.count]) if {
	is_number(slice.count)
} else := ""

listing(names) := concat(", ", sort(names)) if {
	count(names) > 0
} else := "(none)"

zero_baseline_need(limit) := "better" if {
	limit.min_relative_change > 0
} else := "no worse"

# Computed numbers are rounded for messages: %v of 0.941 - 0.928 would show
# 0.013000000000000012.
num(x) := round(x * 1000000) / 1000000

percent(x) := round(x * 1000000) / 10000

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)

# A place inside the evaluation report: its file and a JSON path, or null when
# gate.yaml names no report. Reports turn the path into a line where they can.
report_loc(path) := {"file": file, "path": path} if {
	file := source("report")
	is_string(file)
} else := null

metric_path(metric) := sprintf("$.metrics[%s]", [json.marshal(metric)])
