"""Sign-off that is proven, not typed: waivers count only with valid SSH signatures.

Keys are made and signatures written by the real OpenSSH (`ssh-keygen -Y sign`),
and gate verifies them with `ssh-keygen -Y verify` against the trusted
allowed_signers file. The bundle is the failing example, whose waiver of
GATE-EVAL-003 (severity high) the sign-off rules give to the security role.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.governance.signoff import NAMESPACE, payload

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}
PEOPLE = {"alice": "security", "pat": "product", "chris": "compliance", "olive": "policy-owners"}
SIGNOFF = {
    "version": 1,
    "allowed_signers": "allowed_signers",
    "roles": {role: [f"{name}@example.com"] for name, role in PEOPLE.items()},
    "require": [
        {"when": {"severity": "critical"}, "roles": ["product", "security", "compliance"]},
        {"when": {"severity": "high"}, "roles": ["security"]},
        {"when": {"rule": "GATE-GOV-*"}, "roles": ["policy-owners"]},
    ],
    "default": ["security"],
}
RULE = "GATE-EVAL-003"
TODAY = "2026-06-01"  # the failing example's waiver expires on 2027-03-31

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH")


def make_keys(folder: Path) -> Path:
    """An Ed25519 key pair per person of PEOPLE in ``folder`` (``alice``, ``alice.pub``...)."""
    for name in PEOPLE:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name,
                        "-f", str(folder / name)], check=True)
    return folder


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))


def signers_file(keys: Path, people: list[str] | None = None) -> str:
    lines = [f"{name}@example.com {(keys / f'{name}.pub').read_text().strip()}"
             for name in (people or list(PEOPLE))]
    return "\n".join(lines) + "\n"


def signoff_bundle(root: Path, keys: Path) -> Path:
    """The failing example at ``root``, with sign-off rules (SIGNOFF) and every key of
    ``keys`` in allowed_signers under governance/."""
    shutil.copytree(EXAMPLES / "failing", root)
    manifest = root / "gate.yaml"
    manifest.write_text(manifest.read_text() + "signoff: governance/signoff.yaml\n")
    (root / "governance").mkdir()
    (root / "governance" / "signoff.yaml").write_text(yaml.safe_dump(SIGNOFF))
    (root / "governance" / "allowed_signers").write_text(signers_file(keys))
    return root


@pytest.fixture
def bundle(tmp_path: Path, keys: Path) -> Path:
    return signoff_bundle(tmp_path / "bundle", keys)


def waiver(root: Path) -> dict[str, Any]:
    doc = yaml.safe_load((root / "exceptions.yaml").read_text())
    entry: dict[str, Any] = doc["exceptions"][0]
    if entry.get("expires") is not None:  # PyYAML reads YAML 1.1 dates; gate keeps text
        entry["expires"] = str(entry["expires"])
    return entry


def sign(keys: Path, name: str, data: bytes, tmp: Path) -> str:
    file = tmp / f"payload-{name}.json"
    file.write_bytes(data)
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(keys / name), "-n", NAMESPACE,
                    str(file)], check=True, capture_output=True)
    return (tmp / f"payload-{name}.json.sig").read_text()


def add_signature(root: Path, keys: Path, name: str, *, role: str | None = None,
                  version: str = "2.5.0", signed_at: str = "2026-05-30",
                  signer: str | None = None) -> None:
    """``name`` signs the waiver (for ``version``) and the signature is added to it."""
    entry = waiver(root)
    role = role or PEOPLE[name]
    data = payload(rule=entry["rule"], reason=entry["reason"], ticket=entry.get("ticket"),
                   expires=entry.get("expires"), model="fraud-detector", version=version,
                   role=role, signed_at=signed_at)
    armored = sign(keys, name, data, root.parent)
    doc = yaml.safe_load((root / "exceptions.yaml").read_text())
    doc["exceptions"][0].setdefault("signatures", []).append(
        {"role": role, "signer": signer or f"{name}@example.com", "signed_at": signed_at,
         "signature": armored})
    (root / "exceptions.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def check(root: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    out = root.parent / "out"
    result = CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"),
                                      "--output-dir", str(out), *args], env=ENV)
    doc = json.loads((out / "decision.json").read_text()) if (out / "decision.json").exists() \
        else {}
    return result, doc


def finding(doc: dict[str, Any], fid: str) -> dict[str, Any]:
    (found,) = [f for f in doc["findings"] if f["id"] == fid]
    return dict(found)


def freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as real

    import gate.pipeline

    class Frozen(real.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls.fromisoformat(f"{TODAY}T12:00:00+00:00")

    monkeypatch.setattr(gate.pipeline, "datetime", Frozen)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


def test_a_typed_approver_waives_nothing(bundle: Path) -> None:
    result, doc = check(bundle)
    assert result.exit_code == 1
    assert finding(doc, RULE)["effect"] == "fail"
    missing = finding(doc, "GATE-SIGNOFF-001")
    assert missing["details"]["missing_roles"] == ["security"]
    assert "gate signoff --rule 'GATE-EVAL-003' --role ROLE" in missing["remediation"]


def test_the_required_role_waives_exactly_the_signed_finding(bundle: Path, keys: Path) -> None:
    add_signature(bundle, keys, "alice")
    result, doc = check(bundle)
    waived = finding(doc, RULE)
    assert waived["effect"] == "waived"
    (signed,) = waived["waiver"]["signoff"]
    assert signed["role"] == "security" and signed["signer"] == "alice@example.com"
    assert signed["fingerprint"].startswith("SHA256:") and signed["signed_at"] == "2026-05-30"
    assert "GATE-SIGNOFF-001" not in [f["id"] for f in doc["findings"]]
    # Everything else still fails: the signature waives one rule, for this version.
    assert sorted(f["id"] for f in doc["findings"] if f["effect"] == "fail") == [
        "GATE-EVAL-006", "GATE-EVAL-006", "GATE-EVAL-009", "GATE-EVAL-010", "GATE-LIN-004"]
    assert result.exit_code == 1


@pytest.mark.parametrize(("how", "problem"), [
    ({"name": "pat", "role": "security"}, "does not hold the role 'security'"),
    ({"name": "pat"}, None),  # a valid product signature; the rule needs security
    ({"name": "alice", "version": "2.4.0"}, "does not verify for fraud-detector 2.5.0"),
    ({"name": "alice", "signed_at": "2027-04-02"}, "in the future"),
    ({"name": "alice", "signer": "pat@example.com"}, "does not hold the role"),
])
def test_a_signature_that_does_not_prove_the_role_waives_nothing(
    bundle: Path, keys: Path, how: dict[str, str], problem: str | None
) -> None:
    add_signature(bundle, keys, **how)
    result, doc = check(bundle)
    assert result.exit_code == 1
    assert finding(doc, RULE)["effect"] == "fail"
    assert finding(doc, "GATE-SIGNOFF-001")["details"]["missing_roles"] == ["security"]
    if problem:
        assert any(problem in n for n in doc["notes"]), doc["notes"]


def test_a_signature_made_after_the_waiver_expired_does_not_count(
    bundle: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.TODAY", "2027-03-20")
    doc = yaml.safe_load((bundle / "exceptions.yaml").read_text())
    doc["exceptions"][0]["expires"] = "2027-03-10"
    (bundle / "exceptions.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    add_signature(bundle, keys, "alice", signed_at="2027-03-12")
    _, result = check(bundle)
    # The waiver itself expired too: it no longer applies, with its own warning.
    assert finding(result, RULE)["effect"] == "fail"
    assert "gate.waiver.expired" in [f["id"] for f in result["findings"]]


def test_a_revoked_key_no_longer_verifies(bundle: Path, keys: Path) -> None:
    add_signature(bundle, keys, "alice")
    assert finding(check(bundle)[1], RULE)["effect"] == "waived"
    (bundle / "governance" / "allowed_signers").write_text(
        signers_file(keys, ["pat", "chris", "olive"]))
    _, doc = check(bundle)
    assert finding(doc, RULE)["effect"] == "fail"
    assert any("does not verify" in n for n in doc["notes"])


def test_a_duplicate_signature_counts_once(bundle: Path, keys: Path) -> None:
    """A rule that needs three roles: one person signing twice is not a quorum."""
    signoff = dict(SIGNOFF, require=[{"when": {"rule": RULE},
                                      "roles": ["product", "security", "compliance"]}])
    (bundle / "governance" / "signoff.yaml").write_text(yaml.safe_dump(signoff))
    add_signature(bundle, keys, "alice")
    add_signature(bundle, keys, "alice")
    add_signature(bundle, keys, "pat")
    _, doc = check(bundle)
    assert finding(doc, RULE)["effect"] == "fail"
    assert finding(doc, "GATE-SIGNOFF-001")["details"]["missing_roles"] == ["compliance"]
    assert any("counts once" in n for n in doc["notes"])
    add_signature(bundle, keys, "chris")
    _, doc = check(bundle)
    assert finding(doc, RULE)["effect"] == "waived"
    assert sorted(s["role"] for s in finding(doc, RULE)["waiver"]["signoff"]) == [
        "compliance", "product", "security"]


def test_a_malformed_signature_is_exit_2_naming_the_place(bundle: Path) -> None:
    doc = yaml.safe_load((bundle / "exceptions.yaml").read_text())
    doc["exceptions"][0]["signatures"] = [{"role": "security", "signer": "alice@example.com",
                                           "signed_at": "2026-05-30",
                                           "signature": "trust me, I am alice"}]
    (bundle / "exceptions.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    result, _ = check(bundle)
    assert result.exit_code == 2
    assert "exceptions.yaml" in result.stderr and "$.exceptions[0].signatures[0]" in result.stderr


@pytest.mark.parametrize(("file", "text", "where"), [
    ("governance/allowed_signers", "alice@example.com not-a-key\n", "allowed_signers:1"),
    ("governance/signoff.yaml", "version: 1\nroles: {}\n", "signoff.yaml"),
])
def test_malformed_trusted_files_are_exit_2(bundle: Path, file: str, text: str,
                                            where: str) -> None:
    (bundle / file).write_text(text)
    result, _ = check(bundle)
    assert result.exit_code == 2 and where in result.stderr


def test_missing_signoff_rules_file_is_exit_2(bundle: Path) -> None:
    (bundle / "governance" / "signoff.yaml").unlink()
    result, _ = check(bundle)
    assert result.exit_code == 2 and "signoff.yaml" in result.stderr


def test_without_signoff_rules_waivers_apply_with_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "failing", root)
    _, doc = check(root)
    assert finding(doc, RULE)["effect"] == "waived"
    unverified = finding(doc, "GATE-SIGNOFF-000")
    assert unverified["effect"] == "warn" and RULE in unverified["message"]


def test_gate_signoff_prints_the_payload_and_signs_it(bundle: Path, keys: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(bundle)
    shown = CliRunner().invoke(cli, ["signoff", "--rule", RULE, "--role", "security",
                                     "--signer", "alice@example.com", "--date", "2026-05-30"])
    assert shown.exit_code == 0, shown.output
    entry = waiver(bundle)
    expected = payload(rule=RULE, reason=entry["reason"], ticket=None,
                       expires=entry["expires"], model="fraud-detector", version="2.5.0",
                       role="security", signed_at="2026-05-30").decode()
    assert expected in shown.output and f"-n {NAMESPACE}" in shown.output
    signed = CliRunner().invoke(cli, ["signoff", "--rule", RULE, "--role", "security",
                                      "--signer", "alice@example.com", "--date", "2026-05-30",
                                      "--key", str(keys / "alice")])
    assert signed.exit_code == 0, signed.output
    block = yaml.safe_load(signed.output.split("\n", 1)[1])
    doc = yaml.safe_load((bundle / "exceptions.yaml").read_text())
    doc["exceptions"][0]["signatures"] = block["signatures"]
    (bundle / "exceptions.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    _, decision = check(bundle)
    assert finding(decision, RULE)["effect"] == "waived"


def test_on_a_git_repository_only_the_trusted_quorum_waives(tmp_path: Path, keys: Path) -> None:
    """main holds the sign-off rules and a waiver signed by security; a change that types a
    new waiver with a grand approver, and rewrites the rules, is judged by main's."""
    repo = tmp_path / "repo"
    bundle_dir = signoff_bundle(repo / "models" / "fraud", keys)
    add_signature(bundle_dir, keys, "alice")  # the security role signs GATE-EVAL-003
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@x"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=repo, check=True)
    subprocess.run([*git, "checkout", "-q", "-b", "change"], cwd=repo, check=True)
    doc = yaml.safe_load((bundle_dir / "exceptions.yaml").read_text())
    doc["exceptions"].append({"rule": "GATE-EVAL-006", "reason": "trust me",
                              "approved_by": "head-of-risk@example.com"})
    (bundle_dir / "exceptions.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (bundle_dir / "governance" / "signoff.yaml").write_text(
        yaml.safe_dump({**SIGNOFF, "require": [], "default": []}))
    result, decision = check(bundle_dir, "--trusted-ref", "main")
    assert result.exit_code == 1
    assert finding(decision, RULE)["effect"] == "waived"  # main's quorum holds
    assert {f["effect"] for f in decision["findings"] if f["id"] == "GATE-EVAL-006"} == {"fail"}
    changed = finding(decision, "GATE-GOV-001")["details"]["changed"]
    assert "exceptions.yaml (modified)" in changed
    assert "governance/signoff.yaml (modified)" in changed
