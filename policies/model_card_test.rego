package gate.model_card_test

import rego.v1

import data.gate.model_card

card := {
	"intended_use": "Score card-not-present transactions for fraud risk.",
	"limitations": "Precision drops on merchants with few transactions.",
	"owners": ["risk-ml@example.com"],
	"license": "apache-2.0",
	"training_data": "card transactions 2025, 4.1M rows",
}

with_card(c) := {"model": {"card": c}}

test_complete_card_passes if {
	count(model_card.deny_card_field) == 0 with input as with_card(card)
	count(model_card.deny_license) == 0 with input as with_card(card)
}

test_missing_field_denied if {
	some result in model_card.deny_card_field with input as with_card(object.remove(card, ["license"]))
	result.field == "license"
	startswith(result.msg, "the model card has no 'license'")
}

test_blank_string_and_empty_list_denied if {
	blank := object.union(card, {"limitations": "  ", "owners": []})
	fields := {r.field | some r in model_card.deny_card_field} with input as with_card(blank)
	fields == {"limitations", "owners"}
}

test_invisible_text_counts_as_empty if {
	# zero-width space, word joiner, a combining mark alone, a Hangul filler, an ideographic space
	invisible := object.union(card, {"limitations": "\u200b\u2060", "owners": ["\u0301", "\u3164"], "license": "\u3000"})
	fields := {r.field | some r in model_card.deny_card_field} with input as with_card(invisible)
	fields == {"limitations", "owners", "license"}
	count(model_card.deny_card_field) == 0 with input as with_card(object.union(card, {"limitations": "\u200bnone known"}))
}

test_list_of_blank_strings_denied if {
	blank := object.union(card, {"owners": ["", " "]})
	fields := {r.field | some r in model_card.deny_card_field} with input as with_card(blank)
	fields == {"owners"}
}

test_numbers_booleans_and_nested_collections_count_as_filled if {
	odd := object.union(card, {"owners": [["a"]], "limitations": {"known": true}, "license": 0})
	count(model_card.deny_card_field) == 0 with input as with_card(odd)
	count(model_card.deny_card_field) == 0 with input as with_card(object.union(card, {"owners": {"team": {"x": 1}}}))
	count(model_card.deny_card_field) == 0 with input as with_card(object.union(card, {"owners": [false]}))
}

test_dotted_field_reaches_nested_mapping if {
	nested := object.union(card, {"model_details": {"owners": ["a@example.com"]}})
	count(model_card.deny_card_field) == 0 with input as with_card(nested)
		with data.gate.model_card.required_fields as ["model_details.owners"]
	some result in model_card.deny_card_field with input as with_card(card)
		with data.gate.model_card.required_fields as ["model_details.owners"]
	result.field == "model_details.owners"
}

test_no_card_is_one_finding if {
	results := model_card.deny_card_field with input as with_card({})
	count(results) == 1
	some result in results
	result.field == null
	contains(result.msg, "there is no model card")
}

test_no_required_fields_nothing_to_check if {
	count(model_card.deny_card_field) == 0 with input as with_card({})
		with data.gate.model_card.required_fields as []
}

test_license_allow_list if {
	allowed := ["mit", "apache-2.0"]
	count(model_card.deny_license) == 0 with input as with_card(card)
		with data.gate.model_card.allowed_licenses as allowed
	some result in model_card.deny_license with input as with_card(object.union(card, {"license": "gpl-3.0"}))
		with data.gate.model_card.allowed_licenses as allowed
	result.license == "gpl-3.0"
	contains(result.msg, "'gpl-3.0' is not one of the allowed licences: mit, apache-2.0")
}

test_license_list_checked_item_by_item if {
	results := model_card.deny_license with input as with_card(object.union(card, {"license": ["mit", "cc-by-nc-4.0"]}))
		with data.gate.model_card.allowed_licenses as ["mit"]
	{r.license | some r in results} == {"cc-by-nc-4.0"}
}

test_empty_allow_list_allows_any_license if {
	count(model_card.deny_license) == 0 with input as with_card(object.union(card, {"license": "anything"}))
}
