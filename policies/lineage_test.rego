package gate.lineage_test

import rego.v1

import data.gate.lineage

train := {"name": "tx-train", "role": "train", "uri": "s3://risk/tx/train.parquet", "sha256": "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"}

held_out := {"name": "tx-test", "role": "test", "uri": "s3://risk/tx/test.parquet", "sha256": "7c211433f02071597741e6ff5a8ea34789abbf4378a3c0ae0fc3b1f4c9d6e2a1"}

run(datasets) := {"lineage": {
	"code": {"repository": "https://git.example.com/risk/fraud.git", "commit": "8f3c2a1d9e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a"},
	"datasets": datasets,
	"outputs": [],
}}

test_clean_lineage_passes if {
	good := run([train, held_out])
	count(lineage.deny_commit) == 0 with input as good
	count(lineage.deny_train_dataset) == 0 with input as good
	count(lineage.deny_no_train_dataset) == 0 with input as good
	count(lineage.deny_leakage) == 0 with input as good
}

test_missing_commit_denied if {
	some result in lineage.deny_commit with input as json.patch(run([train]), [{"op": "replace", "path": "/lineage/code/commit", "value": null}])
	result.commit == null
	contains(result.msg, "no code commit")
	count(lineage.deny_commit) == 1 with input as {"lineage": {"code": {}, "datasets": [], "outputs": []}}
	count(lineage.deny_commit) == 1 with input as json.patch(run([train]), [{"op": "replace", "path": "/lineage/code/commit", "value": "  "}])
}

test_commit_that_is_not_an_id_denied if {
	some result in lineage.deny_commit with input as json.patch(run([train]), [{"op": "replace", "path": "/lineage/code/commit", "value": "main"}])
	result.commit == "main"
	result.msg == "the lineage's code commit 'main' is not a commit id (it must match ^[0-9a-fA-F]{7,64}$)"
}

test_commit_pattern_is_configurable if {
	count(lineage.deny_commit) == 0 with input as json.patch(run([train]), [{"op": "replace", "path": "/lineage/code/commit", "value": "r1234"}])
		with data.gate.lineage.commit_pattern as "^r[0-9]+$"
}

test_training_dataset_without_uri_or_digest_denied if {
	bare := {"name": "tx-train", "role": "train", "uri": null}
	results := lineage.deny_train_dataset with input as run([bare, held_out])
	{r.missing | some r in results} == {"uri", "sha256"}
	some r in results
	r.missing == "sha256"
	r.msg == "training dataset 'tx-train' has no sha256 digest in the lineage"
}

test_training_dataset_with_invisible_uri_or_digest_denied if {
	invisible := object.union(train, {"uri": "\u200b", "sha256": "\u3164\u2060"})
	results := lineage.deny_train_dataset with input as run([invisible, held_out])
	{r.missing | some r in results} == {"uri", "sha256"}
}

test_held_out_dataset_without_digest_is_not_required if {
	count(lineage.deny_train_dataset) == 0 with input as run([train, {"name": "t", "role": "test"}])
}

test_no_training_dataset_denied if {
	some result in lineage.deny_no_train_dataset with input as run([held_out])
	result.datasets == ["tx-test"]
	result.msg == "the lineage names no training dataset (role train) among its 1 datasets"
	count(lineage.deny_no_train_dataset) == 0 with input as run([held_out])
		with data.gate.lineage.require_train_dataset as false
}

test_leakage_by_uri_denied if {
	leaked := object.union(held_out, {"uri": "s3://risk/tx/train.parquet/"})
	some result in lineage.deny_leakage with input as run([train, leaked])
	result.shared == ["uri"]
	result.train_dataset == "tx-train"
	result.msg == "test dataset 'tx-test' is also training dataset 'tx-train' (same URI): evaluating on training data overstates quality"
}

test_leakage_by_digest_denied if {
	leaked := object.union(held_out, {"sha256": train.sha256})
	some result in lineage.deny_leakage with input as run([train, leaked])
	result.shared == ["sha256"]
}

test_leakage_by_uri_and_digest_is_one_finding if {
	leaked := object.union(train, {"name": "tx-eval", "role": "eval"})
	results := lineage.deny_leakage with input as run([train, leaked])
	count(results) == 1
	some result in results
	result.shared == ["uri", "sha256"]
	contains(result.msg, "(same URI, same sha256)")
}

test_leakage_by_folder_denied if {
	folder := object.union(train, {"uri": "s3://risk/tx/", "sha256": null})
	inside := object.union(held_out, {"role": "validation", "uri": "s3://risk/tx/validation.parquet"})
	some result in lineage.deny_leakage with input as run([folder, inside])
	result.shared == ["uri_prefix"]
	result.role == "validation"
	count(lineage.deny_leakage) == 1 with input as run([object.union(train, {"uri": "s3://risk/tx/train/part-0.parquet"}), object.union(held_out, {"uri": "s3://risk/tx/train"})])
}

test_similar_names_are_not_leakage if {
	other := object.union(held_out, {"uri": "s3://risk/tx/train.parquet.bak"})
	count(lineage.deny_leakage) == 0 with input as run([train, other])
}

test_other_roles_are_not_held_out if {
	copy := object.union(train, {"name": "tx-copy", "role": "other"})
	count(lineage.deny_leakage) == 0 with input as run([train, copy])
}
