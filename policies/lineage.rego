# METADATA
# title: Lineage
# description: The model can be traced to the code and the data that trained it, and was not evaluated on its own training data.
package gate.lineage

import rego.v1

# METADATA
# title: Code commit missing
# description: >-
#   The lineage must record the commit of the code that trained the model
#   (lineage code.commit; an OpenLineage sourceCodeLocation facet's version),
#   matching data.gate.lineage.commit_pattern.
# custom:
#   id: GATE-LIN-001
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Record the training code's commit in the lineage (for OpenLineage, the
#     job's sourceCodeLocation facet), and train from a committed tree.
deny_commit contains result if {
	not nonblank(object.get(input.lineage, ["code", "commit"], null))
	result := {
		"_loc": source("lineage"),
		"msg": "the lineage records no code commit (code.commit): nothing ties the model to the code that trained it",
		"commit": null,
	}
}

deny_commit contains result if {
	commit := input.lineage.code.commit
	nonblank(commit)
	not regex.match(data.gate.lineage.commit_pattern, commit)
	result := {
		"_loc": source("lineage"),
		"msg": sprintf("the lineage's code commit '%s' is not a commit id (it must match %s)", [
			commit,
			data.gate.lineage.commit_pattern,
		]),
		"commit": commit,
	}
}

# METADATA
# title: Training dataset without URI or digest
# description: >-
#   Every dataset with the role `train` must have a URI (where it is) and a
#   sha256 (which version of it), so the training data can be found and
#   proven unchanged.
# custom:
#   id: GATE-LIN-002
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Have the training pipeline record each training dataset's URI and
#     sha256 in the lineage (for OpenLineage, a gate_digest facet on the input).
deny_train_dataset contains result if {
	some dataset in input.lineage.datasets
	dataset.role == "train"
	some key in ["uri", "sha256"]
	not nonblank(object.get(dataset, key, null))
	result := {
		"_loc": source("lineage"),
		"msg": sprintf("training dataset '%s' has no %s in the lineage", [dataset.name, key_name[key]]),
		"dataset": dataset.name,
		"missing": key,
	}
}

# METADATA
# title: No training dataset recorded
# description: >-
#   The lineage must name at least one dataset with the role `train`; without
#   one, neither provenance nor leakage can be checked. Controlled by
#   data.gate.lineage.require_train_dataset.
# custom:
#   id: GATE-LIN-003
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Record the training data as lineage datasets with role train (for
#     OpenLineage, a gate_role facet {role: train} on the input).
deny_no_train_dataset contains result if {
	data.gate.lineage.require_train_dataset == true
	count([d | some d in input.lineage.datasets; d.role == "train"]) == 0
	result := {
		"_loc": source("lineage"),
		"msg": sprintf("the lineage names no training dataset (role train) among its %v datasets", [count(input.lineage.datasets)]),
		"datasets": [d.name | some d in input.lineage.datasets],
	}
}

# METADATA
# title: Train/test leakage
# description: >-
#   No evaluation, test or validation dataset (data.gate.lineage.held_out_roles)
#   may also be a training dataset: the same URI, a URI inside a training
#   folder (or the reverse), or the same sha256. A model scored on its own
#   training data looks better than it is.
# custom:
#   id: GATE-LIN-004
#   severity: critical
#   enforcement: hard-mandatory
#   remediation: >-
#     Re-split the data so no held-out row is trained on, retrain, and
#     re-evaluate. This rule cannot be waived.
deny_leakage contains result if {
	some held_out in input.lineage.datasets
	held_out.role in data.gate.lineage.held_out_roles
	some train in input.lineage.datasets
	train.role == "train"
	shared := [how | some how in ["uri", "uri_prefix", "sha256"]; same_data(held_out, train, how)]
	count(shared) > 0
	result := {
		"_loc": source("lineage"),
		"msg": sprintf("%s dataset '%s' is also training dataset '%s' (%s): evaluating on training data overstates quality", [
			held_out.role,
			held_out.name,
			train.name,
			concat(", ", [shared_text[how] | some how in shared]),
		]),
		"dataset": held_out.name,
		"role": held_out.role,
		"train_dataset": train.name,
		"shared": shared,
	}
}

key_name := {"uri": "URI", "sha256": "sha256 digest"}

shared_text := {"uri": "same URI", "uri_prefix": "one URI lies inside the other", "sha256": "same sha256"}

same_data(a, b, "uri") if {
	nonblank(a.uri)
	nonblank(b.uri)
	trim_right(a.uri, "/") == trim_right(b.uri, "/")
}

same_data(a, b, "uri_prefix") if {
	nonblank(a.uri)
	nonblank(b.uri)
	trim_right(a.uri, "/") != trim_right(b.uri, "/")
	some pair in [[a.uri, b.uri], [b.uri, a.uri]]
	startswith(pair[0], concat("", [trim_right(pair[1], "/"), "/"]))
}

same_data(a, b, "sha256") if {
	nonblank(a.sha256)
	a.sha256 == b.sha256
}

nonblank(value) if visible_text(value)

# A string is filled when it shows a letter or digit: blank, zero-width and
# format characters, combining marks alone and the blank "letters" (Hangul
# fillers) look empty, so they count as empty.
visible_text(value) if {
	is_string(value)
	regex.match(`[\p{L}\p{N}]`, regex.replace(value, `[\x{115F}\x{1160}\x{3164}\x{FFA0}]`, ""))
}

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
