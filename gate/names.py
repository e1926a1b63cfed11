"""The names of the files gate writes into its output folder: one home for each.

Each name means one file: a command's own files carry the command in the name
(``ROLLOUT_DECISION_FILE``, ``DRIFT_REPORT_FILE``); ``DECISION_FILE`` is only
`gate check`'s decision.json.
"""

# gate check
DECISION_FILE = "decision.json"  # gate check's decision (gate schema decision)
PLAN_FILE = "rollback-plan.json"  # what a blocked check or rollout leaves the deploy job
INDEX_FILE = "index.json"  # a run over many bundles: every bundle's verdict and files
SARIF_FILE = "gate.sarif"  # --format sarif
JUNIT_FILE = "junit.xml"  # --format junit
SUMMARY_FILE = "summary.md"  # --format markdown
CODE_QUALITY_FILE = "gl-code-quality-report.json"  # --format gitlab: GitLab code quality
DOTENV_FILE = "gate.env"  # --format gitlab: the verdict for later jobs (artifacts:reports:dotenv)

# gate rollout
ROLLOUT_DECISION_FILE = "rollout-decision.json"  # gate rollout's judgement of a stage
ROLLOUT_STATE_FILE = "rollout-state.json"  # sequential tests and digests between polls

# gate drift
DRIFT_REPORT_FILE = "drift-report.json"  # every statistic and the verdict
DRIFT_STATE_FILE = "drift-state.json"  # since when each feature has drifted
DRIFT_DOTENV_FILE = "gate-drift.env"  # --format gitlab
RECALIBRATION_PLAN_FILE = "recalibration-plan.json"  # what failing drift rules leave
