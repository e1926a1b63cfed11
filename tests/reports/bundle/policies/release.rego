package release

import rego.v1

cfg := data.limits

# METADATA
# title: AUC floor
# description: The candidate's AUC must reach the agreed floor.
# custom:
#   id: QA-001
#   severity: critical
#   enforcement: hard-mandatory
#   remediation: Retrain or fix the evaluation; this rule cannot be waived.
deny_auc contains result if {
	value := input.evaluation.metrics.auc
	value < cfg.auc_floor
	result := {
		"msg": sprintf("auc is %v, below the floor %v", [value, cfg.auc_floor]),
		"_loc": {"file": "eval.json", "line": 3, "path": "$.metrics.auc"},
		"metric": "auc",
	}
}

# METADATA
# title: Slice recall, per segment
# description: Every slice must reach the recall floor.
# custom:
#   id: QA-002
#   severity: high
#   remediation: Collect more data for weak slices, then re-evaluate.
deny_slice_recall contains msg if {
	some slice in input.evaluation.slices
	slice.metrics.recall < cfg.recall_floor
	msg := sprintf("slice %s: recall %v < %v, 100%% of rows checked\nsee the slice report", [slice.name, slice.metrics.recall, cfg.recall_floor])
}

# METADATA
# title: Latency budget
# custom:
#   id: PERF-001
#   severity: medium
#   remediation: Profile the model before the next release.
warn_latency contains result if {
	latency := input.evaluation.metrics.latency_p95_ms
	latency > cfg.latency_budget_ms
	result := {
		"msg": sprintf("p95 latency is %v ms; the budget is %v ms", [latency, cfg.latency_budget_ms]),
		"_loc": "eval.json:4",
	}
}

# METADATA
# title: No pickle artifacts
# custom:
#   id: ART-001
#   severity: high
#   remediation: Export the model as safetensors or ONNX.
deny_artifact_format contains result if {
	some artifact in input.model.artifacts
	endswith(artifact.path, ".bin")
	result := {"msg": sprintf("%s may be a pickle", [artifact.path]), "artifact": artifact.path}
}

deny_version contains msg if {
	input.model.version == "0.0.0"
	msg := "version 0.0.0 is not a release"
}
