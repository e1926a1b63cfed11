"""The names of the files gate writes into its output folder: one home for each."""

DECISION_FILE = "decision.json"  # gate check's decision (gate schema decision)
PLAN_FILE = "rollback-plan.json"  # what a blocked check or rollout leaves the deploy job
ROLLOUT_DECISION_FILE = "rollout-decision.json"  # gate rollout's judgement of a stage
INDEX_FILE = "index.json"  # a run over many bundles: every bundle's verdict and files
RECALIBRATION_PLAN_FILE = "recalibration-plan.json"  # what failing drift rules leave
