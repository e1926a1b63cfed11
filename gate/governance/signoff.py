"""Sign-off that is verified: waivers count only with valid signatures from the required roles.

The trusted sign-off rules (``signoff.yaml``, read from the trusted source, never
from the change) name who holds each role and which roles must sign a waiver of
which findings::

    version: 1
    allowed_signers: allowed_signers        # OpenSSH's format, beside this file
    roles:
      security: [alice@example.com]
      product: [pat@example.com]
      compliance: [chris@example.com]
      policy-owners: [olive@example.com]
    require:                                  # every matching entry adds its roles
      - {when: {severity: critical}, roles: [product, security, compliance]}
      - {when: {severity: high}, roles: [security]}
      - {when: {rule: "GATE-GOV-*"}, roles: [policy-owners]}
    default: [security]                       # when no entry matches

A signature is OpenSSH's (``ssh-keygen -Y sign -n gate-waiver``), as git signs
with SSH, over :func:`payload`: the waiver's rule, reason, ticket and expiry,
the run's model name and version, the signer's role and the day it was signed.
So a signature copied onto another model version, rule, reason or expiry does
not verify. Verification is behind :class:`Verifier`; :class:`SshVerifier`
runs the real ``ssh-keygen -Y verify`` against the trusted ``allowed_signers``
(a key removed from that file is revoked).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol

from gate.audit.chain import canonical
from gate.errors import ManifestError

NAMESPACE = "gate-waiver"
PAYLOAD_KIND = "gate.waiver-signoff"
_ARMOR = re.compile(
    r"^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+\n-----END SSH SIGNATURE-----\n?$")
_GOOD = re.compile(r'Good "[^"]*" signature for (?P<who>.+?) with (?P<alg>\S+) key (?P<fp>\S+)')


@dataclass(frozen=True)
class Requirement:
    """Findings matching ``when`` (globs over id/rule, severity, enforcement) need ``roles``."""

    when: Mapping[str, str]
    roles: tuple[str, ...]

    def matches(self, finding: Any) -> bool:
        for key, pattern in self.when.items():
            value = {"rule": f"{finding.id}\n{finding.rule}", "severity": finding.severity,
                     "enforcement": finding.enforcement}.get(key, "")
            if not any(fnmatchcase(v, pattern) for v in str(value).split("\n")):
                return False
        return True


@dataclass(frozen=True)
class SignoffRules:
    """The trusted sign-off rules: role holders, requirements, and the allowed signers file."""

    roles: Mapping[str, tuple[str, ...]]
    require: tuple[Requirement, ...]
    default: tuple[str, ...]
    allowed_signers: Path
    file: str = "signoff.yaml"

    def required_roles(self, finding: Any) -> tuple[str, ...]:
        found: dict[str, None] = {}
        for req in self.require:
            if req.matches(finding):
                found.update(dict.fromkeys(req.roles))
        return tuple(found) if found else self.default


def parse_rules(doc: Any, shown: str, folder: Path) -> SignoffRules:
    """Validate a sign-off rules document; every problem is a ManifestError at its place."""
    from gate.schemas import validate

    validate(doc, "signoff", path=shown, what="the sign-off rules")
    roles = {name: tuple(people) for name, people in doc["roles"].items()}
    require = tuple(Requirement(dict(r["when"]), tuple(r["roles"])) for r in doc.get("require", []))
    default = tuple(doc.get("default", []))
    for i, req in enumerate(require):
        for role in req.roles:
            if role not in roles:
                raise ManifestError(f"role '{role}' is required but not defined under roles:",
                                    path=shown, pointer=f"$.require[{i}].roles")
    for role in default:
        if role not in roles:
            raise ManifestError(f"role '{role}' is the default but not defined under roles:",
                                path=shown, pointer="$.default")
    signers = (folder / doc["allowed_signers"]).resolve()
    if not signers.is_relative_to(folder.resolve()) or not signers.is_file():
        raise ManifestError(f"the allowed signers file '{doc['allowed_signers']}' is missing "
                            "or outside the trusted folder", path=shown,
                            pointer="$.allowed_signers",
                            hint="keep allowed_signers beside signoff.yaml in the trusted source")
    _check_allowed_signers(signers, doc["allowed_signers"])
    return SignoffRules(roles, require, default, signers, shown)


def _check_allowed_signers(path: Path, shown: str) -> None:
    """Refuse an allowed_signers file that ssh-keygen would not read (a typo revokes nobody)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"cannot read the allowed signers file: {e}", path=shown) from e
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if not any(w.startswith(("ssh-", "ecdsa-", "sk-")) for w in words[1:]):
            raise ManifestError("not an allowed_signers line: expected "
                                "`principal [options] key-type base64-key`",
                                path=shown, line=n,
                                hint="see ALLOWED SIGNERS in ssh-keygen(1)")


# --- what is signed -----------------------------------------------------------------------------


def payload(*, rule: str, reason: str, ticket: str | None, expires: str | None, model: str,
            version: str, role: str, signed_at: str) -> bytes:
    """The exact bytes a signer signs: canonical JSON, one line, with a final newline."""
    doc = {"kind": PAYLOAD_KIND, "version": 1, "rule": rule, "reason": reason,
           "ticket": ticket, "expires": expires, "model": model, "model_version": version,
           "role": role, "signed_at": signed_at}
    return (canonical(doc) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Signature:
    """One signature on a waiver, as written in the exceptions file."""

    role: str
    signer: str
    signed_at: str
    armored: str
    pointer: str


@dataclass(frozen=True)
class Verified:
    """A signature that verified: who, in which role, with which key, when."""

    role: str
    signer: str
    fingerprint: str
    signed_at: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "signer": self.signer, "fingerprint": self.fingerprint,
                "signed_at": self.signed_at}


class Verifier(Protocol):
    """Checks one signature over ``data`` by ``principal``; the key fingerprint, or None."""

    def verify(self, data: bytes, armored: str, principal: str) -> str | None:
        ...


class SshVerifier:
    """OpenSSH's ``ssh-keygen -Y verify`` against a trusted allowed_signers file."""

    def __init__(self, allowed_signers: Path, namespace: str = NAMESPACE) -> None:
        self.allowed_signers = allowed_signers
        self.namespace = namespace
        self.program = shutil.which("ssh-keygen")
        if self.program is None:
            raise ManifestError("ssh-keygen is not installed, so sign-off cannot be verified",
                                hint="install OpenSSH's client (the openssh-client package)")

    def verify(self, data: bytes, armored: str, principal: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="gate-sig-") as tmp:
            sig = Path(tmp) / "waiver.sig"
            sig.write_text(armored if armored.endswith("\n") else armored + "\n")
            proc = subprocess.run(
                [str(self.program), "-Y", "verify", "-f", str(self.allowed_signers),
                 "-I", principal, "-n", self.namespace, "-s", str(sig)],
                input=data, capture_output=True, timeout=30, check=False,
            )
        m = _GOOD.search(proc.stdout.decode("utf-8", "replace"))
        if proc.returncode != 0 or m is None or m.group("who") != principal:
            return None
        return m.group("fp")


def parse_signatures(raw: Sequence[Mapping[str, Any]], shown: str, waiver: str) -> list[Signature]:
    """The signatures of one waiver (at the place ``waiver`` in its file); a malformed one is
    an error, never silently skipped."""
    out = []
    for j, entry in enumerate(raw):
        pointer = f"{waiver}.signatures[{j}]"
        armored = str(entry["signature"]).strip() + "\n"
        if not _ARMOR.match(armored):
            raise ManifestError("the signature is not an SSH signature (`ssh-keygen -Y sign` "
                                "output, -----BEGIN SSH SIGNATURE----- …)", path=shown,
                                pointer=pointer, hint="paste the whole .sig file")
        try:
            date.fromisoformat(str(entry["signed_at"]))
        except ValueError as e:
            raise ManifestError(f"signed_at '{entry['signed_at']}' is not a date", path=shown,
                                pointer=f"{pointer}.signed_at") from e
        out.append(Signature(str(entry["role"]), str(entry["signer"]), str(entry["signed_at"]),
                             armored, pointer))
    return out


@dataclass
class Review:
    """What the signatures of one waiver proved: who verified, and what was wrong."""

    verified: list[Verified] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def missing(self, rules: SignoffRules, finding: Any) -> tuple[str, ...]:
        """The roles this finding's waiver still needs (``("any role",)`` when none signed)."""
        required = rules.required_roles(finding)
        signed = {v.role for v in self.verified}
        if required:
            return tuple(r for r in required if r not in signed)
        return () if self.verified else ("any role",)


def review(
    rules: SignoffRules,
    verifier: Verifier,
    signatures: Sequence[Signature],
    *,
    rule: str,
    reason: str,
    ticket: str | None,
    expires: str | None,
    model: str,
    version: str,
    today: date,
) -> Review:
    """Verify a waiver's signatures for this model version; each problem says why one failed."""
    result = Review()
    seen: set[tuple[str, str]] = set()
    for sig in signatures:
        if (sig.role, sig.signer) in seen:
            result.problems.append(f"{sig.pointer}: a second signature by {sig.signer} as "
                                   f"{sig.role} counts once")
            continue
        seen.add((sig.role, sig.signer))
        if sig.signer not in rules.roles.get(sig.role, ()):
            result.problems.append(f"{sig.pointer}: {sig.signer} does not hold the role "
                                   f"'{sig.role}' in {rules.file}")
            continue
        signed = date.fromisoformat(sig.signed_at)
        if signed > today:
            result.problems.append(f"{sig.pointer}: signed_at {sig.signed_at} is in the future")
            continue
        if expires is not None and signed > date.fromisoformat(expires):
            result.problems.append(f"{sig.pointer}: signed after the waiver expired")
            continue
        data = payload(rule=rule, reason=reason, ticket=ticket, expires=expires, model=model,
                       version=version, role=sig.role, signed_at=sig.signed_at)
        fingerprint = verifier.verify(data, sig.armored, sig.signer)
        if fingerprint is None:
            result.problems.append(
                f"{sig.pointer}: the signature by {sig.signer} does not verify for "
                f"{model} {version} (signed for another model version, rule, reason or "
                "expiry, or by a key not in the trusted allowed_signers)")
            continue
        result.verified.append(Verified(sig.role, sig.signer, fingerprint, sig.signed_at))
    return result


def sign_command(data_file: str, key: str = "~/.ssh/id_ed25519") -> str:
    """The ssh-keygen line that signs a payload file for a waiver."""
    return f"ssh-keygen -Y sign -f {key} -n {NAMESPACE} {data_file}"
