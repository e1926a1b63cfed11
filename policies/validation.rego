# METADATA
# title: Data validation
# description: Every Great Expectations suite named in gate.yaml ran and passed.
package gate.validation

import rego.v1

# METADATA
# title: Validation suite failed
# description: >-
#   Every Great Expectations suite in input.validations (gate.yaml
#   `validations:`) must have succeeded. The finding names the suite, the
#   data it ran on, and its failed expectations.
# custom:
#   id: GATE-VAL-001
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Open the suite's results in the report: fix the data (or the pipeline
#     that produced it), or correct an expectation that no longer holds, and
#     run the gate again.
deny_suite_failed contains result if {
	some validation in input.validations
	validation.success != true
	# Only critical expectations fail a suite here: a failed `warning` or `info`
	# expectation already warns through its own finding, as its author chose.
	failed := [expectation_text(r) | some r in validation.results; r.success != true; critical(r)]
	blocking(validation, failed)
	result := {
		"_loc": validation.suite,
		"msg": sprintf("validation '%s' (suite %s on %s) failed %v of %v expectations%s", [
			validation.name,
			validation.suite,
			data_source(validation),
			failed_count(validation, failed),
			validation.statistics.evaluated,
			failed_listing(failed),
		]),
		"validation": validation.name,
		"suite": validation.suite,
		"unsuccessful": validation.statistics.unsuccessful,
		"evaluated": validation.statistics.evaluated,
		"failed_expectations": failed,
	}
}

# METADATA
# title: Required validation suite missing
# description: >-
#   Every validation named in data.gate.validation.required_suites must be in
#   gate.yaml's `validations:` and have run.
# custom:
#   id: GATE-VAL-002
#   severity: high
#   enforcement: soft-mandatory
#   remediation: >-
#     Add the named suite under `validations:` in gate.yaml (with its suite
#     file and data), or remove it from data.gate.validation.required_suites.
deny_suite_missing contains result if {
	some name in data.gate.validation.required_suites
	not name in {v.name | some v in input.validations}
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("the required validation '%s' did not run; the validations that ran: %s", [
			name,
			listing([v.name | some v in input.validations]),
		]),
		"validation": name,
	}
}

# How many failed expectations a message lists; the details carry all of them.
shown := 5

expectation_text(r) := sprintf("%s(%s)", [r.expectation, r.column]) if {
	is_string(r.column)
} else := r.expectation

data_source(validation) := validation.data if {
	is_string(validation.data)
} else := "its data"

failed_listing(failed) := "" if {
	count(failed) == 0
} else := sprintf(": %s", [concat(", ", failed)]) if {
	count(failed) <= shown
} else := sprintf(": %s and %v more", [concat(", ", array.slice(failed, 0, shown)), count(failed) - shown])

listing(names) := concat(", ", sort(names)) if {
	count(names) > 0
} else := "(none)"

# An expectation without a severity is critical, as in Great Expectations 1.x.
critical(r) if not r.severity

critical(r) if r.severity == "critical"

blocking(_, failed) if count(failed) > 0

# A failed suite in which no single expectation failed (no per-expectation
# results, or results that contradict the suite) cannot be told apart by
# severity: fail closed.
blocking(validation, _) if not any_failed(validation)

any_failed(validation) if {
	some r in validation.results
	r.success != true
}

failed_count(validation, failed) := count(failed) if any_failed(validation)

failed_count(validation, _) := validation.statistics.unsuccessful if not any_failed(validation)

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
