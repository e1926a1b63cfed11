package gate.validation_test

import rego.v1

import data.gate.validation

passed := {
	"name": "eval-slices", "suite": "suites/eval_slices.json", "data": "reports/slices.csv", "success": true,
	"statistics": {"evaluated": 2, "successful": 2, "unsuccessful": 0},
	"results": [
		{"expectation": "expect_column_values_to_not_be_null", "column": "score", "success": true},
		{"expectation": "expect_table_row_count_to_be_between", "column": null, "success": true},
	],
}

failed := json.patch(passed, [
	{"op": "replace", "path": "/success", "value": false},
	{"op": "replace", "path": "/statistics", "value": {"evaluated": 2, "successful": 0, "unsuccessful": 2}},
	{"op": "replace", "path": "/results/0/success", "value": false},
	{"op": "replace", "path": "/results/1/success", "value": false},
])

test_passed_suites_pass if {
	count(validation.deny_suite_failed) == 0 with input as {"validations": [passed]}
	count(validation.deny_suite_failed) == 0 with input as {"validations": []}
}

test_failed_suite_denied if {
	some result in validation.deny_suite_failed with input as {"validations": [passed, failed]}
	result.validation == "eval-slices"
	result.failed_expectations == ["expect_column_values_to_not_be_null(score)", "expect_table_row_count_to_be_between"]
	result.msg == "validation 'eval-slices' (suite suites/eval_slices.json on reports/slices.csv) failed 2 of 2 expectations: expect_column_values_to_not_be_null(score), expect_table_row_count_to_be_between"
}

test_failed_suite_without_results_or_file if {
	bare := object.union(failed, {"data": null, "results": []})
	some result in validation.deny_suite_failed with input as {"validations": [bare]}
	result.msg == "validation 'eval-slices' (suite suites/eval_slices.json on its data) failed 2 of 2 expectations"
}

test_only_critical_failures_fail_the_suite if {
	warned := json.patch(failed, [
		{"op": "add", "path": "/results/0/severity", "value": "warning"},
		{"op": "add", "path": "/results/1/severity", "value": "info"},
	])
	count(validation.deny_suite_failed) == 0 with input as {"validations": [warned]}
	mixed := json.patch(warned, [{"op": "replace", "path": "/results/1/severity", "value": "critical"}])
	some result in validation.deny_suite_failed with input as {"validations": [mixed]}
	result.failed_expectations == ["expect_table_row_count_to_be_between"]
	contains(result.msg, "failed 1 of 2 expectations")
}

test_long_failure_lists_are_cut if {
	many := object.union(failed, {"results": [{"expectation": sprintf("expect_%v", [i]), "success": false} | some i in numbers.range(1, 7)]})
	some result in validation.deny_suite_failed with input as {"validations": [many]}
	count(result.failed_expectations) == 7
	endswith(result.msg, ": expect_1, expect_2, expect_3, expect_4, expect_5 and 2 more")
}

test_required_suite_missing if {
	some result in validation.deny_suite_missing with input as {"validations": [passed]}
		with data.gate.validation.required_suites as ["eval-slices", "pii-scan"]
	result.validation == "pii-scan"
	result.msg == "the required validation 'pii-scan' did not run; the validations that ran: eval-slices"
	some none in validation.deny_suite_missing with input as {"validations": []}
		with data.gate.validation.required_suites as ["pii-scan"]
	endswith(none.msg, "the validations that ran: (none)")
	count(validation.deny_suite_missing) == 0 with input as {"validations": [passed]}
		with data.gate.validation.required_suites as ["eval-slices"]
}
