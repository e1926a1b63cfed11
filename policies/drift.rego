# METADATA
# title: Data drift
# description: >-
#   The features of each drift check in gate.yaml (input.drift) against their
#   reference: the test Evidently chooses by type and size, bounds per
#   feature, the share of drifted features, never-seen categories and missing
#   values.
package gate.drift

import rego.v1

# METADATA
# title: Feature drifted
# description: >-
#   Each feature is judged by the tests data.gate.drift.drift_tests lists for
#   its kind and the size of its reference (Evidently's choice: at most
#   small_reference values is small; then KS or chi-squared p-values below
#   0.05, else the normalised Wasserstein distance, or the Jensen-Shannon and
#   L-infinity distances, at or above 0.1). A p-value drifts below its
#   threshold, a distance at or above it. One finding per test that fires.
# custom:
#   id: GATE-DRIFT-001
#   severity: medium
#   enforcement: advisory
#   remediation: >-
#     Look at the feature's distribution on both sides (the statistics are in
#     the drift report): a pipeline change, a new population, a seasonal
#     effect. Retrain on recent data if the shift is real, or fix the feature
#     pipeline if it is not.
warn_feature_drift contains result if {
	some check in input.drift
	some feature in check.features
	some test in feature_tests(feature)
	value := statistic_value(feature, test.statistic)
	beyond(test.statistic, value, test.threshold)
	result := object.union(details(check, feature, test.statistic, value, test.threshold), {
		"_loc": source("manifest"),
		"msg": sprintf("drift '%s': %s feature '%s' drifted: %s is %s, %s %s (%s reference of %s values, %s current values)", [
			check.name,
			feature.kind,
			feature.name,
			test.statistic,
			show(value),
			relation(test.statistic),
			show(test.threshold),
			size(feature),
			show(feature.n.reference),
			show(feature.n.current),
		]),
	})
}

# METADATA
# title: Too many features drifted
# description: >-
#   In each drift check, the share of features that drifted (by the tests of
#   GATE-DRIFT-001, or with no value on a side) must stay below
#   data.gate.drift.max_drifted_share (Evidently's dataset drift: 0.5). This
#   is the rule that makes `gate drift` write a recalibration plan.
# custom:
#   id: GATE-DRIFT-002
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     The data the model sees has moved away from its training data: run the
#     recalibration plan (retrain on a recent window), or, if the reference is
#     what is outdated, move the reference window forward.
deny_dataset_drift contains result if {
	some check in input.drift
	total := count(check.features)
	total > 0
	drifted := drifted_features(check)
	count(drifted) > 0
	share := count(drifted) / total
	share >= data.gate.drift.max_drifted_share
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("drift '%s': %s of %s features drifted (%s%%, at least %s%% fails): %s", [
			check.name,
			show(count(drifted)),
			show(total),
			show(share * 100),
			show(data.gate.drift.max_drifted_share * 100),
			concat(", ", drifted),
		]),
		"check": check.name,
		"drifted": drifted,
		"share": share,
		"threshold": data.gate.drift.max_drifted_share,
		"reference": window(check.reference),
		"current": window(check.current),
	}
}

# METADATA
# title: Feature outside its bound
# description: >-
#   data.gate.drift.feature_bounds sets bounds per feature name on any of its
#   statistics (psi, ks, ks_p_value, wasserstein, wasserstein_norm, chi2,
#   chi2_p_value, jensen_shannon, linf), on missing_share (the current's) and
#   on unseen_share: {amount: {psi: {max: 0.2}}}. Each bound broken is a
#   finding, whatever the default tests say.
# custom:
#   id: GATE-DRIFT-003
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     The named feature moved further than its owner allows: investigate it
#     and retrain, or revise the bound in your policy data if it was too tight.
deny_feature_bound contains result if {
	some check in input.drift
	some feature in check.features
	some statistic, bound in bounds_of(feature)
	is_object(bound)
	value := bounded_value(feature, statistic)
	is_number(value)
	some side, limit in bound
	breaks(side, value, limit)
	result := object.union(details(check, feature, statistic, value, limit), {
		"_loc": source("manifest"),
		"msg": sprintf("drift '%s': feature '%s': %s is %s, %s its bound %s", [
			check.name,
			feature.name,
			statistic,
			show(value),
			bound_word[side],
			show(limit),
		]),
		"bound": side,
	})
}

# METADATA
# title: Never-seen categories
# description: >-
#   A categorical feature's current values in categories its reference never
#   had may make up at most data.gate.drift.max_unseen_share of its current
#   values (default 0: any never-seen category is reported, as TFDV's
#   domain check does).
# custom:
#   id: GATE-DRIFT-004
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     The model never saw these values in training: map them to known
#     categories in the feature pipeline, or retrain with data that has them.
deny_unseen_categories contains result if {
	some check in input.drift
	some feature in check.features
	unseen := object.get(feature, "unseen", {"count": 0, "share": 0, "values": [], "categories": 0})
	unseen.count > 0
	unseen.share > data.gate.drift.max_unseen_share
	result := object.union(details(check, feature, "unseen_share", unseen.share, data.gate.drift.max_unseen_share), {
		"_loc": source("manifest"),
		"msg": sprintf("drift '%s': feature '%s' has %s never-seen categor%s in %s current values (%s%% of them): %s", [
			check.name,
			feature.name,
			show(unseen.categories),
			plural_y(unseen.categories),
			show(unseen.count),
			show(unseen.share * 100),
			concat(", ", [sprintf("%v", [v]) | some v in unseen.values]),
		]),
		"unseen": unseen.values,
	})
}

# METADATA
# title: Missing values rose
# description: >-
#   A feature's share of missing values (NULL, NaN, infinite) in the current
#   data may exceed the reference's by at most
#   data.gate.drift.max_missing_increase (absolute).
# custom:
#   id: GATE-DRIFT-005
#   severity: low
#   enforcement: advisory
#   remediation: >-
#     Find where the values got lost (a join, a source, a schema change) and
#     fix the pipeline; a model fed defaults for missing values drifts quietly.
warn_missing_increase contains result if {
	some check in input.drift
	some feature in check.features
	rise := feature.missing_share.current - feature.missing_share.reference
	rise > data.gate.drift.max_missing_increase
	result := object.union(details(check, feature, "missing_share", feature.missing_share.current, data.gate.drift.max_missing_increase), {
		"_loc": source("manifest"),
		"msg": sprintf("drift '%s': feature '%s' is missing in %s%% of the current rows against %s%% of the reference's (up %s points; at most %s allowed)", [
			check.name,
			feature.name,
			show(feature.missing_share.current * 100),
			show(feature.missing_share.reference * 100),
			show(rise * 100),
			show(data.gate.drift.max_missing_increase * 100),
		]),
	})
}

# METADATA
# title: Feature without values
# description: >-
#   A feature with no value (every row missing) on one side cannot be
#   compared; it counts as drifted, never as unchanged.
# custom:
#   id: GATE-DRIFT-006
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Check the column on the side named: a broken join or extraction, or a
#     window that holds no value of it.
deny_no_values contains result if {
	some check in input.drift
	some feature in check.features
	some side in ["reference", "current"]
	feature.n[side] == 0
	result := object.union(details(check, feature, "n", 0, 1), {
		"_loc": source("manifest"),
		"msg": sprintf("drift '%s': feature '%s' has no value in the %s data (%s rows, all missing): its drift cannot be measured", [
			check.name,
			feature.name,
			side,
			show(check[side].rows),
		]),
		"side": side,
	})
}

# METADATA
# title: Drift settings invalid
# description: >-
#   The settings under data.gate.drift must be well formed: numbers where
#   numbers are expected, drift tests as lists of {statistic, threshold} with
#   a statistic the feature's kind has, and feature bounds as {statistic:
#   {max | min: number}}. A misspelt setting would otherwise check nothing.
# custom:
#   id: GATE-DRIFT-007
#   severity: high
#   enforcement: hard-mandatory
#   remediation: Fix the named setting in your policy data documents.
deny_settings contains result if {
	some problem in settings_problems
	result := {
		"msg": sprintf("data.gate.drift.%s: %s", [problem[0], problem[1]]),
		"setting": problem[0],
	}
}

# Helpers. Settings are read key by key (a reference to data.gate.drift as a
# whole would include this package's own rules); no rule here has the name of
# a setting.

statistics_of := {
	"numeric": {"psi", "ks", "ks_p_value", "wasserstein", "wasserstein_norm"},
	"categorical": {"chi2", "chi2_p_value", "jensen_shannon", "linf"},
}

kinds := {kind | some kind, _ in statistics_of}

p_values := {"ks_p_value", "chi2_p_value"}

bound_word := {"max": "above", "min": "below"}

size(feature) := "small" if {
	feature.n.reference <= data.gate.drift.small_reference
} else := "large"

# Malformed settings (deny_settings reports them) give no tests rather than an error, the
# same on both engines.
feature_tests(feature) := tests if {
	is_object(data.gate.drift.drift_tests)
	sizes := object.get(data.gate.drift.drift_tests, feature.kind, {})
	is_object(sizes)
	tests := object.get(sizes, size(feature), [])
	is_array(tests)
} else := []

bounds_of(feature) := bounds if {
	is_object(data.gate.drift.feature_bounds)
	bounds := object.get(data.gate.drift.feature_bounds, feature.name, {})
	is_object(bounds)
} else := {}

statistic_value(feature, statistic) := object.get(feature, ["statistics", statistic], null)

bounded_value(feature, "missing_share") := feature.missing_share.current

bounded_value(feature, "unseen_share") := object.get(feature, ["unseen", "share"], null)

bounded_value(feature, statistic) := statistic_value(feature, statistic) if {
	not statistic in {"missing_share", "unseen_share"}
}

# A p-value drifts below its threshold; a distance at or above it.
beyond(statistic, value, threshold) if {
	is_number(value)
	statistic in p_values
	value < threshold
}

beyond(statistic, value, threshold) if {
	is_number(value)
	not statistic in p_values
	value >= threshold
}

relation(statistic) := "below" if {
	statistic in p_values
} else := "at or above"

breaks("max", value, limit) if value > limit

breaks("min", value, limit) if value < limit

drifted(feature) if {
	some test in feature_tests(feature)
	beyond(test.statistic, statistic_value(feature, test.statistic), test.threshold)
}

drifted(feature) if {
	some side in ["reference", "current"]
	feature.n[side] == 0
}

drifted_features(check) := sort([feature.name | some feature in check.features; drifted(feature)])

details(check, feature, statistic, value, threshold) := {
	"check": check.name,
	"feature": feature.name,
	"kind": feature.kind,
	"statistic": statistic,
	"value": value,
	"threshold": threshold,
	"n_reference": feature.n.reference,
	"n_current": feature.n.current,
	"reference": window(check.reference),
	"current": window(check.current),
}

window(side) := object.get(side, "window", null)

plural_y(1) := "y"

plural_y(n) := "ies" if n != 1

# Numbers in messages: decimals rounded to 6 places, written out digit by digit, because
# the engines' %v differ (OPA writes 6.1e-05 where regorus writes 0.000061). The details
# keep the values whole. Something other than a number (a malformed setting) is shown
# as JSON.
show(x) := json.marshal(x) if {
	not is_number(x)
} else := "0" if {
	x == 0
} else := "less than 0.000001" if {
	abs(x) < 0.0000005
} else := text if {
	n := round(abs(x) * 1000000)
	whole := floor(n / 1000000)
	digits := trim_right(substring(sprintf("%d", [(n - whole * 1000000) + 1000000]), 1, 6), "0")
	text := concat("", [negative(x), sprintf("%d", [whole]), point(digits), digits])
}

negative(x) := "-" if {
	x < 0
} else := ""

point("") := ""

point(digits) := "." if digits != ""

settings_problems contains [name, sprintf("must be a number, not %s", [json.marshal(value)])] if {
	some name, value in {
		"small_reference": data.gate.drift.small_reference,
		"max_drifted_share": data.gate.drift.max_drifted_share,
		"max_unseen_share": data.gate.drift.max_unseen_share,
		"max_missing_increase": data.gate.drift.max_missing_increase,
	}
	not is_number(value)
}

settings_problems contains ["drift_tests", "must be a mapping of numeric and categorical, each with small and large"] if {
	not is_object(data.gate.drift.drift_tests)
}

settings_problems contains [sprintf("drift_tests.%s", [kind]), "is not a kind of feature (numeric, categorical)"] if {
	some kind, _ in data.gate.drift.drift_tests
	not kind in kinds
}

settings_problems contains [sprintf("drift_tests.%s", [kind]), "must be a mapping of small and large"] if {
	some kind, sizes in data.gate.drift.drift_tests
	kind in kinds
	not is_object(sizes)
}

settings_problems contains [sprintf("drift_tests.%s.%s", [kind, key]), "is not a size (small, large)"] if {
	some kind, sizes in data.gate.drift.drift_tests
	kind in kinds
	is_object(sizes)
	some key, _ in sizes
	not key in {"small", "large"}
}

settings_problems contains [sprintf("drift_tests.%s.%s", [kind, key]), "must be a list of {statistic, threshold}"] if {
	some kind, sizes in data.gate.drift.drift_tests
	kind in kinds
	is_object(sizes)
	some key in ["small", "large"]
	not is_array(object.get(sizes, key, []))
}

settings_problems contains [sprintf("drift_tests.%s.%s[%v]", [kind, key, i]), problem] if {
	some kind, sizes in data.gate.drift.drift_tests
	kind in kinds
	is_object(sizes)
	some key in ["small", "large"]
	tests := object.get(sizes, key, [])
	is_array(tests)
	some i, test in tests
	some problem in test_problems(kind, test)
}

test_problems(kind, test) := {"must be a mapping {statistic, threshold}"} if {
	not is_object(test)
} else := {problem |
	statistic := object.get(test, "statistic", null)
	not statistic in statistics_of[kind]
	problem := sprintf("statistic %s is not one of %s", [json.marshal(statistic), concat(", ", sort(statistics_of[kind]))])
} | {problem |
	threshold := object.get(test, "threshold", null)
	not is_number(threshold)
	problem := sprintf("threshold must be a number, not %s", [json.marshal(threshold)])
}

bound_statistics := (statistics_of.numeric | statistics_of.categorical) | {"missing_share", "unseen_share"}

settings_problems contains [sprintf("feature_bounds.%s", [name]), "must be a mapping of statistic to {max, min}"] if {
	some name, bounds in data.gate.drift.feature_bounds
	not is_object(bounds)
}

settings_problems contains [sprintf("feature_bounds.%s.%s", [name, statistic]), problem] if {
	some name, bounds in data.gate.drift.feature_bounds
	is_object(bounds)
	some statistic, bound in bounds
	some problem in bound_problems(statistic, bound)
}

bound_problems(statistic, bound) := {sprintf("is not a statistic (%s)", [concat(", ", sort(bound_statistics))])} if {
	not statistic in bound_statistics
} else := {"must be a mapping {max: number} or {min: number}"} if {
	not is_object(bound)
} else := {problem |
	some key, limit in bound
	problem := bound_problem(key, limit)
}

bound_problem(key, limit) := sprintf("unknown key '%s' (expected max or min)", [key]) if {
	not key in {"max", "min"}
} else := sprintf("%s must be a number, not %s", [key, json.marshal(limit)]) if {
	not is_number(limit)
}

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
