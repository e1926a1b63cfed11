package gate.rollout_test

import rego.v1

import data.gate.rollout

check := [{"metric": "error_rate", "max": 0.02}]

plan := [
	{"name": "canary-5", "weight": 5, "bake": "30m", "analysis": check},
	{"name": "half", "weight": 50, "bake": 3600, "analysis": check},
	{"name": "full", "weight": 100},
]

ready := {"target": {"version": "2.3.1"}, "steps": [{"name": "route", "run": ["./deploy.sh"]}]}

bundle(stages) := {"rollout": {"stages": stages}, "rollback": ready}

rules := {
	"first": rollout.deny_first_stage,
	"order": rollout.deny_stage_order,
	"final": rollout.deny_final_stage,
	"analysis": rollout.deny_stage_analysis,
	"bake": rollout.deny_stage_bake,
	"target": rollout.deny_rollback_target,
	"steps": rollout.deny_rollback_steps,
}

test_sound_plan_passes if {
	outcome := rules with input as bundle(plan)
	every _, results in outcome {
		count(results) == 0
	}
	count(outcome) == 7
}

test_no_rollout_plan_checks_only_rollback if {
	outcome := rules with input as {"rollout": null, "rollback": ready}
	every _, results in outcome {
		count(results) == 0
	}
}

test_first_stage_too_large if {
	some result in rollout.deny_first_stage with input as bundle(array.slice(plan, 1, 3))
	result.msg == "the first rollout stage 'half' sends 50% of traffic to the candidate; at most 10% may go to it first"
	count(rollout.deny_first_stage) == 0 with input as bundle(array.slice(plan, 1, 3))
		with data.gate.rollout.max_first_stage_weight as 50
}

test_weights_must_increase if {
	shuffled := [plan[1], plan[0], plan[2]]
	some result in rollout.deny_stage_order with input as bundle(shuffled)
	result.stage == "canary-5"
	result.msg == "rollout stage 'canary-5' (weight 5) does not send more traffic than the stage before it, 'half' (weight 50): weights must increase strictly"
	same_weight := [plan[0], object.union(plan[1], {"weight": 5}), plan[2]]
	count(rollout.deny_stage_order) == 1 with input as bundle(same_weight)
}

test_rollout_must_reach_full_traffic if {
	some result in rollout.deny_final_stage with input as bundle(array.slice(plan, 0, 2))
	result.msg == "the last rollout stage 'half' sends 50% of traffic to the candidate; the rollout must end at 100%"
}

test_stage_without_analysis if {
	bare := [object.remove(plan[0], ["analysis"]), object.union(plan[1], {"analysis": []}), plan[2]]
	results := rollout.deny_stage_analysis with input as bundle(bare)
	{r.stage | some r in results} == {"canary-5", "half"}
	some r in results
	r.msg == "rollout stage 'canary-5' (weight 5) has no analysis: nothing would judge it before the next stage"
}

test_stage_without_bake if {
	some result in rollout.deny_stage_bake with input as bundle([object.remove(plan[0], ["bake"]), plan[2]])
	result.msg == "rollout stage 'canary-5' (weight 5) has no bake time: it would be promoted as soon as it started"
}

test_stage_bake_too_short if {
	results := rollout.deny_stage_bake with input as bundle([object.union(plan[0], {"bake": "30s"}), object.union(plan[1], {"bake": 10}), plan[2]])
	{r.bake_seconds | some r in results} == {30, 10}
	some r in results
	r.stage == "canary-5"
	r.msg == "rollout stage 'canary-5' bakes for 30 seconds (bake: 30s); every stage but the last must bake at least 60 seconds"
	count(rollout.deny_stage_bake) == 0 with input as bundle([object.union(plan[0], {"bake": "1.5m"}), plan[2]])
}

test_last_stage_needs_neither_analysis_nor_bake if {
	count(rollout.deny_stage_analysis) == 0 with input as bundle([plan[2]])
	count(rollout.deny_stage_bake) == 0 with input as bundle([plan[2]])
}

test_rollback_needs_a_target_version if {
	some result in rollout.deny_rollback_target with input as {"rollout": null, "rollback": {"steps": ready.steps}}
	startswith(result.msg, "gate.yaml names no rollback target")
	count(rollout.deny_rollback_target) == 1 with input as {"rollout": null}
	count(rollout.deny_rollback_target) == 1 with input as {"rollout": null, "rollback": null}
	count(rollout.deny_rollback_target) == 1 with input as {"rollout": null, "rollback": {"target": {"version": " "}}}
}

test_rollback_needs_steps if {
	some result in rollout.deny_rollback_steps with input as {"rollout": null, "rollback": {"target": ready.target}}
	result.msg == "gate.yaml lists 0 rollback steps (rollback.steps); at least 1 must say how to return to the target version"
	count(rollout.deny_rollback_steps) == 1 with input as {"rollout": null, "rollback": {"target": ready.target, "steps": []}}
	count(rollout.deny_rollback_steps) == 1 with input as {"rollout": null, "rollback": null}
	count(rollout.deny_rollback_steps) == 0 with input as {"rollout": null, "rollback": ready}
		with data.gate.rollout.min_rollback_steps as 1
}
