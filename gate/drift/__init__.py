"""Data drift between a reference and a current data set, measured where the data lives.

``drift:`` in gate.yaml declares checks beside ``validations:``; each compares
the features of a reference window (the training data) with a current window
(what the model sees now), both read through the same sources as the
validations (files, SQL, Spark). Only summaries cross the wire: the engines
count, sort and bin; ``gate.drift.stats`` turns their answers into PSI, KS,
Wasserstein, chi-squared, Jensen-Shannon and L-infinity (no scipy).

Seams: ``summarisers`` (one per engine), ``compare`` (pure statistics of one
feature), ``runner`` (a whole check, its errors), ``plan`` (the recalibration
plan) and ``state`` (since when each feature has drifted). numpy, pandas,
SQLAlchemy and pyspark are imported only when a manifest has drift checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gate.errors import DriftError

if TYPE_CHECKING:
    from gate.manifest import Manifest

# What the `drift` extra installs for gate's own imports (pyarrow comes through pandas, which
# names it; pyspark and the database drivers have their own messages).
EXTRA_MODULES = ("numpy", "pandas", "sqlalchemy")


def run_drift(manifest: Manifest, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``input.drift`` for the manifest's drift checks (all, or those named)."""
    if not manifest.drift:
        return []
    try:
        from gate.drift.runner import run_checks  # lazy: numpy and the engines

        return run_checks(manifest, names)
    except ModuleNotFoundError as e:  # the extra is not installed: an error, not a gate bug
        missing = (e.name or "").split(".")[0]
        if missing not in EXTRA_MODULES:
            raise
        raise DriftError(
            f"the manifest has drift checks, but {missing} cannot be imported: {e}",
            path=manifest.path.name, pointer="$.drift",
            hint='install the extra: pip install "gate-release[drift]"',
        ) from e
