# Release criteria for fraud-detector. Thresholds live in data/thresholds.yaml.
package release

import rego.v1

cfg := data.release

# METADATA
# title: Model card is complete
# description: Reviewers and auditors need the card's required fields filled in.
# custom:
#   id: CARD-001
#   severity: medium
#   remediation: Fill in the missing fields in the model card's front matter.
deny_card_field contains msg if {
	some field in cfg.required_card_fields
	not filled(input.model.card[field])
	msg := sprintf("the model card has no '%s'", [field])
}

filled(value) if count(value) > 0

filled(value) if is_number(value)

# METADATA
# title: Metric floor
# description: Every metric with a floor must be reported and reach it.
# custom:
#   id: EVAL-001
#   severity: critical
#   remediation: Do not ship; retrain or fix the evaluation before releasing.
deny_metric_floor contains msg if {
	some metric, floor in cfg.metric_floors
	value := input.evaluation.metrics[metric]
	value < floor
	msg := sprintf("%s is %.4f, below the floor %.4f", [metric, value, floor])
}

deny_metric_floor contains msg if {
	some metric, _ in cfg.metric_floors
	not input.evaluation.metrics[metric]
	msg := sprintf("the evaluation report has no '%s', which has a floor", [metric])
}

# METADATA
# title: No regression against production
# description: The candidate may not be worse than the model now serving by more than the agreed margin.
# custom:
#   id: EVAL-002
#   severity: high
#   remediation: Compare the candidate with production slice by slice; ship only an improvement or an approved trade-off.
deny_regression contains result if {
	some metric, max_drop in cfg.max_relative_drop
	cmp := input.evaluation.comparison[metric]
	cmp.relative_delta < 0 - max_drop
	result := {
		"msg": sprintf("%s dropped %.2f%% against production %s (%.4f -> %.4f); at most %.2f%% is allowed", [
			metric, 0 - cmp.relative_delta * 100, input.evaluation.baseline.model_version,
			cmp.baseline, cmp.candidate, max_drop * 100,
		]),
		"metric": metric,
		"relative_delta": cmp.relative_delta,
	}
}

# METADATA
# title: Slice floor
# description: No evaluation slice may fall below its floor.
# custom:
#   id: EVAL-003
#   severity: high
#   remediation: Collect more data for the weak slice or reweight training; check for a data issue in that slice.
deny_slice_floor contains msg if {
	some slice in input.evaluation.slices
	some metric, floor in cfg.slice_floors
	value := slice.metrics[metric]
	value < floor
	msg := sprintf("slice %s: %s is %.4f, below the floor %.4f", [slice.name, metric, value, floor])
}

# METADATA
# title: Slice gap (fairness)
# description: The best and worst slice may differ by at most the agreed gap.
# custom:
#   id: EVAL-004
#   severity: high
#   remediation: Investigate the worst slice; a gap this wide needs sign-off from the fairness review.
deny_slice_gap contains msg if {
	some metric, max_gap in cfg.max_slice_gap
	values := [s.metrics[metric] | some s in input.evaluation.slices; s.metrics[metric]]
	count(values) > 1
	gap := max(values) - min(values)
	gap > max_gap
	msg := sprintf("%s differs by %.4f between the best and worst slice; at most %.4f is allowed", [metric, gap, max_gap])
}

# METADATA
# title: Artifact matches lineage
# description: Every artifact the training run recorded with a digest must be the file being shipped.
# custom:
#   id: LINEAGE-001
#   severity: critical
#   remediation: Ship exactly the artifact the training run produced, or re-run the pipeline to record the new one.
deny_artifact_digest contains msg if {
	some out in input.lineage.outputs
	out.sha256
	some artifact in input.model.artifacts
	endswith(out.name, artifact.path)
	artifact.sha256 != out.sha256
	msg := sprintf("%s has sha256 %s, but the training run produced %s", [artifact.path, substring(artifact.sha256, 0, 12), substring(out.sha256, 0, 12)])
}

# METADATA
# title: No train/test leakage
# description: No dataset used to evaluate the model may also be a training dataset.
# custom:
#   id: LINEAGE-002
#   severity: critical
#   remediation: Re-split the data so evaluation rows are never trained on, then retrain and re-evaluate.
deny_leakage contains msg if {
	some train in input.lineage.datasets
	train.role == "train"
	some held_out in input.lineage.datasets
	held_out.role in {"test", "eval", "validation"}
	same_dataset(train, held_out)
	msg := sprintf("%s dataset %s is also a training dataset", [held_out.role, held_out.name])
}

same_dataset(a, b) if {
	a.uri
	a.uri == b.uri
}

same_dataset(a, b) if {
	a.sha256
	a.sha256 == b.sha256
}

# METADATA
# title: Latency budget
# description: p95 latency above the budget is allowed, but the on-call team must know.
# custom:
#   id: PERF-001
#   severity: medium
#   remediation: Profile the model; consider quantisation before the next release.
warn_latency contains msg if {
	latency := input.evaluation.metrics.latency_p95_ms
	latency > cfg.latency_budget_ms
	msg := sprintf("p95 latency is %.1f ms; the budget is %v ms", [latency, cfg.latency_budget_ms])
}
