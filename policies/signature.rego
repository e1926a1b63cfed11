# METADATA
# title: Model signatures
# description: >-
#   The artifacts carry an OpenSSF model signature (model-signing) that
#   verifies, comes from a trusted signer and covers every artifact. gate
#   verifies the signature with the model-signing library and gives the
#   result as input.model.signature.
package gate.signature

import rego.v1

# METADATA
# title: Model not signed
# description: >-
#   The bundle names no model signature (gate.yaml model.signature), so
#   nothing shows who produced the artifacts. Advisory by default; raise it
#   with gate.yaml `enforcement:` (GATE-MSIG-001 soft-mandatory) to require
#   signed models.
# custom:
#   id: GATE-MSIG-001
#   severity: medium
#   enforcement: advisory
#   remediation: >-
#     Sign the model where it is built (`model_signing sign key --private_key
#     KEY MODEL_DIR`, or with a certificate) and name the signature and the
#     public key under model.signature in gate.yaml.
deny_unsigned contains result if {
	not signature.present
	count(object.get(input.model, "artifacts", [])) > 0
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("%s %s is not signed: none of its %d artifact(s) carries a model signature", [
			input.model.name,
			input.model.version,
			count(input.model.artifacts),
		]),
	}
}

# METADATA
# title: Model signature does not verify
# description: >-
#   The signature was checked with the model-signing library and failed (a
#   file changed or is missing since signing, another key or certificate
#   signed it, or the signature is damaged), or it verified but its signer
#   is not in data.gate.signature.trusted_signers (when that list is not
#   empty). Cannot be waived.
# custom:
#   id: GATE-MSIG-002
#   severity: critical
#   enforcement: hard-mandatory
#   remediation: >-
#     Do not ship these files: find out what changed since the model was
#     signed. Re-sign only after checking that the artifacts are the ones the
#     build produced, with a key or certificate the policy trusts.
deny_bad_signature contains result if {
	signature.present
	not signature.verified
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("the model signature %s does not verify: %s", [signature.file, object.get(signature, "error", "no reason given")]),
		"signature": signature.file,
		"error": object.get(signature, "error", null),
	}
}

deny_bad_signature contains result if {
	signature.verified
	count(trusted) > 0
	not signature.signer in trusted
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("the model signature %s verifies, but its signer '%s' is not one of data.gate.signature.trusted_signers", [signature.file, signature.signer]),
		"signature": signature.file,
		"signer": signature.signer,
	}
}

# METADATA
# title: Model signature does not cover every artifact
# description: >-
#   The signature verifies, but an artifact the bundle ships is not among
#   the files it signs (a file added after signing, or outside the signed
#   folder), or is listed there with another digest.
# custom:
#   id: GATE-MSIG-003
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Sign the folder that holds every artifact (model.signature.root), after
#     the last file is written; or remove the files that are not part of the
#     model from model.artifacts.
deny_uncovered_artifact contains result if {
	signature.verified
	some path in signature.uncovered
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("%s is not covered by the model signature %s: nothing shows the signer produced it", [path, signature.file]),
		"artifact": path,
		"signature": signature.file,
	}
}

signature := object.get(input.model, "signature", {"present": false, "verified": false})

trusted := {s | some s in data.gate.signature.trusted_signers}

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
