package release

import rego.v1

# METADATA
# title: Accuracy floor
# custom:
#   id: EVAL-001
#   severity: critical
#   remediation: Retrain before releasing.
deny_accuracy contains msg if {
	input.evaluation.metrics.accuracy < data.floors.accuracy
	msg := sprintf("accuracy %v is below %v", [input.evaluation.metrics.accuracy, data.floors.accuracy])
}

# METADATA
# title: Card names a license
# custom:
#   id: CARD-001
#   severity: low
warn_license contains "the model card names no license" if {
	not input.model.card.license
}
