# METADATA
# title: Model card
# description: The model card says what the model is for, where it fails, who owns it and under which licence.
package gate.model_card

import rego.v1

# METADATA
# title: Model card field missing or empty
# description: >-
#   Every field in data.gate.model_card.required_fields must be given by the
#   model card: as a front-matter key that holds something (a non-blank
#   string, a non-empty list or mapping, a number or a boolean; a dotted name
#   reaches into nested mappings), or, in a Markdown card, as a section whose
#   heading data.gate.model_card.sections lists for the field and whose own
#   text says something beyond comments and "[More Information Needed]"
#   (Hugging Face cards keep intended uses, limitations and training data in
#   sections).
# custom:
#   id: GATE-CARD-001
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Fill in the named field in the model card (the YAML front matter of a
#     Markdown card, or one of the Markdown sections named), or change
#     data.gate.model_card.required_fields if your organisation does not need it.
deny_card_field contains result if {
	card_given
	some field in data.gate.model_card.required_fields
	not field_given(field)
	result := {
		"_loc": source("card"),
		"msg": sprintf("the model card has no '%s' (or it is empty)%s; the required fields are: %s", [
			field,
			section_hint(field),
			concat(", ", data.gate.model_card.required_fields),
		]),
		"field": field,
	}
}

deny_card_field contains result if {
	not card_given
	count(data.gate.model_card.required_fields) > 0
	result := {
		"_loc": source("card"),
		"msg": sprintf("there is no model card (or it has no YAML front matter); it must give: %s", [
			concat(", ", data.gate.model_card.required_fields),
		]),
		"field": null,
	}
}

# METADATA
# title: Model licence not allowed
# description: >-
#   When data.gate.model_card.allowed_licenses is not empty, the card's
#   `license` (a string or a list of them) must name only licences in it.
# custom:
#   id: GATE-CARD-002
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Release the model under an approved licence, or have legal approve this
#     one and add it to data.gate.model_card.allowed_licenses.
deny_license contains result if {
	count(data.gate.model_card.allowed_licenses) > 0
	some license in card_licenses
	not license in data.gate.model_card.allowed_licenses
	result := {
		"_loc": source("card"),
		"msg": sprintf("the model card's license '%s' is not one of the allowed licences: %s", [
			license,
			concat(", ", data.gate.model_card.allowed_licenses),
		]),
		"license": license,
	}
}

card_value(field) := object.get(input.model.card, split(field, "."), null)

# A card was read: front matter, or the sections of a Markdown card without it.
card_given if count(input.model.card) > 0

card_given if count(card_sections) > 0

card_sections := object.get(input.model, "card_sections", {})

field_given(field) if filled(card_value(field))

field_given(field) if {
	some heading in section_headings(field)
	filled(object.get(card_sections, lower(trim_space(heading)), null))
}

# The headings that may hold a field, as data.gate.model_card.sections lists them
# (a default, not `not is_object(...)`: OPA and regorus read `not` over an undefined
# argument differently).
default configured_sections := {}

configured_sections := sections if {
	sections := data.gate.model_card.sections
	is_object(sections)
}

section_headings(field) := [h |
	headings := object.get(configured_sections, field, [])
	is_array(headings)
	some h in headings
	is_string(h)
]

section_hint(field) := hint if {
	headings := section_headings(field)
	count(headings) > 0
	hint := sprintf(", nor a filled section %s", [concat(" or ", [sprintf("'## %s'", [h]) | some h in headings])])
}

section_hint(field) := "" if count(section_headings(field)) == 0

card_licenses contains input.model.card.license if is_string(input.model.card.license)

card_licenses contains license if {
	is_array(input.model.card.license)
	some license in input.model.card.license
	is_string(license)
}

# Not recursive (Rego forbids it): a collection is filled when one of its
# items is a filled scalar or a non-empty collection.
filled(value) if scalar_filled(value)

filled(value) if {
	is_collection(value)
	some item in value
	item_filled(item)
}

item_filled(item) if scalar_filled(item)

item_filled(item) if {
	is_collection(item)
	count(item) > 0
}

scalar_filled(value) if visible_text(value)

# A string is filled when it shows a letter or digit: blank, zero-width and
# format characters, combining marks alone and the blank "letters" (Hangul
# fillers) look empty, so they count as empty.
visible_text(value) if {
	is_string(value)
	regex.match(`[\p{L}\p{N}]`, regex.replace(value, `[\x{115F}\x{1160}\x{3164}\x{FFA0}]`, ""))
}

scalar_filled(value) if is_number(value)

scalar_filled(value) if is_boolean(value)

is_collection(value) if is_array(value)

is_collection(value) if is_object(value)

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
