"""What is recorded: one event per thing that happened, built from what gate already wrote.

Every event carries the same keys, so an auditor reads one shape:

* ``kind``: ``check.decision``, ``signoff.used``, ``rollout.judgement``,
  ``rollback.step-start``, ``rollback.step-result``;
* ``at``: UTC time; ``model``: name and version;
* ``decision_sha256``: the digest of the decision the event belongs to
  (``decision_digest`` of decision.json, the bytes of rollout-decision.json,
  the rollback plan's digest for rollback steps);
* ``inputs``: path, role and sha256 of every input and policy file read;
* ``engine``: the Rego engine and its version (null where none ran);
* ``ci``: the CI context (``input.ci``);
* ``signers``: the verified sign-offs the decision used (role, signer, key
  fingerprint, day signed);
* ``event``: what is particular to the kind (the verdict, the stage, the step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from gate.audit.chain import canonical, digest_text
from gate.names import PLAN_FILE

# Keys of decision.json that are written after its digest is taken (they name the digest).
LATE_KEYS = ("ledger", "attestation")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def decision_digest(doc: Mapping[str, Any]) -> str:
    """sha256 of decision.json as judged: its canonical JSON without ``ledger``/``attestation``."""
    core = {k: v for k, v in doc.items() if k not in LATE_KEYS}
    return digest_text(canonical(core))


def blocking(doc: Mapping[str, Any]) -> list[str]:
    """The ids of a decision's findings that fail it."""
    return [f["id"] for f in doc.get("findings", []) if f.get("effect") == "fail"]


def _inputs(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"path": r["path"], "role": r["role"], "sha256": r["sha256"]} for r in records]


def _engine(engine: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not engine:
        return None
    return {"name": engine.get("name"), "version": engine.get("version")}


def signers(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The verified sign-offs of every waived finding in a decision document."""
    out = []
    for f in doc.get("findings") or []:
        waiver = f.get("waiver") or {}
        for s in waiver.get("signoff") or []:
            out.append({"finding": f.get("id"), "rule": waiver.get("rule"),
                        "role": s.get("role"), "signer": s.get("signer"),
                        "fingerprint": s.get("fingerprint"), "signed_at": s.get("signed_at")})
    return out


def check_events(doc: Mapping[str, Any], *, attestation: Mapping[str, Any] | None = None
                 ) -> list[dict[str, Any]]:
    """A ``gate check`` decision, then one ``signoff.used`` per sign-off it counted."""
    digest = decision_digest(doc)
    at = now()
    used = signers(doc)
    base = {
        "at": at,
        "model": dict(doc.get("model") or {}),
        "decision_sha256": digest,
        "inputs": _inputs([*doc.get("inputs", []), *doc.get("policies", [])]),
        "engine": _engine(doc.get("engine")),
        "ci": dict(doc.get("ci") or {}),
        "signers": used,
    }
    plan = doc.get("rollback_plan") or {}
    error = doc.get("error") or {}
    event = {"decision": doc.get("decision"), "exit_code": doc.get("exit_code"),
             "summary": doc.get("summary"), "manifest": doc.get("manifest"),
             "blocking": blocking(doc),
             "plan_sha256": plan.get("sha256"),
             "governance": (doc.get("governance") or {}).get("source"),
             "error": error.get("message")}
    if attestation is not None:
        event["attestation_sha256"] = attestation.get("sha256")
    out = [{**base, "kind": "check.decision", "event": event}]
    for s in used:
        out.append({**base, "kind": "signoff.used", "signers": [s],
                    "event": {"finding": s["finding"], "rule": s["rule"]}})
    return out


def rollout_event(doc: Mapping[str, Any], decision_sha256: str,
                  inputs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One ``gate rollout`` judgement (rollout-decision.json, hashed as written)."""
    plan = doc.get("rollback_plan") or {}
    policies = doc.get("policies") or {}
    return {
        "kind": "rollout.judgement",
        "at": now(),
        "model": dict(doc.get("model") or {}),
        "decision_sha256": decision_sha256,
        "inputs": _inputs(inputs),
        "engine": _engine(policies.get("engine")),
        "ci": dict(doc.get("ci") or {}),
        "signers": [],
        "event": {"decision": doc.get("decision"), "exit_code": doc.get("exit_code"),
                  "stage": (doc.get("stage") or {}).get("name"),
                  "next_stage": (doc.get("next_stage") or {}).get("name"),
                  "reasons": list(doc.get("reasons") or []),
                  "plan_sha256": plan.get("sha256")},
    }


def rollback_event(kind: str, plan: Mapping[str, Any], plan_sha256: str, step: int,
                   detail: Mapping[str, Any], ci: Mapping[str, Any]) -> dict[str, Any]:
    """A rollback step's start (``rollback.step-start``) or result (``rollback.step-result``)."""
    model = plan.get("model") or {}
    return {
        "kind": kind,
        "at": now(),
        "model": {"name": model.get("name"), "version": model.get("candidate_version")},
        "decision_sha256": plan_sha256,
        "inputs": [{"path": PLAN_FILE, "role": "rollback plan",
                    "sha256": plan_sha256}],
        "engine": None,
        "ci": dict(ci),
        "signers": [],
        "event": {"step": step, "target": (plan.get("target") or {}).get("version"),
                  "trigger": plan.get("trigger"), **detail},
    }
