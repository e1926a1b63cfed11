"""Pins for the audit trail and governance: error paths the feature tests leave out, the
frozen sign-off payload, and git asked once for the work tree's top."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from audit_support import ENV, fill
from click.testing import CliRunner
from test_audit_attest import attested, keys
from test_governance import git

from gate.audit import AuditError
from gate.audit.hooks import publish_head
from gate.audit.store import open_ledger
from gate.cli import cli
from gate.errors import ManifestError, UsageError
from gate.governance import trusted
from gate.governance.signoff import (
    Review,
    Signature,
    SignoffRules,
    parse_rules,
    payload,
    review,
)
from gate.manifest import load_manifest

__all__ = ["keys"]  # the fixture, from test_audit_attest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NEEDS_SSH = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=ENV)
    return result.exit_code, result.output


# --- sign-off ---------------------------------------------------------------------------


def test_the_signed_payload_is_frozen_canonical_json() -> None:
    """Signatures already made are over these exact bytes: the layout never changes."""
    data = payload(rule="R-1", reason="Zürich", ticket=None, expires="2027-01-31", model="m",
                   version="1.0", role="security", signed_at="2026-05-30")
    assert data == ('{"expires":"2027-01-31","kind":"gate.waiver-signoff","model":"m",'
                    '"model_version":"1.0","reason":"Zürich","role":"security","rule":"R-1",'
                    '"signed_at":"2026-05-30","ticket":null,"version":1}\n').encode()


class _Verifier:
    """Accepts the signature text "good"; records whom it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def verify(self, data: bytes, armored: str, principal: str) -> str | None:
        self.asked.append(principal)
        return "SHA256:stub" if armored == "good" else None


def test_review_says_why_each_signature_does_not_count() -> None:
    alice = ("alice@x",)
    rules = SignoffRules(roles={"security": alice, "compliance": alice, "risk": alice,
                                "ops": alice, "product": ("pat@x",)},
                         require=(), default=("security",), allowed_signers=Path("signers"))
    sigs = [("security", "alice@x", "2026-05-30", "good"),
            ("security", "alice@x", "2026-05-30", "good"),  # the same role and signer again
            ("security", "pat@x", "2026-05-30", "good"),  # pat is product, not security
            ("compliance", "alice@x", "2026-06-02", "good"),  # after today
            ("risk", "alice@x", "2026-05-31", "good"),  # after the waiver's last day
            ("ops", "alice@x", "2026-05-30", "bad")]  # does not verify
    signatures = [Signature(role, who, day, text, f"$[0].signatures[{n}]")
                  for n, (role, who, day, text) in enumerate(sigs)]
    verifier = _Verifier()
    result = review(rules, verifier, signatures, rule="R-1", reason="r", ticket=None,
                    expires="2026-05-30", model="m", version="1.0",
                    today=date(2026, 6, 1))
    assert [(v.role, v.signer, v.fingerprint) for v in result.verified] == [
        ("security", "alice@x", "SHA256:stub")]
    assert [p.split(": ", 1)[1] for p in result.problems] == [
        "a second signature by alice@x as security counts once",
        "pat@x does not hold the role 'security' in signoff.yaml",
        "signed_at 2026-06-02 is in the future",
        "signed after the waiver expired",
        "the signature by alice@x does not verify for m 1.0 (signed for another model "
        "version, rule, reason or expiry, or by a key not in the trusted allowed_signers)"]
    assert verifier.asked == ["alice@x", "alice@x"]  # refused before ssh-keygen is run
    finding = SimpleNamespace(id="X-1", rule="pkg.deny", severity="high",
                              enforcement="soft-mandatory")
    assert result.missing(rules, finding) == ()
    anyone = SignoffRules(roles=rules.roles, require=(), default=(),
                          allowed_signers=Path("signers"))
    assert Review().missing(anyone, finding) == ("any role",)


@pytest.mark.parametrize(("change", "pointer"), [
    ({"require": [{"when": {"severity": "high"}, "roles": ["nobody"]}]}, "$.require[0].roles"),
    ({"default": ["nobody"]}, "$.default"),
    ({"allowed_signers": "../outside"}, "$.allowed_signers"),
    ({"allowed_signers": "none"}, "$.allowed_signers"),
])
def test_sign_off_rules_naming_unknown_roles_or_files_are_refused(
        tmp_path: Path, change: dict[str, Any], pointer: str) -> None:
    folder = tmp_path / "governance"
    folder.mkdir()
    (folder / "allowed_signers").write_text("")
    (tmp_path / "outside").write_text("")
    doc = {"version": 1, "allowed_signers": "allowed_signers",
           "roles": {"security": ["a@x"]}, **change}
    with pytest.raises(ManifestError) as info:
        parse_rules(doc, "signoff.yaml", folder)
    assert info.value.pointer == pointer and info.value.path == "signoff.yaml"


def test_gate_signoff_refuses_what_it_cannot_sign(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES / "passing", tmp_path / "passing")
    shutil.copytree(EXAMPLES / "failing", tmp_path / "failing")
    who = ["--role", "security", "--signer", "alice@example.com"]
    monkeypatch.chdir(tmp_path / "passing")
    code, out = run("signoff", "--rule", "GATE-EVAL-003", *who)
    assert code == 2 and "gate.yaml names no exceptions file" in out
    monkeypatch.chdir(tmp_path / "failing")
    code, out = run("signoff", "--rule", "NOPE-1", *who)
    assert code == 2 and "no waiver of 'NOPE-1' in exceptions.yaml" in out
    if shutil.which("ssh-keygen") is not None:
        (tmp_path / "junk.key").write_text("not a key\n")
        code, out = run("signoff", "--rule", "GATE-EVAL-003", *who, "--key",
                        str(tmp_path / "junk.key"))
        assert code == 2 and "ssh-keygen could not sign" in out


# --- trusted sources --------------------------------------------------------------------


def test_a_trusted_ref_asks_git_for_the_top_once_and_keeps_a_dotted_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    bundle = repo / ".models" / "fraud"  # `.strip(".")` once made this models/fraud
    shutil.copytree(EXAMPLES / "passing", bundle)
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    trusted._toplevel.cache_clear()
    asked: list[tuple[str, ...]] = []
    real = trusted._git

    def spy(where: Path, *args: str, binary: bool = False) -> Any:
        asked.append(args)
        return real(where, *args, binary=binary)

    monkeypatch.setattr(trusted, "_git", spy)
    manifest = load_manifest(bundle / "gate.yaml")
    gov = trusted.resolve_governance(manifest, trusted.GitRef(manifest.root, "main"))
    try:
        assert not gov.new_model and gov.changed == [] and gov.findings == []
    finally:
        gov.close()
    assert trusted.bundle_path(manifest) == ".models/fraud"
    assert asked.count(("rev-parse", "--show-toplevel")) == 1


def test_a_pinned_bundle_that_cannot_be_read_is_refused_by_name(tmp_path: Path) -> None:
    fifo = tmp_path / "policies.tar"
    os.mkfifo(fifo)  # read as a file, it would block the gate forever
    with pytest.raises(UsageError, match="cannot read it: it is a named pipe"):
        trusted.PinnedTree(fifo, "0" * 64)
    with pytest.raises(UsageError, match="no such file or folder"):
        trusted.PinnedTree(tmp_path / "none.tar", "0" * 64)
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar archive")
    with pytest.raises(ManifestError, match="cannot unpack"):
        trusted.PinnedTree(junk, hashlib.sha256(b"not a tar archive").hexdigest())
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(ManifestError, match="symbolic link"):
        trusted.PinnedTree(folder, "0" * 64)


# --- the ledger -------------------------------------------------------------------------


def test_ledger_urls_gate_cannot_open_name_the_problem(tmp_path: Path) -> None:
    for url, why in (("  ", "the ledger URL is empty"),
                     ("sqlite://ledger.db", "is not a SQLite URL"),
                     ("postgresql://gate:pw@h/db?table=Bad-Name", "is not a table name")):
        with pytest.raises(AuditError, match=why) as info:
            open_ledger(url, cwd=tmp_path)
        assert ":pw@" not in info.value.render()


def test_audit_commands_refuse_bad_options_and_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    fill(url, 3).close()
    code, out = run("audit", "export", "--ledger", url, "-o", str(tmp_path))
    assert code == 2 and "cannot write the export" in out
    code, out = run("audit", "verify", "--ledger", url, "--expect-head", "1:" + "0" * 64,
                    "--expect-head-from", "decision.json")
    assert code == 2 and "not both" in out
    decision = tmp_path / "decision.json"
    decision.write_text(json.dumps({"decision": "pass"}))
    code, out = run("audit", "verify", "--ledger", url, "--expect-head-from", str(decision))
    assert code == 2 and "the decision has no ledger.head" in out
    code, out = run("audit", "log", "--ledger", url, "--since", "last tuesday")
    assert code == 2 and "--since 'last tuesday' is not an ISO-8601 time" in out
    code, out = run("audit", "show", "abc", "--ledger", url)
    assert code == 2 and "has no record 'abc'" in out


def test_log_until_a_bare_day_covers_the_whole_day(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    fill(url, 3).close()  # records at 2026-12-01T00:00:0N UTC
    code, out = run("audit", "log", "--ledger", url, "--until", "2026-12-01")
    assert code == 0 and len(out.splitlines()) == 3
    code, out = run("audit", "log", "--ledger", url, "--until", "2026-11-30")
    assert code == 0 and "no records match" in out


def test_a_head_that_cannot_be_published_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="cannot publish the ledger head") as info:
        publish_head("1:" + "0" * 64, "sqlite:///l.db", {"GITHUB_OUTPUT": str(tmp_path)})
    assert info.value.path == str(tmp_path)


# --- attestations -----------------------------------------------------------------------


@NEEDS_SSH
def test_an_edited_decision_or_no_artifact_is_refused(tmp_path: Path, keys: Path) -> None:
    _, out = attested(tmp_path, keys)
    att = str(out / "decision.intoto.json")
    doc = json.loads((out / "decision.json").read_text())
    doc["decision"] = "pass"
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    code, text = run("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                     "--decision", str(tmp_path / "edited.json"))
    assert code == 2 and "is not the decision it attests" in text
    code, text = run("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                     "--decision", str(tmp_path / "none.json"))
    assert code == 2 and "cannot read the decision" in text
    (tmp_path / "empty").mkdir()
    code, text = run("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                     "--artifact", str(tmp_path / "empty"))
    assert code == 2 and "no artifacts were given to check" in text


# --- start-up ---------------------------------------------------------------------------


def test_a_plain_check_loads_no_signing_or_database_package(tmp_path: Path) -> None:
    """Auditing is opt-in: without --ledger or --attest-key none of its libraries load."""
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    code = (
        "import sys\n"
        "from gate.cli import cli\n"
        "try:\n"
        f"    cli.main(['check', '-c', {str(bundle / 'gate.yaml')!r}, '-o', "
        f"{str(tmp_path / 'out')!r}], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'cryptography', 'securesystemslib', 'in_toto_attestation', 'google',\n"
        "         'psycopg2', 'model_signing', 'sqlite3'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, **ENV, "GATE_LEDGER": "",
                                           "GATE_ATTEST_KEY": ""})
    assert proc.stdout.strip().splitlines()[-1] == "[]"
