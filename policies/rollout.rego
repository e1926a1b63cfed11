# METADATA
# title: Rollout and rollback
# description: >-
#   The staged rollout plan exposes few users first, grows step by step to
#   full traffic with an analysis and a bake time at every step, and a
#   rollback can return to a known version.
package gate.rollout

import rego.v1

# METADATA
# title: First rollout stage too large
# description: >-
#   The first stage of the rollout may send at most
#   data.gate.rollout.max_first_stage_weight percent of traffic to the
#   candidate, so an unexpected failure reaches few users.
# custom:
#   id: GATE-ROLL-001
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Start the rollout with a small canary stage (e.g. weight 5) in
#     gate.yaml `rollout.stages`.
deny_first_stage contains result if {
	first := stages[0]
	first.weight > data.gate.rollout.max_first_stage_weight
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("the first rollout stage '%s' sends %v%% of traffic to the candidate; at most %v%% may go to it first", [
			first.name,
			first.weight,
			data.gate.rollout.max_first_stage_weight,
		]),
		"stage": first.name,
		"weight": first.weight,
	}
}

# METADATA
# title: Rollout weights do not increase
# description: Each rollout stage must send more traffic to the candidate than the stage before it.
# custom:
#   id: GATE-ROLL-002
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: Order the stages in gate.yaml `rollout.stages` by strictly increasing weight.
deny_stage_order contains result if {
	some i, stage in stages
	i > 0
	previous := stages[i - 1]
	stage.weight <= previous.weight
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("rollout stage '%s' (weight %v) does not send more traffic than the stage before it, '%s' (weight %v): weights must increase strictly", [
			stage.name,
			stage.weight,
			previous.name,
			previous.weight,
		]),
		"stage": stage.name,
		"weight": stage.weight,
	}
}

# METADATA
# title: Rollout does not reach full traffic
# description: The last rollout stage must send data.gate.rollout.final_weight percent (100) of traffic to the candidate.
# custom:
#   id: GATE-ROLL-003
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: End gate.yaml `rollout.stages` with a stage of weight 100.
deny_final_stage contains result if {
	last := stages[count(stages) - 1]
	last.weight != data.gate.rollout.final_weight
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("the last rollout stage '%s' sends %v%% of traffic to the candidate; the rollout must end at %v%%", [
			last.name,
			last.weight,
			data.gate.rollout.final_weight,
		]),
		"stage": last.name,
		"weight": last.weight,
	}
}

# METADATA
# title: Rollout stage without analysis
# description: Every rollout stage but the last must list an analysis, or nothing judges it before the next one starts.
# custom:
#   id: GATE-ROLL-004
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Add an `analysis:` to the stage in gate.yaml, e.g.
#     [{metric: error_rate, max: 0.02}].
deny_stage_analysis contains result if {
	some stage in stages_before_last
	count(object.get(stage, "analysis", [])) == 0
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("rollout stage '%s' (weight %v) has no analysis: nothing would judge it before the next stage", [stage.name, stage.weight]),
		"stage": stage.name,
	}
}

# METADATA
# title: Rollout stage without bake time
# description: >-
#   Every rollout stage but the last must stay in place for a bake time of at
#   least data.gate.rollout.min_bake_seconds, so slow failures show up.
# custom:
#   id: GATE-ROLL-005
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: Give the stage a `bake:` in gate.yaml (e.g. 30m).
deny_stage_bake contains result if {
	some stage in stages_before_last
	not stage.bake
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("rollout stage '%s' (weight %v) has no bake time: it would be promoted as soon as it started", [stage.name, stage.weight]),
		"stage": stage.name,
		"bake_seconds": null,
	}
}

deny_stage_bake contains result if {
	some stage in stages_before_last
	seconds := bake_seconds(stage.bake)
	seconds < data.gate.rollout.min_bake_seconds
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("rollout stage '%s' bakes for %v seconds (bake: %v); every stage but the last must bake at least %v seconds", [
			stage.name,
			seconds,
			stage.bake,
			data.gate.rollout.min_bake_seconds,
		]),
		"stage": stage.name,
		"bake_seconds": seconds,
	}
}

# METADATA
# title: Rollback has no target version
# description: >-
#   The manifest's `rollback:` must name the version to return to
#   (rollback.target.version), or a failed release has nowhere to go back to.
# custom:
#   id: GATE-ROLL-006
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: 'Add `rollback: {target: {version: <the version in production>}}` to gate.yaml.'
deny_rollback_target contains result if {
	not nonblank(object.get(input, ["rollback", "target", "version"], null))
	result := {"msg": "gate.yaml names no rollback target (rollback.target.version): a failed release would have no version to return to", "_loc": source("manifest")}
}

# METADATA
# title: Rollback has no steps
# description: >-
#   The manifest's `rollback:` must list at least
#   data.gate.rollout.min_rollback_steps steps (commands or webhooks), or the
#   rollback plan has nothing to run.
# custom:
#   id: GATE-ROLL-007
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: >-
#     Add `rollback.steps` to gate.yaml: the commands (run) or webhooks (http)
#     that route traffic back to the target version.
deny_rollback_steps contains result if {
	steps := object.get(input, ["rollback", "steps"], [])
	count(steps) < data.gate.rollout.min_rollback_steps
	result := {
		"_loc": source("manifest"),
		"msg": sprintf("gate.yaml lists %v rollback steps (rollback.steps); at least %v must say how to return to the target version", [
			count(steps),
			data.gate.rollout.min_rollback_steps,
		]),
		"steps": count(steps),
	}
}

stages := input.rollout.stages if is_array(input.rollout.stages)

stages_before_last := array.slice(stages, 0, count(stages) - 1)

# A bake is seconds, or a duration such as 500ms, 30s, 5m, 1h (as the manifest schema allows).
bake_seconds(bake) := bake if is_number(bake)

bake_seconds(bake) := time.parse_duration_ns(bake) / 1000000000 if is_string(bake)

nonblank(value) if visible_text(value)

# A string is filled when it shows a letter or digit: blank, zero-width and
# format characters, combining marks alone and the blank "letters" (Hangul
# fillers) look empty, so they count as empty.
visible_text(value) if {
	is_string(value)
	regex.match(`[\p{L}\p{N}]`, regex.replace(value, `[\x{115F}\x{1160}\x{3164}\x{FFA0}]`, ""))
}

# Where a finding points in the bundle: the file gate.yaml names for `kind`
# (input.sources), or null when it names none. Reports link findings there.
source(kind) := object.get(input, ["sources", kind], null)
