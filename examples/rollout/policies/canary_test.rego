package canary_test

import rego.v1

import data.canary

test_p99_above_slo_denies if {
	count(canary.deny_latency_slo) == 1 with input as {"rollout": {"monitoring": {"latency_ms": {"canary": {"p99": 512.0, "n": 900}}}}}
		with data.slo as {"latency_p99_ms": 400}
}

test_p99_within_slo_passes if {
	count(canary.deny_latency_slo) == 0 with input as {"rollout": {"monitoring": {"latency_ms": {"canary": {"p99": 310.0, "n": 900}}}}}
		with data.slo as {"latency_p99_ms": 400}
}

test_silent_during_check if {
	count(canary.deny_latency_slo) == 0 with input as {"rollout": null}
		with data.slo as {"latency_p99_ms": 400}
}
