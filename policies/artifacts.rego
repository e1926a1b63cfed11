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
	some output in input.lineage.outputs
	is_string(output.sha256)
	some artifact in input.model.artifacts
	produced_as(output, artifact)
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
	some artifact in input.model.artifacts
	not recorded(artifact)
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

# An output names an artifact by a path suffix; failing that, by a file name
# no other artifact shares (an absolute URI rarely ends with the bundle path).
produced_as(output, artifact) if names_by_path(output, artifact)

produced_as(output, artifact) if {
	not names_any_by_path(output)
	some ref in output_refs(output)
	basename(ref) == basename(artifact.path)
	count([a | some a in input.model.artifacts; basename(a.path) == basename(artifact.path)]) == 1
}

names_by_path(output, artifact) if {
	some ref in output_refs(output)
	path_suffix(ref, artifact.path)
}

names_any_by_path(output) if {
	some artifact in input.model.artifacts
	names_by_path(output, artifact)
}

output_refs(output) := [ref |
	some key in ["name", "uri"]
	ref := object.get(output, key, null)
	is_string(ref)
	ref != ""
]

path_suffix(a, b) if a == b

path_suffix(a, b) if endswith(a, concat("", ["/", b]))

path_suffix(a, b) if endswith(b, concat("", ["/", a]))

basename(path) := parts[count(parts) - 1] if parts := split(trim_right(path, "/"), "/")

recorded(artifact) if {
	some output in input.lineage.outputs
	is_string(output.sha256)
	produced_as(output, artifact)
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
