# METADATA
# title: Model artifacts
# description: The files shipped are the files the training run produced, are safe to load, and fit the serving platform.
package gate.artifacts

import rego.v1

# METADATA
# title: Artifact digest differs from lineage
# description: >-
#   Every artifact that a lineage output with a sha256 names must have exactly
#   that sha256. An output names an artifact when its name or URI ends with
#   the artifact's path (or the reverse) at a '/' boundary; failing that, when
#   the file names agree and no other artifact has that file name.
# custom:
#   id: GATE-ART-001
#   severity: critical
#   enforcement: hard-mandatory
#   remediation: >-
#     Ship exactly the file the training run produced. If the artifact was
#     changed on purpose (re-export, quantisation), record the step that
#     changed it in the lineage so its output digest is the shipped one.
deny_digest_mismatch contains result if {
	some [o, i] in produced
	output := input.lineage.outputs[o]
	is_string(output.sha256)
	artifact := input.model.artifacts[i]
	artifact.sha256 != output.sha256
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("%s has sha256 %s..., but the training run recorded %s... for its output '%s': the file shipped is not the one the run produced", [
			artifact.path,
			substring(artifact.sha256, 0, 12),
			substring(output.sha256, 0, 12),
			output.name,
		]),
		"artifact": artifact.path,
		"output": output.name,
		"sha256": artifact.sha256,
		"expected_sha256": output.sha256,
	}
}

# METADATA
# title: Artifact without a recorded digest
# description: >-
#   An artifact that no lineage output with a sha256 names cannot be traced
#   to a training run. Advisory by default; the manifest's `enforcement:` may
#   raise it.
# custom:
#   id: GATE-ART-002
#   severity: low
#   enforcement: advisory
#   remediation: >-
#     Have the training pipeline record each model file it writes as a lineage
#     output with its sha256 (an OpenLineage output dataset with a gate_digest facet).
warn_unrecorded_artifact contains result if {
	some i in unrecorded
	artifact := input.model.artifacts[i]
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("%s is not a lineage output with a sha256, so nothing shows that the training run produced it", [artifact.path]),
		"artifact": artifact.path,
		"sha256": artifact.sha256,
	}
}

# METADATA
# title: Artifact in a code-executing format
# description: >-
#   Loading a pickle, a joblib file or a pickle-based PyTorch checkpoint runs
#   whatever code the file contains. The format is detected from the content,
#   not the file name; the list is data.gate.artifacts.denied_formats.
# custom:
#   id: GATE-ART-003
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Export the model to a format that holds only data (safetensors, ONNX,
#     GGUF), or waive this rule for this model in exceptions.yaml with a reason
#     and an approver.
deny_unsafe_format contains result if {
	some artifact in input.model.artifacts
	artifact.format in data.gate.artifacts.denied_formats
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("%s is a %s file: loading it can run arbitrary code; export it as safetensors or ONNX, or waive GATE-ART-003 with a reason", [
			artifact.path,
			artifact.format,
		]),
		"artifact": artifact.path,
		"format": artifact.format,
	}
}

# METADATA
# title: Artifact too large
# description: >-
#   No artifact may exceed data.gate.artifacts.max_size_bytes, and all of them
#   together may not exceed data.gate.artifacts.max_total_size_bytes.
# custom:
#   id: GATE-ART-004
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Shrink the model (quantise, prune, drop optimizer state from the
#     checkpoint), or raise the ceiling in your data if the serving platform
#     can take it.
deny_size contains result if {
	some artifact in input.model.artifacts
	artifact.size_bytes > data.gate.artifacts.max_size_bytes
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("%s is %s (%v bytes); the ceiling per artifact is %s (%v bytes)", [
			artifact.path,
			human_bytes(artifact.size_bytes),
			artifact.size_bytes,
			human_bytes(data.gate.artifacts.max_size_bytes),
			data.gate.artifacts.max_size_bytes,
		]),
		"artifact": artifact.path,
		"size_bytes": artifact.size_bytes,
		"max_size_bytes": data.gate.artifacts.max_size_bytes,
	}
}

deny_size contains result if {
	total := sum([a.size_bytes | some a in input.model.artifacts])
	total > data.gate.artifacts.max_total_size_bytes
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("the %v artifacts total %s (%v bytes); the ceiling for all of them is %s (%v bytes)", [
			count(input.model.artifacts),
			human_bytes(total),
			total,
			human_bytes(data.gate.artifacts.max_total_size_bytes),
			data.gate.artifacts.max_total_size_bytes,
		]),
		"artifact": null,
		"size_bytes": total,
		"max_size_bytes": data.gate.artifacts.max_total_size_bytes,
	}
}

# METADATA
# title: No model artifact
# description: >-
#   A release must ship at least one artifact; with none, the integrity rules
#   above have nothing to check. Set data.gate.artifacts.require_artifacts to
#   false for releases that ship no file.
# custom:
#   id: GATE-ART-005
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: List the model files or folders under model.artifacts in gate.yaml.
deny_no_artifacts contains result if {
	data.gate.artifacts.require_artifacts == true
	count(input.model.artifacts) == 0
	result := {
		"_loc": source("manifest"),
		"msg": "the release has no model artifact: list the model files or folders under model.artifacts in gate.yaml",
		"artifact": null,
	}
}

# An output names an artifact by a path suffix (its name or URI ends with the
# artifact's path at a '/' boundary, or the reverse); failing that, by a file
# name no other artifact shares (an absolute URI rarely ends with the bundle
# path). `produced` holds a pair [o, i] for each output o that names artifact i
# (indexes into input.lineage.outputs and input.model.artifacts).
#
# The pairs come from lookups in tables built once per evaluation, never from
# comparing every output with every artifact: a model folder of 100,000 files
# (a sharded checkpoint, a tokenizer tree) recorded output by output costs a
# few lookups per output, not 10^10 comparisons.
produced := by_path | by_name

by_path := {[o, i] |
	some [o, ref] in output_refs
	parts := split(ref, "/")
	some k in numbers.range(0, count(parts) - 1)
	span := path_table.spans[concat("/", array.slice(parts, k, count(parts)))]
	some j in numbers.range(span[0], span[1])
	i := path_table.pairs[j][1]
} | {[o, i] |
	some [o, ref] in output_refs
	span := suffix_table.spans[ref]
	some j in numbers.range(span[0], span[1])
	i := suffix_table.pairs[j][1]
}

by_name := {[o, i] |
	some [o, ref] in output_refs
	not o in named_by_path
	span := name_table.spans[basename(ref)]
	span[0] == span[1] # no other artifact has this file name
	i := name_table.pairs[span[0]][1]
}

named_by_path := {o | some [o, _] in by_path}

# [o, ref] for every non-empty name and URI of every output.
output_refs := {[o, ref] |
	some o, output in input.lineage.outputs
	some key in ["name", "uri"]
	ref := object.get(output, key, null)
	is_string(ref)
	ref != ""
}

# Lookup tables over the artifacts: by path, by the proper '/'-suffixes of the
# path that an output reference could be ("a/b/c" -> "b/c", "c"), by file name.
path_table := table([[artifact.path, i] | some i, artifact in input.model.artifacts])

suffix_table := table([[suffix, i] |
	some i, artifact in input.model.artifacts
	parts := split(artifact.path, "/")
	some depth in ref_depths
	depth < count(parts)
	suffix := concat("/", array.slice(parts, count(parts) - depth, count(parts)))
])

# How many '/'-separated parts the outputs' references have: an artifact path
# can only end with "/" + ref in its last that-many parts, so only those
# suffixes are tabled (none at all when every output names a full bundle path).
ref_depths := {count(split(ref, "/")) | some [_, ref] in output_refs}

name_table := table([[basename(artifact.path), i] | some i, artifact in input.model.artifacts])

# [key, value] pairs -> {"pairs": the pairs sorted, "spans": {key: [first, last]}}:
# a key's values are pairs[first..last][1]. Sorting puts equal keys next to each
# other, so building the table is one sort and one pass, in every engine (a
# multi-value rule `index[key] contains value` is quadratic in OPA, and a set
# per key costs a comprehension per key in regorus).
table(pairs) := {"pairs": sorted, "spans": spans} if {
	sorted := sort(pairs)
	keys := [pair[0] | some pair in sorted]
	previous := array.concat([null], keys)
	starts := [j | some j, key in keys; previous[j] != key]
	ends := array.concat(array.slice(starts, 1, count(starts)), [count(keys)])
	spans := {keys[start]: [start, ends[r] - 1] | some r, start in starts}
}

basename(path) := parts[count(parts) - 1] if parts := split(trim_right(path, "/"), "/")

# The artifacts no output with a sha256 names: one set difference.
unrecorded := {i | some i, _ in input.model.artifacts} - recorded

recorded := {i |
	some [o, i] in produced
	is_string(input.lineage.outputs[o].sha256)
}

# %v of a rounded number prints the same in every engine (%f of an integral
# number does not).
human_bytes(n) := sprintf("%v GiB", [round((n * 10) / 1073741824) / 10]) if n >= 1073741824

human_bytes(n) := sprintf("%v MiB", [round((n * 10) / 1048576) / 10]) if {
	n < 1073741824
	n >= 1048576
}

human_bytes(n) := sprintf("%v bytes", [n]) if n < 1048576

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
