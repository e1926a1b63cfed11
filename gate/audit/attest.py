"""Attested decisions: an in-toto Statement v1 in a DSSE envelope, and its verification.

The statement is built and checked with ``in-toto-attestation`` (the in-toto
project's bindings) and signed and verified with ``securesystemslib``'s DSSE
``Envelope`` and ``CryptoSigner``; this module is the glue.

* subject: every model artifact, named by its path in the bundle, with its sha256;
* predicateType ``urn:gate:decision:v1``; predicate: the decision (verdict,
  model, blocking finding ids), ``decision_sha256`` (decision.json without its
  ``ledger``/``attestation`` keys, see ``gate.audit.events.decision_digest``),
  ``policy_sha256`` (the sorted ``sha256  path`` lines of every policy file),
  ``plan_sha256`` (rollback-plan.json's bytes, or null), the engine, gate's
  version, the time and the CI context.

Keys: an Ed25519 (recommended), ECDSA or RSA private key, PEM or OpenSSH
format, from a file or from the text of a CI secret; trusted keys are public
keys, PEM or one OpenSSH line (``ssh-ed25519 AAAA... comment``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.audit import AuditError
from gate.documents import parse_json
from gate.errors import DocumentError
from gate.fsutil import read_regular

PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "urn:gate:decision:v1"
ATTESTATION_FILE = "decision.intoto.json"
KEY_ENV = "GATE_ATTEST_KEY"
KEY_PASSWORD_ENV = "GATE_ATTEST_KEY_PASSWORD"


GOVERNANCE_ROLES = ("policy", "policy data", "waivers", "sign-off rules", "governance")


def policy_digest(doc: Mapping[str, Any]) -> str:
    """sha256 of what judged the model: the sorted ``sha256  path`` lines (as sha256sum
    prints them) of every policy, policy data, waiver and sign-off file of a decision, and a
    ``gate-library <gate version>`` line when the built-in library ran."""
    files = [*doc.get("policies", []), *doc.get("inputs", [])]
    lines = sorted({f"{r['sha256']}  {r['path']}\n" for r in files
                    if r.get("role") in GOVERNANCE_ROLES})
    if any(str(r.get("file") or "").startswith("gate-library/") for r in doc.get("rules", [])):
        lines.append(f"gate-library {doc.get('gate_version')}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _require() -> None:
    """AuditError (exit 2), not an import traceback, when the audit extra is missing."""
    try:
        import cryptography  # noqa: F401
        import google.protobuf  # noqa: F401
        import in_toto_attestation  # noqa: F401
        import securesystemslib  # noqa: F401
    except ImportError as e:
        raise AuditError(f"attestations need the Python package {e.name}, which is not "
                         "installed", hint="pip install 'gate-release[audit]'") from e


def _key_text(source: str, shown: str) -> bytes:
    if "-----BEGIN" in source:
        return source.encode("utf-8")
    try:
        return read_regular(source)
    except OSError as e:
        raise AuditError(f"cannot read the signing key: {e.strerror}", path=shown,
                         hint=f"pass the private key's file, or its text in ${KEY_ENV}") from e


def load_private_key(source: str, *, password: str | None = None) -> Any:
    """A private key from a file or from its text (PEM or OpenSSH)."""
    _require()
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    shown = "the key text" if "-----BEGIN" in source else source
    data = _key_text(source, shown)
    pw = password.encode("utf-8") if password else None
    loaders = (serialization.load_ssh_private_key, serialization.load_pem_private_key) \
        if b"OPENSSH PRIVATE KEY" in data else (serialization.load_pem_private_key,)
    problems = []
    for load in loaders:
        try:
            return load(data, pw)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            problems.append(str(e))
    raise AuditError(f"the signing key cannot be read: {problems[-1]}", path=shown,
                     hint="use an Ed25519 key in PEM (openssl genpkey -algorithm ed25519) or "
                     "OpenSSH format (ssh-keygen -t ed25519); give its password in "
                     f"${KEY_PASSWORD_ENV}")


def load_public_key(path: Path, shown: str) -> Any:
    """A trusted public key: PEM, or one OpenSSH public key line."""
    _require()
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        data = read_regular(path)
    except OSError as e:
        raise AuditError(f"cannot read the trusted key: {e.strerror}", path=shown,
                         hint="pass the public key of the gate's signing key") from e
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return serialization.load_pem_public_key(data)
        return serialization.load_ssh_public_key(data.strip().split(b"\n")[0])
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm) as e:
        raise AuditError(f"the trusted key cannot be read: {e}", path=shown,
                         hint="give a PEM public key or an OpenSSH line "
                         "(ssh-ed25519 AAAA... comment)") from e


def load_trusted_keys(paths: Sequence[str]) -> list[tuple[Any, str]]:
    """The public keys of ``--trusted-key`` options, each with the path it was given as."""
    return [(load_public_key(Path(p), p), p) for p in paths]


def _sslib_key(public_key: Any) -> Any:
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    try:
        return SSlibKey.from_crypto(public_key)
    except ValueError as e:
        raise AuditError(f"unsupported key: {e}",
                         hint="use an Ed25519, ECDSA or RSA key") from e


def key_id(public_key: Any) -> str:
    """The key's id as securesystemslib computes it (the DSSE signature's ``keyid``)."""
    return str(_sslib_key(public_key).keyid)


def statement(subjects: Sequence[Mapping[str, str]], predicate: Mapping[str, Any]) -> bytes:
    """The in-toto Statement v1 as JSON bytes; ``subjects`` are ``{"name", "sha256"}``."""
    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    descriptors = [ResourceDescriptor(name=s["name"], digest={"sha256": s["sha256"]}).pb
                   for s in subjects]
    stmt = Statement(descriptors, PREDICATE_TYPE, dict(predicate))
    try:
        stmt.validate()
    except ValueError as e:
        raise AuditError(f"cannot attest this decision: {e}",
                         hint="an attestation needs at least one model artifact (model.artifacts)"
                         ) from e
    text: str = json_format.MessageToJson(stmt.pb, indent=None, sort_keys=True)
    return text.encode("utf-8")


def sign(payload: bytes, private_key: Any) -> dict[str, Any]:
    """The DSSE envelope of ``payload``, signed with ``private_key``."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

    try:
        signer = CryptoSigner(private_key, _sslib_key(private_key.public_key()))
    except ValueError as e:
        raise AuditError(f"cannot sign with this key: {e}",
                         hint="use an Ed25519, ECDSA or RSA private key") from e
    envelope = Envelope(payload=payload, payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer)
    doc: dict[str, Any] = envelope.to_dict()
    return doc


def attest_decision(doc: Mapping[str, Any], *, plan_sha256: str | None,
                    private_key: Any) -> dict[str, Any]:
    """The signed envelope for one ``gate check`` decision document."""
    from gate.audit.events import blocking, decision_digest

    subjects = [{"name": r["path"], "sha256": r["sha256"]}
                for r in doc.get("inputs", []) if r.get("role") == "model artifact"]
    engine = doc.get("engine") or {}
    predicate = {
        "decision": doc.get("decision"),
        "model": {k: str(v) for k, v in (doc.get("model") or {}).items()},
        "blocking": blocking(doc),
        "decision_sha256": decision_digest(doc),
        "policy_sha256": policy_digest(doc),
        "plan_sha256": plan_sha256,
        "engine": {"name": engine.get("name"), "version": engine.get("version")},
        "gate_version": doc.get("gate_version"),
        "created_at": doc.get("created_at"),
        "ci": {k: (None if v is None else str(v)) for k, v in (doc.get("ci") or {}).items()},
    }
    return sign(statement(subjects, predicate), private_key)


# --- verification -------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """An attestation that a trusted key signed, with what it says."""

    key_id: str
    subjects: list[dict[str, str]]  # name, sha256
    predicate: dict[str, Any]


def _refuse(message: str, shown: str, hint: str) -> AuditError:
    return AuditError(f"attestation refused: {message}", path=shown, hint=hint)


def read_envelope(path: Path, shown: str) -> Any:
    _require()
    from securesystemslib.dsse import Envelope

    try:
        raw = parse_json(read_regular(path).decode("utf-8"))
        return Envelope.from_dict(raw)
    except FileNotFoundError as e:
        raise _refuse("the attestation does not exist", shown,
                      f"pass the {ATTESTATION_FILE} gate check wrote (--attest-key)") from e
    except OSError as e:
        raise _refuse(f"cannot read it: {e.strerror}", shown, "pass a readable file") from e
    except (DocumentError, ValueError, KeyError, TypeError) as e:
        raise _refuse(f"it is not a DSSE envelope ({e})", shown,
                      "pass the envelope exactly as gate check wrote it") from e


def verify_envelope(path: Path, shown: str, trusted: Sequence[tuple[Any, str]]) -> Verified:
    """Check the envelope's signature against the trusted keys, and read its statement."""
    _require()
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement
    from securesystemslib.exceptions import VerificationError

    if not trusted:
        raise _refuse("no trusted key was given", shown,
                      "pass --trusted-key with the public key of the gate's signing key")
    envelope = read_envelope(path, shown)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise _refuse(f"its payload type is '{envelope.payload_type}', not an in-toto "
                      "statement", shown, "pass the attestation gate check wrote")
    keys = [_sslib_key(k) for k, _ in trusted]
    try:
        accepted = envelope.verify(keys, 1)
    except VerificationError as e:
        ids = ", ".join(sorted(str(k) for k in envelope.signatures)) or "none"
        raise _refuse(f"no signature on it verifies with a trusted key ({e}; signed by key "
                      f"id {ids})", shown,
                      "it was signed by another key, or changed after signing: use the "
                      "attestation of the gate run that wrote the plan, and trust only the "
                      "gate's own public key") from e
    try:
        stmt_pb = json_format.Parse(envelope.payload.decode("utf-8"), statement_pb2.Statement(),
                                    ignore_unknown_fields=False)
        stmt = Statement.copy_from_pb(stmt_pb)
        stmt.validate()
    except (ValueError, UnicodeDecodeError, json_format.ParseError) as e:
        raise _refuse(f"its statement is not an in-toto Statement v1: {e}", shown,
                      "pass the attestation gate check wrote") from e
    if stmt.pb.predicate_type != PREDICATE_TYPE:
        raise _refuse(f"its predicate type is '{stmt.pb.predicate_type}', not gate's "
                      f"'{PREDICATE_TYPE}'", shown, "pass the attestation gate check wrote")
    subjects = [{"name": s.name, "sha256": s.digest.get("sha256", "")} for s in stmt.pb.subject]
    predicate = json_format.MessageToDict(stmt.pb.predicate)
    return Verified(next(iter(accepted)), subjects, predicate)


def check_plan(verified: Verified, plan_sha256: str, shown: str, plan_shown: str) -> None:
    """Refuse a plan that is not the one the attested decision wrote."""
    attested = verified.predicate.get("plan_sha256")
    if attested is None:
        raise _refuse("the attested decision wrote no rollback plan", shown,
                      f"{plan_shown} did not come from the attested run; use that run's plan")
    if plan_sha256 != attested:
        raise _refuse(f"{plan_shown} has sha256 {plan_sha256[:16]}..., but the attested "
                      f"decision wrote a plan with sha256 {str(attested)[:16]}...: it was "
                      "edited or comes from another run", shown,
                      "execute only the plan the attested gate run wrote, unedited")


def check_artifacts(verified: Verified, artifacts: Sequence[Mapping[str, str]],
                    shown: str) -> None:
    """Refuse an artifact set that the attestation does not cover, every file by digest."""
    if not artifacts:
        raise _refuse("no artifacts were given to check", shown,
                      "pass --artifact PATH (repeatable) or --config gate.yaml")
    attested = {s["sha256"] for s in verified.subjects}
    missing = [a for a in artifacts if a["sha256"] not in attested]
    if missing:
        named = ", ".join(f"{a['name']} (sha256 {a['sha256'][:12]}...)" for a in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise _refuse(f"it does not cover {named}{more}: the attested decision was about "
                      "other artifacts", shown,
                      "deploy only the artifacts the gate judged; run gate check on these")


def check_decision(verified: Verified, digest: str, shown: str, decision_shown: str) -> None:
    if verified.predicate.get("decision_sha256") != digest:
        raise _refuse(f"{decision_shown} is not the decision it attests (digest differs)", shown,
                      "use the decision.json of the attested run, unedited")


def describe(verified: Verified) -> list[str]:
    p = verified.predicate
    model = p.get("model") or {}
    return [f"attestation: {model.get('name')} {model.get('version')}: decision "
            f"{p.get('decision')}, signed by key {verified.key_id[:16]}...",
            f"  subjects: {len(verified.subjects)} artifact(s); policy sha256 "
            f"{str(p.get('policy_sha256'))[:16]}...; plan sha256 "
            f"{str(p.get('plan_sha256') or 'none')[:16]}"]
