"""gate: a policy-as-code release gate for machine-learning models."""

__version__ = "0.1.0"
