"""Great Expectations suites over the data behind a release (the manifest's ``validations:``).

Great Expectations, pandas, SQLAlchemy and pyspark are heavy; none of them is
imported until a manifest actually has validations, so importing this package
and checking a bundle without suites costs nothing (STYLE 11).

Seams: ``suite`` reads and checks a suite file, ``sources`` turns a manifest
entry into a GX batch (files, SQL, Spark: one adapter each), ``context`` owns
the one ephemeral GX context, ``runner`` runs a suite over a batch, and
``results`` (pure) maps GX results to ``input.validations`` and findings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gate.decision import Finding
    from gate.manifest import Manifest


def run_validations(manifest: Manifest) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Run every suite of the manifest: the ``input.validations`` entries and the findings.

    One finding per failed expectation. Anything that keeps a suite from
    running (unknown expectation type, bad kwargs, missing column, unreadable
    data, unreachable database) is a ``ValidationError`` (exit 2).
    """
    if not manifest.validations:
        return [], []
    from gate.validations.runner import run_all  # lazy: pulls in GX and pandas

    return run_all(manifest)
