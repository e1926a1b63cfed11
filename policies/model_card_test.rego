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

# A Hugging Face card: licence in the front matter, the rest in Markdown sections.
hf_sections := {
	"intended uses & limitations": "Scoring card-not-present transactions; not for credit decisions.",
	"training data": "card transactions 2025, 4.1M rows",
	"model card contact": "risk-ml@example.com",
}

with_sections(c, sections) := {"model": {"card": c, "card_sections": sections}}

test_markdown_sections_give_required_fields if {
	count(model_card.deny_card_field) == 0 with input as with_sections({"license": "mit"}, hf_sections)
}

test_placeholder_sections_do_not_count if {
	# card_sections holds a section's text without comments and placeholders: the
	# stock template's "[More Information Needed]" leaves it empty.
	unfilled := object.union(hf_sections, {"training data": "", "model card contact": "  "})
	results := model_card.deny_card_field with input as with_sections({"license": "mit"}, unfilled)
	{r.field | some r in results} == {"training_data", "owners"}
	some r in results
	r.field == "training_data"
	contains(r.msg, "nor a filled section '## Training Data' or '## Training and evaluation data'")
}

test_sections_alone_are_a_card if {
	# Markdown without front matter: the sections are read, the licence is missing.
	results := model_card.deny_card_field with input as with_sections({}, hf_sections)
	{r.field | some r in results} == {"license"}
	some r in results
	endswith(r.msg, "the required fields are: intended_use, limitations, owners, license, training_data")
}

test_section_headings_are_configurable if {
	sections := {"what it is for": "fraud scoring"}
	count(model_card.deny_card_field) == 0 with input as with_sections({}, sections)
		with data.gate.model_card.required_fields as ["intended_use"]
		with data.gate.model_card.sections as {"intended_use": ["What it is for", 7]}
	some r in model_card.deny_card_field with input as with_sections({}, sections)
		with data.gate.model_card.required_fields as ["intended_use"]
		with data.gate.model_card.sections as {}
	r.msg == "the model card has no 'intended_use' (or it is empty); the required fields are: intended_use"
}

test_malformed_section_settings_fall_back_to_front_matter if {
	sections := {"what it is for": "fraud scoring"}
	some r in model_card.deny_card_field with input as with_sections({}, sections)
		with data.gate.model_card.required_fields as ["intended_use"]
		with data.gate.model_card.sections as ["What it is for"]
	r.field == "intended_use"
	some q in model_card.deny_card_field with input as with_sections({}, sections)
		with data.gate.model_card.required_fields as ["intended_use"]
		with data.gate.model_card.sections as {"intended_use": "What it is for"}
	q.field == "intended_use"
}
