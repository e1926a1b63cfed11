package gate.drift_test

import rego.v1

import data.gate.drift

calm := {"psi": 0.01, "ks": 0.02, "ks_p_value": 0.6, "wasserstein": 0.3, "wasserstein_norm": 0.02}

amount := {
	"name": "amount", "kind": "numeric",
	"n": {"reference": 50000, "current": 48000},
	"missing_share": {"reference": 0.01, "current": 0.01},
	"statistics": calm,
}

age := json.patch(amount, [{"op": "replace", "path": "/name", "value": "age"}])

country := {
	"name": "country", "kind": "categorical",
	"n": {"reference": 50000, "current": 48000},
	"missing_share": {"reference": 0, "current": 0},
	"statistics": {"chi2": 3.1, "chi2_p_value": 0.4, "jensen_shannon": 0.02, "linf": 0.01},
	"unseen": {"count": 0, "categories": 0, "share": 0, "values": []},
}

check(features) := {
	"name": "transactions",
	"reference": {"data": "ref.csv", "rows": 50500, "window": {"start": "2026-09-01", "end": "2026-09-30"}},
	"current": {"data": "cur.csv", "rows": 48480, "window": null},
	"features": features,
}

doc(features) := {"drift": [check(features)], "sources": {"manifest": "gate.yaml"}}

stat(feature, name, value) := json.patch(feature, [{"op": "replace", "path": sprintf("/statistics/%s", [name]), "value": value}])

rules := {
	"feature": drift.warn_feature_drift,
	"dataset": drift.deny_dataset_drift,
	"bound": drift.deny_feature_bound,
	"unseen": drift.deny_unseen_categories,
	"missing": drift.warn_missing_increase,
	"empty": drift.deny_no_values,
	"settings": drift.deny_settings,
}

test_calm_data_and_no_checks_pass if {
	calm_outcome := rules with input as doc([amount, age, country])
	every _, results in calm_outcome {
		count(results) == 0
	}
	none := rules with input as {"drift": []}
	every _, results in none {
		count(results) == 0
	}
	count(calm_outcome) == 7
}

test_large_numeric_feature_judged_by_normalised_wasserstein if {
	moved := stat(amount, "wasserstein_norm", 0.23456789)
	results := drift.warn_feature_drift with input as doc([moved, age])
	count(results) == 1
	some r in results
	r.msg == "drift 'transactions': numeric feature 'amount' drifted: wasserstein_norm is 0.234568, at or above 0.1 (large reference of 50000 values, 48000 current values)"
	r.feature == "amount"
	r.statistic == "wasserstein_norm"
	r.value == 0.23456789
	r.threshold == 0.1
	r.n_reference == 50000
	r.reference == {"start": "2026-09-01", "end": "2026-09-30"}
	r.current == null
	r._loc == "gate.yaml"
	# the threshold itself counts as drift for a distance; a p-value must be below
	count(drift.warn_feature_drift) == 1 with input as doc([stat(amount, "wasserstein_norm", 0.1)])
}

test_small_numeric_feature_judged_by_ks_p_value if {
	small := json.patch(amount, [{"op": "replace", "path": "/n/reference", "value": 800}])
	count(drift.warn_feature_drift) == 0 with input as doc([stat(small, "wasserstein_norm", 0.5)])
	some r in drift.warn_feature_drift with input as doc([stat(small, "ks_p_value", 0.001)])
	r.msg == "drift 'transactions': numeric feature 'amount' drifted: ks_p_value is 0.001, below 0.05 (small reference of 800 values, 48000 current values)"
	count(drift.warn_feature_drift) == 0 with input as doc([stat(small, "ks_p_value", 0.05)])
	count(drift.warn_feature_drift) == 0 with input as doc([stat(small, "ks_p_value", null)])
}

test_categorical_features_by_jensen_shannon_and_l_infinity if {
	results := drift.warn_feature_drift with input as doc([stat(stat(country, "jensen_shannon", 0.2), "linf", 0.15)])
	{r.statistic | some r in results} == {"jensen_shannon", "linf"}
	small := json.patch(country, [{"op": "replace", "path": "/n/reference", "value": 300}])
	some r in drift.warn_feature_drift with input as doc([stat(small, "chi2_p_value", 0.01)])
	r.statistic == "chi2_p_value"
	contains(r.msg, "categorical feature 'country' drifted")
}

test_dataset_drift_when_half_the_features_drifted if {
	moved := stat(amount, "wasserstein_norm", 0.3)
	some r in drift.deny_dataset_drift with input as doc([moved, age])
	r.msg == "drift 'transactions': 1 of 2 features drifted (50%, at least 50% fails): amount"
	r.drifted == ["amount"]
	r.share == 0.5
	r.reference.start == "2026-09-01"
	count(drift.deny_dataset_drift) == 0 with input as doc([moved, age, country])
	count(drift.deny_dataset_drift) == 1 with input as doc([moved, age, country])
		with data.gate.drift.max_drifted_share as 0.3
	count(drift.deny_dataset_drift) == 0 with input as doc([amount, age])
		with data.gate.drift.max_drifted_share as 0
}

test_feature_bounds if {
	bounds := {"amount": {"psi": {"max": 0.005}, "ks_p_value": {"min": 0.7}, "missing_share": {"max": 0.001}}, "country": {"unseen_share": {"max": 0.1}}}
	results := drift.deny_feature_bound with input as doc([amount, country])
		with data.gate.drift.feature_bounds as bounds
	{r.msg | some r in results} == {
		"drift 'transactions': feature 'amount': psi is 0.01, above its bound 0.005",
		"drift 'transactions': feature 'amount': ks_p_value is 0.6, below its bound 0.7",
		"drift 'transactions': feature 'amount': missing_share is 0.01, above its bound 0.001",
	}
	unseen := json.patch(country, [{"op": "replace", "path": "/unseen", "value": {"count": 960, "categories": 1, "share": 0.2, "values": ["NZ"]}}])
	some r in drift.deny_feature_bound with input as doc([unseen]) with data.gate.drift.feature_bounds as bounds
	r.statistic == "unseen_share"
	r.bound == "max"
}

test_never_seen_categories if {
	unseen := json.patch(country, [{"op": "replace", "path": "/unseen", "value": {"count": 960, "categories": 2, "share": 0.02, "values": ["NZ", "AU"]}}])
	some r in drift.deny_unseen_categories with input as doc([amount, unseen])
	r.msg == "drift 'transactions': feature 'country' has 2 never-seen categories in 960 current values (2% of them): NZ, AU"
	r.unseen == ["NZ", "AU"]
	one := json.patch(unseen, [{"op": "replace", "path": "/unseen/categories", "value": 1}])
	some s in drift.deny_unseen_categories with input as doc([one])
	contains(s.msg, "1 never-seen category in")
	count(drift.deny_unseen_categories) == 0 with input as doc([unseen]) with data.gate.drift.max_unseen_share as 0.05
}

test_missing_values_rose if {
	gaps := json.patch(amount, [{"op": "replace", "path": "/missing_share/current", "value": 0.2}])
	some r in drift.warn_missing_increase with input as doc([gaps])
	r.msg == "drift 'transactions': feature 'amount' is missing in 20% of the current rows against 1% of the reference's (up 19 points; at most 5 allowed)"
	count(drift.warn_missing_increase) == 0 with input as doc([gaps]) with data.gate.drift.max_missing_increase as 0.5
}

test_a_feature_without_values_fails_and_counts_as_drifted if {
	empty := json.patch(amount, [
		{"op": "replace", "path": "/n/current", "value": 0},
		{"op": "replace", "path": "/statistics", "value": {"psi": null, "ks": null, "ks_p_value": null, "wasserstein": null, "wasserstein_norm": null}},
	])
	some r in drift.deny_no_values with input as doc([empty, age])
	r.msg == "drift 'transactions': feature 'amount' has no value in the current data (48480 rows, all missing): its drift cannot be measured"
	r.side == "current"
	some d in drift.deny_dataset_drift with input as doc([empty, age])
	d.drifted == ["amount"]
	count(drift.warn_feature_drift) == 0 with input as doc([empty])
}

test_settings_problems if {
	results := drift.deny_settings with input as doc([amount])
		with data.gate.drift.max_drifted_share as "half"
		with data.gate.drift.drift_tests as {
			"numeric": {"small": [{"statistic": "linf", "threshold": 0.1}], "large": {"statistic": "psi"}, "medium": []},
			"categorical": {"large": [{"statistic": "linf", "threshold": "0.1"}, "psi"]},
			"text": {},
		}
		with data.gate.drift.feature_bounds as {"amount": {"psi": {"max": "x", "most": 1}, "mean": {"max": 1}, "ks": 0.1}, "age": 3}
	{r.msg | some r in results} == {
		"data.gate.drift.max_drifted_share: must be a number, not \"half\"",
		"data.gate.drift.drift_tests.numeric.small[0]: statistic \"linf\" is not one of ks, ks_p_value, psi, wasserstein, wasserstein_norm",
		"data.gate.drift.drift_tests.numeric.large: must be a list of {statistic, threshold}",
		"data.gate.drift.drift_tests.numeric.medium: is not a size (small, large)",
		"data.gate.drift.drift_tests.categorical.large[0]: threshold must be a number, not \"0.1\"",
		"data.gate.drift.drift_tests.categorical.large[1]: must be a mapping {statistic, threshold}",
		"data.gate.drift.drift_tests.text: is not a kind of feature (numeric, categorical)",
		"data.gate.drift.feature_bounds.amount.psi: max must be a number, not \"x\"",
		"data.gate.drift.feature_bounds.amount.psi: unknown key 'most' (expected max or min)",
		"data.gate.drift.feature_bounds.amount.mean: is not a statistic (chi2, chi2_p_value, jensen_shannon, ks, ks_p_value, linf, missing_share, psi, unseen_share, wasserstein, wasserstein_norm)",
		"data.gate.drift.feature_bounds.amount.ks: must be a mapping {max: number} or {min: number}",
		"data.gate.drift.feature_bounds.age: must be a mapping of statistic to {max, min}",
	}
	some r in drift.deny_settings with input as doc([amount]) with data.gate.drift.drift_tests as []
	r.setting == "drift_tests"
	some s in drift.deny_settings with input as doc([amount]) with data.gate.drift.drift_tests as {"numeric": []}
	s.msg == "data.gate.drift.drift_tests.numeric: must be a mapping of small and large"
}

test_numbers_are_written_the_same_on_every_engine if {
	drift.show(0.000061) == "0.000061"
	drift.show(1e-84) == "less than 0.000001"
	drift.show(0) == "0"
	drift.show(-2.5) == "-2.5"
	drift.show(2.9999996) == "3"
	drift.show(123456789.5) == "123456789.5"
	drift.show(10000000) == "10000000"
	drift.show("high") == "\"high\""
}
