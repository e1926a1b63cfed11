# Stage policies: evaluated by `gate rollout` with input.rollout.stage and
# input.rollout.monitoring (per metric, a summary of the canary and baseline
# samples). During `gate check` there is no monitoring, so these stay silent.
package canary

import rego.v1

slo := data.slo

# METADATA
# title: Canary p99 latency within the SLO
# description: Whatever the statistics say, the canary may never break the latency SLO.
# custom:
#   id: ROLLOUT-001
#   severity: high
#   remediation: Roll back, then profile the candidate under production load.
deny_latency_slo contains msg if {
	p99 := input.rollout.monitoring.latency_ms.canary.p99
	p99 > slo.latency_p99_ms
	msg := sprintf("canary p99 latency is %.1f ms; the SLO is %v ms", [p99, slo.latency_p99_ms])
}

# METADATA
# title: Enough traffic before half the users
# description: A stage at 50% or more needs evidence from the stages before it.
# custom:
#   id: ROLLOUT-002
#   severity: medium
warn_thin_evidence contains msg if {
	input.rollout.stage.weight >= 50
	served := input.rollout.monitoring.latency_ms.canary.n
	served < data.evidence.min_requests_before_half
	msg := sprintf("the canary served %d requests at %v%% of traffic; %d are expected", [served, input.rollout.stage.weight, data.evidence.min_requests_before_half])
}
