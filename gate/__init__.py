"""gate: a policy-as-code release gate for machine-learning models."""

__version__ = "0.1.0"
# The distribution on PyPI: `gate` there is an unrelated project. The command is `gate`.
DIST_NAME = "gate-release"
