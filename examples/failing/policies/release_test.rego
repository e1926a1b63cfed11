package release_test

import rego.v1

import data.release

base := {
	"model": {"card": {"intended_use": "x", "limitations": "y", "owners": ["a"], "license": "mit", "training_data": "z"}, "artifacts": []},
	"lineage": {"datasets": [], "outputs": []},
	"evaluation": {"metrics": {"roc_auc": 0.95, "recall": 0.8}, "slices": [], "comparison": {}, "baseline": null},
}

test_complete_bundle_passes if {
	count(release.deny_card_field) == 0 with input as base
	count(release.deny_metric_floor) == 0 with input as base
}

test_missing_card_field_denied if {
	release.deny_card_field["the model card has no 'license'"] with input as json.remove(base, ["model/card/license"])
}

test_metric_below_floor_denied if {
	some msg in release.deny_metric_floor with input as json.patch(base, [{"op": "replace", "path": "/evaluation/metrics/recall", "value": 0.5}])
	startswith(msg, "recall is 0.5000")
}

test_missing_metric_denied if {
	release.deny_metric_floor["the evaluation report has no 'recall', which has a floor"] with input as json.remove(base, ["evaluation/metrics/recall"])
}

test_leakage_by_digest_denied if {
	leaky := json.patch(base, [{"op": "replace", "path": "/lineage/datasets", "value": [
		{"name": "train", "role": "train", "uri": "s3://a/train", "sha256": "ab"},
		{"name": "test", "role": "test", "uri": "s3://a/test", "sha256": "ab"},
	]}])
	release.deny_leakage["test dataset test is also a training dataset"] with input as leaky
}

test_regression_denied if {
	worse := json.patch(base, [{"op": "replace", "path": "/evaluation/comparison", "value": {
		"roc_auc": {"candidate": 0.90, "baseline": 0.95, "delta": -0.05, "relative_delta": -0.0526},
	}}, {"op": "replace", "path": "/evaluation/baseline", "value": {"model_version": "1.0", "metrics": {}, "slices": []}}])
	count(release.deny_regression) == 1 with input as worse
}
