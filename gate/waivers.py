"""Governance: enforcement levels (after Sentinel) and signed-off waivers (exceptions.yaml).

Order matters and is fixed here: the manifest first *raises* enforcement
levels, then waivers apply, so a rule raised to hard-mandatory refuses its
waivers. Everything but loading the file is pure; ``today`` is a parameter so
tests freeze the date.

* ``advisory`` is reported and never blocks; ``soft-mandatory`` blocks unless
  waived; ``hard-mandatory`` blocks and cannot be waived (the waiver is kept on
  the finding as refused, so reviewers see that it was tried).
* A waiver names a rule (finding id or ``<package>.<rule>``, globs allowed), a
  reason and an approver; ``expires`` is the last UTC day it applies
  (inclusive). An expired waiver no longer waives and yields a warning naming
  it; a waiver that matches nothing is reported as a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from gate.decision import ENFORCEMENTS, Finding, Waiver
from gate.errors import ManifestError, json_path
from gate.governance.signoff import (
    Review,
    Signature,
    SignoffRules,
    SshVerifier,
    Verifier,
    parse_rules,
    parse_signatures,
    review,
)
from gate.manifest import Manifest
from gate.schemas import validate
from gate.visible import text_problem

EXPIRED_ID = "gate.waiver.expired"
SIGNOFF_MISSING_ID = "GATE-SIGNOFF-001"
UNVERIFIED_ID = "GATE-SIGNOFF-000"
_GLOB = set("*?[")


@dataclass(frozen=True)
class WaiverEntry:
    """One entry of exceptions.yaml."""

    rule: str
    reason: str
    approved_by: str
    expires: date | None
    model: str = "*"
    version: str = "*"
    index: int = 0
    file: str = "exceptions.yaml"
    ticket: str | None = None
    signatures: tuple[Signature, ...] = ()
    within: str = "$.exceptions"  # where the list stands: "$" in a file that is only a list

    @property
    def pointer(self) -> str:
        return f"{self.within}[{self.index}]"

    def matches(self, finding: Finding, model: str, version: str) -> bool:
        """Whether this waiver is about ``finding`` of this model version."""
        if not (fnmatchcase(model, self.model) and fnmatchcase(version, self.version)):
            return False
        return fnmatchcase(finding.id, self.rule) or fnmatchcase(finding.rule, self.rule)

    def waiver(self, signed: Review | None = None) -> Waiver:
        return Waiver(reason=self.reason, approved_by=self.approved_by,
                      expires=self.expires.isoformat() if self.expires else None,
                      source="exceptions", rule=self.rule, ticket=self.ticket,
                      signoff=tuple(v.to_json() for v in (signed.verified if signed else ())))


def parse_waivers(doc: Any, shown: str) -> list[WaiverEntry]:
    """Validated entries of an exceptions document (a list, or ``{exceptions: [...]}``)."""
    if doc is None:
        return []
    validate(doc, "exceptions", path=shown, what="the waivers file")
    entries = doc["exceptions"] if isinstance(doc, dict) else doc
    within = "$.exceptions" if isinstance(doc, dict) else "$"
    out = []
    for i, raw in enumerate(entries):
        expires = None
        if "expires" in raw:
            try:
                expires = date.fromisoformat(raw["expires"])
            except ValueError as e:
                raise ManifestError(
                    f"'{raw['expires']}' is not a calendar date", path=shown,
                    pointer=f"{within}[{i}].expires", hint="write the date as YYYY-MM-DD",
                ) from e
        for key in ("reason", "approved_by"):
            problem = text_problem(raw[key], identity=key == "approved_by")
            if problem is not None:
                raise ManifestError(
                    f"the waiver's {key} {problem}", path=shown,
                    pointer=f"{within}[{i}].{key}",
                    hint="write the reason and the approver in plain visible text; a waiver "
                    "nobody can read waives nothing",
                )
        scope = raw.get("scope") or {}
        out.append(WaiverEntry(
            rule=raw["rule"], reason=raw["reason"].strip(), approved_by=raw["approved_by"].strip(),
            expires=expires, model=scope.get("model", "*"), version=scope.get("version", "*"),
            index=i, file=shown, ticket=raw.get("ticket"), within=within,
            signatures=tuple(parse_signatures(raw.get("signatures", []), shown,
                                              f"{within}[{i}]")),
        ))
    return out


def load_waivers(manifest: Manifest) -> list[WaiverEntry]:
    """The manifest's waivers file, if it names one."""
    if not manifest.exceptions:
        return []
    path = manifest.files.resolve(manifest.exceptions, "waivers")
    return parse_waivers(manifest.files.load_path(path, "waivers"), manifest.files.display(path))


@dataclass(frozen=True)
class Signoff:
    """The trusted sign-off rules and the verifier of their signatures."""

    rules: SignoffRules
    verifier: Verifier


def load_signoff(manifest: Manifest) -> Signoff | None:
    """The manifest's sign-off rules (``signoff:``), if it names them."""
    named = manifest.raw.get("signoff")
    if not named:
        return None
    path = manifest.files.resolve(str(named), "sign-off rules")
    doc = manifest.files.load_path(path, "sign-off rules")
    rules = parse_rules(doc, manifest.files.display(path), path.parent)
    return Signoff(rules, SshVerifier(rules.allowed_signers))


def _rank(level: str) -> int:
    return ENFORCEMENTS.index(level)


def apply_enforcement(findings: Sequence[Finding], overrides: Mapping[str, str],
                      manifest_name: str = "gate.yaml") -> list[Finding]:
    """Raise enforcement levels as the manifest asks; never lower one.

    An override naming one rule exactly that would lower it is an error; a glob
    (``"*": soft-mandatory``) only raises the rules below the level it names.
    """
    out = []
    for f in findings:
        level = f.enforcement
        for pattern, wanted in overrides.items():
            if not (fnmatchcase(f.id, pattern) or fnmatchcase(f.rule, pattern)):
                continue
            if _rank(wanted) < _rank(f.enforcement) and not (_GLOB & set(pattern)):
                raise ManifestError(
                    f"enforcement: '{pattern}' would lower {f.id} from {f.enforcement} to "
                    f"{wanted}; the manifest may only raise a rule's level",
                    path=manifest_name, pointer=json_path(["enforcement", pattern]),
                    hint="remove the entry, or waive the finding in the exceptions file "
                    "with a reason and an approver",
                )
            if _rank(wanted) > _rank(level):
                level = wanted
        out.append(replace(f, enforcement=level) if level != f.enforcement else f)
    return out


def apply_waivers(
    findings: Sequence[Finding],
    entries: Sequence[WaiverEntry],
    *,
    model: str,
    version: str,
    today: date,
    signoff: Signoff | None = None,
) -> tuple[list[Finding], list[str]]:
    """Waived findings, plus a warning per expired waiver that matched; and notes.

    With sign-off rules, a waiver applies only when valid signatures from every
    role the rules require for that finding are on it; a waiver short of them
    leaves the finding failing and adds GATE-SIGNOFF-001 naming the roles.
    Without rules, waivers apply on their ``approved_by`` text, and a warning
    says the approvals were not verified.
    Notes name waivers that matched no finding, so stale entries get removed,
    and every signature that did not count, with why.
    """
    out: list[Finding] = []
    used: set[int] = set()
    expired_hits: dict[int, list[Finding]] = {}
    reviews: dict[int, Review] = {}
    short: dict[int, dict[str, list[str]]] = {}
    unverified: list[WaiverEntry] = []
    for f in findings:
        result = f
        for entry in entries:
            if not entry.matches(f, model, version):
                continue
            if entry.expires is not None and today > entry.expires:
                expired_hits.setdefault(entry.index, []).append(f)
                continue
            used.add(entry.index)
            signed = None
            if signoff is not None:
                signed = reviews.get(entry.index)
                if signed is None:
                    signed = reviews[entry.index] = _review(entry, signoff, model, version,
                                                            today)
                missing = signed.missing(signoff.rules, f)
                if missing:
                    short.setdefault(entry.index, {})[f.id] = list(missing)
                    break
            if f.waiver is None and f.waiver_refused is None:
                result = f.waived(entry.waiver(signed))
                if signoff is None and result.waiver is not None and entry not in unverified:
                    unverified.append(entry)
            break
        out.append(result)
    out += _expired(entries, expired_hits, used)
    by_index = {e.index: e for e in entries}
    out += [_short_of_signoff(by_index[i], needs) for i, needs in short.items()]
    if unverified:
        out.append(_unverified(unverified))
    notes = [
        f"{e.file} {e.pointer}: the waiver for '{e.rule}' matched no finding; remove it "
        "if it is no longer needed"
        for e in entries if e.index not in used
    ]
    notes += [f"{by_index[i].file} {p}" for i, r in sorted(reviews.items()) for p in r.problems]
    return out, notes


def _expired(entries: Sequence[WaiverEntry], hits_by_index: Mapping[int, list[Finding]],
             used: set[int]) -> list[Finding]:
    """A warning per expired waiver that still matched a finding (and nothing else did)."""
    out = []
    for entry in entries:
        hits = hits_by_index.get(entry.index)
        if not hits or entry.index in used:
            continue
        used.add(entry.index)
        out.append(Finding(
            id=EXPIRED_ID, kind="warning", rule=EXPIRED_ID, severity="medium",
            title="Waiver expired",
            message=(f"the waiver for '{entry.rule}' approved by {entry.approved_by} expired on "
                     f"{entry.expires}; it no longer waives {len(hits)} finding(s): "
                     f"{', '.join(sorted({h.id for h in hits}))}"),
            remediation="fix the findings, or renew the waiver with a new expiry and approval",
            file=entry.file, details={"pointer": entry.pointer, "rule": entry.rule},
        ))
    return out


def _short_of_signoff(entry: WaiverEntry, needs: Mapping[str, list[str]]) -> Finding:
    roles = sorted({r for rs in needs.values() for r in rs})
    return Finding(
        id=SIGNOFF_MISSING_ID, kind="warning", rule="gate.signoff.missing",
        severity="high", title="Waiver not signed off",
        message=(f"the waiver for '{entry.rule}' does not apply to "
                 f"{', '.join(sorted(needs))}: it lacks a valid signature from "
                 f"{', '.join(roles)}"),
        remediation=("each missing signer runs `gate signoff --rule "
                     f"'{entry.rule}' --role ROLE --signer THEM --key KEY` and adds the "
                     "printed entry under the waiver's signatures"),
        file=entry.file,
        details={"pointer": entry.pointer, "rule": entry.rule, "missing_roles": roles,
                 "findings": sorted(needs)},
    )


def _unverified(entries: Sequence[WaiverEntry]) -> Finding:
    return Finding(
        id=UNVERIFIED_ID, kind="warning", rule="gate.signoff.unverified",
        severity="medium", title="Approvals are not verified",
        message=(f"{len(entries)} waiver(s) applied on their approved_by text alone "
                 f"({', '.join(e.rule for e in entries)}): anyone who can edit the "
                 "exceptions file can type an approver"),
        remediation=("add sign-off rules (gate.yaml `signoff:`, read from a trusted "
                     "source) so waivers need SSH signatures from the roles they name"),
        file=entries[0].file,
    )


def _review(entry: WaiverEntry, signoff: Signoff, model: str, version: str,
            today: date) -> Review:
    return review(signoff.rules, signoff.verifier, entry.signatures, rule=entry.rule,
                  reason=entry.reason, ticket=entry.ticket,
                  expires=entry.expires.isoformat() if entry.expires else None,
                  model=model, version=version, today=today)
