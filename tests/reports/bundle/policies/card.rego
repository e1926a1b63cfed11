package card

import rego.v1

# METADATA
# title: Model card names an owner
# description: Someone must answer for the model in production.
# custom:
#   id: CARD-001
#   severity: medium
#   remediation: Add `owner` to the model card.
deny_owner contains msg if {
	not input.model.card.owner
	msg := "the model card names no owner"
}
