"""The audit trail: a hash-chained ledger of decisions, attestations, model signatures.

Light to import: the stores, the DSSE and model-signing libraries are loaded
only by the code that needs them (``gate.audit.store``, ``gate.audit.attest``,
``gate.audit.modelsig``).
"""

from __future__ import annotations

from gate.errors import GateError

LEDGER_ENV = "GATE_LEDGER"


class AuditError(GateError):
    """The ledger cannot be read or written, or it does not verify; an attestation is refused."""

    default_hint = "fix the ledger or attestation named above and run gate again"


__all__ = ["LEDGER_ENV", "AuditError"]
