package gate.artifacts_test

import rego.v1

import data.gate.artifacts

digest_a := "ed56807bcb42965f9ef5b09ba3145fab4cfb4cd7edde557144d41eec8baf079c"

digest_b := "f639ccb3fa7149239714e9d07932c12e3e9952fae602b6a892a2af36d1a6514d"

model := {"path": "artifacts/model.safetensors", "sha256": digest_a, "size_bytes": 348, "format": "safetensors"}

bundle(arts, outputs) := {"model": {"artifacts": arts}, "lineage": {"outputs": outputs}}

test_matching_digest_passes if {
	b := bundle([model], [{"name": "artifacts/model.safetensors", "uri": null, "sha256": digest_a}])
	count(artifacts.deny_digest_mismatch) == 0 with input as b
	count(artifacts.warn_unrecorded_artifact) == 0 with input as b
	count(artifacts.deny_unsafe_format) == 0 with input as b
	count(artifacts.deny_size) == 0 with input as b
	count(artifacts.deny_no_artifacts) == 0 with input as b
}

test_mismatch_by_name_suffix_denied if {
	b := bundle([model], [{"name": "run-42/artifacts/model.safetensors", "sha256": digest_b}])
	some result in artifacts.deny_digest_mismatch with input as b
	result.artifact == "artifacts/model.safetensors"
	result.expected_sha256 == digest_b
	startswith(result.msg, "artifacts/model.safetensors has sha256 ed56807bcb42..., but the training run recorded f639ccb3fa71...")
}

test_mismatch_when_artifact_path_is_longer if {
	b := bundle([model], [{"name": "model.safetensors", "sha256": digest_b}])
	count(artifacts.deny_digest_mismatch) == 1 with input as b
}

test_mismatch_by_uri_suffix_denied if {
	b := bundle([model], [{"name": "model", "uri": "file/artifacts/model.safetensors", "sha256": digest_b}])
	count(artifacts.deny_digest_mismatch) == 1 with input as b
}

test_uri_file_name_matches_a_unique_artifact if {
	b := bundle([model], [{"name": "model", "uri": "s3://models/fraud/2.5.0/model.safetensors", "sha256": digest_b}])
	count(artifacts.deny_digest_mismatch) == 1 with input as b
	ok := bundle([model], [{"name": "model", "uri": "s3://models/fraud/2.5.0/model.safetensors", "sha256": digest_a}])
	count(artifacts.warn_unrecorded_artifact) == 0 with input as ok
}

test_file_name_shared_by_two_artifacts_is_ambiguous if {
	other := object.union(model, {"path": "artifacts/int8/model.safetensors", "sha256": digest_b})
	b := bundle([model, other], [{"name": "model", "uri": "s3://models/model.safetensors", "sha256": digest_b}])
	count(artifacts.deny_digest_mismatch) == 0 with input as b
	count(artifacts.warn_unrecorded_artifact) == 2 with input as b
}

test_path_match_wins_over_file_name if {
	other := object.union(model, {"path": "extra/model.safetensors", "sha256": digest_b})
	b := bundle([model, other], [{"name": "artifacts/model.safetensors", "sha256": digest_a}])
	count(artifacts.deny_digest_mismatch) == 0 with input as b
}

test_output_without_digest_is_not_compared if {
	b := bundle([model], [{"name": "artifacts/model.safetensors", "uri": null, "sha256": null}])
	count(artifacts.deny_digest_mismatch) == 0 with input as b
	some result in artifacts.warn_unrecorded_artifact with input as b
	result.artifact == "artifacts/model.safetensors"
}

test_unrelated_output_is_ignored if {
	b := bundle([model], [{"name": "reports/metrics.json", "sha256": digest_b}])
	count(artifacts.deny_digest_mismatch) == 0 with input as b
	count(artifacts.warn_unrecorded_artifact) == 1 with input as b
}

test_pickle_joblib_and_pytorch_denied if {
	arts := [
		object.union(model, {"path": "m.pkl", "format": "pickle"}),
		object.union(model, {"path": "m.joblib", "format": "joblib"}),
		object.union(model, {"path": "m.pt", "format": "pytorch"}),
		object.union(model, {"path": "m.onnx", "format": "onnx"}),
	]
	results := artifacts.deny_unsafe_format with input as bundle(arts, [])
	{r.artifact | some r in results} == {"m.pkl", "m.joblib", "m.pt"}
	some r in results
	r.artifact == "m.pkl"
	startswith(r.msg, "m.pkl is a pickle file: loading it can run arbitrary code")
}

test_denied_formats_are_configurable if {
	pkl := object.union(model, {"path": "m.pkl", "format": "pickle"})
	count(artifacts.deny_unsafe_format) == 0 with input as bundle([pkl], [])
		with data.gate.artifacts.denied_formats as []
}

test_artifact_over_size_ceiling_denied if {
	big := object.union(model, {"size_bytes": 12884901888})
	some result in artifacts.deny_size with input as bundle([big], [])
	result.artifact == "artifacts/model.safetensors"
	result.msg == "artifacts/model.safetensors is 12 GiB (12884901888 bytes); the ceiling per artifact is 10 GiB (10737418240 bytes)"
}

test_sizes_print_in_gib_mib_and_bytes if {
	some r in artifacts.deny_size with input as bundle([object.union(model, {"size_bytes": 11811160064})], [])
	startswith(r.msg, "artifacts/model.safetensors is 11 GiB")
	some s in artifacts.deny_size with input as bundle([object.union(model, {"size_bytes": 11811160065 + 107374182})], [])
	startswith(s.msg, "artifacts/model.safetensors is 11.1 GiB")
}

test_small_ceilings_print_in_mib_and_bytes if {
	some result in artifacts.deny_size with input as bundle([object.union(model, {"size_bytes": 3145728})], [])
		with data.gate.artifacts.max_size_bytes as 1000
	result.msg == "artifacts/model.safetensors is 3 MiB (3145728 bytes); the ceiling per artifact is 1000 bytes (1000 bytes)"
}

test_total_size_ceiling_denied if {
	arts := [model, object.union(model, {"path": "artifacts/tokenizer.json"})]
	results := artifacts.deny_size with input as bundle(arts, [])
		with data.gate.artifacts.max_total_size_bytes as 500
	count(results) == 1
	some result in results
	result.artifact == null
	result.size_bytes == 696
	startswith(result.msg, "the 2 artifacts total 696 bytes")
}

test_no_artifacts_denied_unless_allowed if {
	count(artifacts.deny_no_artifacts) == 1 with input as bundle([], [])
	count(artifacts.deny_no_artifacts) == 0 with input as bundle([], [])
		with data.gate.artifacts.require_artifacts as false
}
