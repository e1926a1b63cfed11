package gate.signature_test

import rego.v1

import data.gate.signature

digest := "ed56807bcb42965f9ef5b09ba3145fab4cfb4cd7edde557144d41eec8baf079c"

artifact := {"path": "artifacts/model.safetensors", "sha256": digest, "size_bytes": 348, "format": "safetensors"}

extra := {"path": "artifacts/extra.bin", "sha256": digest, "size_bytes": 348, "format": "unknown"}

signed := {
	"present": true, "verified": true, "method": "key", "signer": "key sha256:abc",
	"file": "model.sig", "root": "artifacts", "covered": ["artifacts/model.safetensors"],
	"uncovered": [], "error": null,
}

bundle(sig) := {
	"model": {"name": "m", "version": "1.0", "artifacts": [artifact], "signature": sig},
	"sources": {"manifest": "gate.yaml"},
}

unsigned_bundle := {"model": {"name": "m", "version": "1.0", "artifacts": [artifact]}, "sources": {"manifest": "gate.yaml"}}

test_a_verified_signature_over_every_artifact_passes if {
	b := bundle(signed)
	count(signature.deny_unsigned) == 0 with input as b
	count(signature.deny_bad_signature) == 0 with input as b
	count(signature.deny_uncovered_artifact) == 0 with input as b
}

test_no_signature_is_reported if {
	some result in signature.deny_unsigned with input as unsigned_bundle
	result.msg == "m 1.0 is not signed: none of its 1 artifact(s) carries a model signature"
	result._loc == "gate.yaml"
}

test_an_unsigned_result_from_gate_is_reported if {
	b := bundle({"present": false, "verified": false, "uncovered": ["artifacts/model.safetensors"]})
	count(signature.deny_unsigned) == 1 with input as b
	count(signature.deny_bad_signature) == 0 with input as b
}

test_no_artifacts_no_unsigned_finding if {
	b := {"model": {"name": "m", "version": "1.0", "artifacts": []}}
	count(signature.deny_unsigned) == 0 with input as b
}

test_a_signature_that_does_not_verify_is_denied if {
	b := bundle(object.union(signed, {"verified": false, "signer": null, "error": "ValueError: Signature mismatch"}))
	some result in signature.deny_bad_signature with input as b
	result.msg == "the model signature model.sig does not verify: ValueError: Signature mismatch"
	count(signature.deny_uncovered_artifact) == 0 with input as b
	count(signature.deny_unsigned) == 0 with input as b
}

test_an_untrusted_signer_is_denied if {
	some result in signature.deny_bad_signature with input as bundle(signed)
		with data.gate.signature.trusted_signers as ["CN=release,O=Example"]
	result.signer == "key sha256:abc"
}

test_a_trusted_signer_passes if {
	count(signature.deny_bad_signature) == 0 with input as bundle(signed)
		with data.gate.signature.trusted_signers as ["key sha256:abc"]
}

test_an_uncovered_artifact_is_denied if {
	b := bundle(object.union(signed, {"uncovered": ["artifacts/extra.bin"]}))
	some result in signature.deny_uncovered_artifact with input as b
	result.artifact == "artifacts/extra.bin"
	result.msg == "artifacts/extra.bin is not covered by the model signature model.sig: nothing shows the signer produced it"
}

test_uncovered_is_not_judged_when_the_signature_fails if {
	b := bundle(object.union(signed, {"verified": false, "uncovered": ["artifacts/model.safetensors"]}))
	count(signature.deny_uncovered_artifact) == 0 with input as b
}
