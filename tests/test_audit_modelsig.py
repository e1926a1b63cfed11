"""OpenSSF model signatures: models signed here with the real model-signing library
(key-based and certificate-based), verified by gate, judged by the library's rules
GATE-MSIG-001..003 on both engines."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from audit_support import ENV
from click.testing import CliRunner

from gate.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PACKAGES = "[model_card, artifacts, lineage, evaluation, validation, rollout, signature]"
ENGINES = ["opa-go", "regorus"]

pytest.importorskip("model_signing")


def _ec_key(folder: Path, name: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (folder / f"{name}.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / f"{name}.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def _cert(folder: Path, name: str, subject: str, key: Any, issuer_key: Any,
          issuer: str, *, ca: bool) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer),
                                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca,
                                         crl_sign=ca, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(issuer_key, hashes.SHA256()))
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def signed_bundle(tmp_path: Path, method: str = "key") -> Path:
    """The passing example, its artifacts in a folder signed with model-signing."""
    import model_signing

    root = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "passing", root)
    keys = root / "keys"
    keys.mkdir()
    signer = _ec_key(keys, "signer")
    if method == "key":
        model_signing.signing.Config().use_elliptic_key_signer(  # type: ignore[no-untyped-call]
            private_key=keys / "signer.pem").sign(root / "artifacts", root / "model.sig")
        spec = "{file: model.sig, root: artifacts, key: keys/signer.pub}"
    else:
        ca_key = _ec_key(keys, "ca")
        _cert(keys, "ca", "Example Root CA", ca_key, ca_key, "Example Root CA", ca=True)
        _cert(keys, "signer", "ml-release", signer, ca_key, "Example Root CA", ca=False)
        model_signing.signing.Config().use_certificate_signer(  # type: ignore[no-untyped-call]
            private_key=keys / "signer.pem", signing_certificate=keys / "signer.crt",
            certificate_chain=[keys / "ca.crt"]).sign(root / "artifacts", root / "model.sig")
        spec = "{file: model.sig, root: artifacts, certificate_chain: [keys/ca.crt]}"
    text = (root / "gate.yaml").read_text()
    text = text.replace("  artifacts: [artifacts/model.safetensors]\n",
                        f"  artifacts: [artifacts/]\n  signature: {spec}\n")
    (root / "gate.yaml").write_text(text.replace("library: true", f"library: {PACKAGES}"))
    return root


def check(root: Path, engine: str, *args: str) -> tuple[int, dict[str, Any], str]:
    out = root.parent / f"out-{engine}"
    result = CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"), "-o",
                                      str(out), "--engine", engine, *args], env=ENV)
    path = out / "decision.json"
    return result.exit_code, json.loads(path.read_text()) if path.exists() else {}, \
        result.output


def signature_input(root: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["input", "--config", str(root / "gate.yaml")], env=ENV)
    assert result.exit_code == 0, result.output
    sig: dict[str, Any] = json.loads(result.output)["model"]["signature"]
    return sig


def msig(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["id"], f["effect"]) for f in doc["findings"]
                  if f["id"].startswith("GATE-MSIG"))


@pytest.mark.parametrize("method", ["key", "certificate"])
def test_a_signed_model_verifies_and_passes(tmp_path: Path, method: str) -> None:
    root = signed_bundle(tmp_path, method)
    sig = signature_input(root)
    assert sig["present"] and sig["verified"], sig
    assert sig["method"] == method and sig["error"] is None
    assert sig["covered"] == ["artifacts/model.safetensors"] and sig["uncovered"] == []
    if method == "key":
        assert sig["signer"].startswith("key sha256:") and len(sig["signer"]) == 75
    else:
        assert sig["signer"] == "O=Example,CN=ml-release"
    for engine in ENGINES:
        code, doc, out = check(root, engine)
        assert code == 0, out
        assert msig(doc) == []
        roles = {i["path"]: i["role"] for i in doc["inputs"]}
        assert roles["model.sig"] == "model signature"


def test_one_byte_changed_after_signing_is_a_bad_signature(tmp_path: Path) -> None:
    root = signed_bundle(tmp_path)
    model = root / "artifacts" / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    sig = signature_input(root)
    assert sig["present"] and not sig["verified"]
    assert "Hash mismatch for 'model.safetensors'" in sig["error"]
    for engine in ENGINES:
        code, doc, _ = check(root, engine)
        assert code == 1
        assert ("GATE-MSIG-002", "fail") in msig(doc)
        assert all(i != "GATE-MSIG-003" for i, _ in msig(doc))


def test_a_file_added_after_signing_is_not_covered(tmp_path: Path) -> None:
    root = signed_bundle(tmp_path)
    (root / "artifacts" / "tokenizer.json").write_text('{"added": "after signing"}\n')
    sig = signature_input(root)
    assert sig["verified"]  # what was signed is intact
    assert sig["uncovered"] == ["artifacts/tokenizer.json"]
    for engine in ENGINES:
        code, doc, _ = check(root, engine)
        assert code == 1
        assert msig(doc) == [("GATE-MSIG-003", "fail")]
        (hit,) = [f for f in doc["findings"] if f["id"] == "GATE-MSIG-003"]
        assert hit["message"].startswith("artifacts/tokenizer.json is not covered")


def test_another_key_or_ca_does_not_verify(tmp_path: Path) -> None:
    root = signed_bundle(tmp_path)
    _ec_key(root / "keys", "stranger")
    text = (root / "gate.yaml").read_text().replace("keys/signer.pub", "keys/stranger.pub")
    (root / "gate.yaml").write_text(text)
    sig = signature_input(root)
    assert not sig["verified"] and "Key mismatch" in sig["error"]
    other = signed_bundle(tmp_path / "c", "certificate")
    stranger = _ec_key(other / "keys", "other-ca")
    _cert(other / "keys", "other-ca", "Other CA", stranger, stranger, "Other CA", ca=True)
    (other / "gate.yaml").write_text((other / "gate.yaml").read_text().replace(
        "keys/ca.crt", "keys/other-ca.crt"))
    sig = signature_input(other)
    assert not sig["verified"] and sig["error"]


def test_an_untrusted_signer_is_refused(tmp_path: Path) -> None:
    root = signed_bundle(tmp_path, "certificate")
    (root / "policies" / "data" / "signers.yaml").write_text(
        "gate:\n  signature:\n    trusted_signers: ['O=Example,CN=someone-else']\n")
    for engine in ENGINES:
        code, doc, _ = check(root, engine)
        assert code == 1 and msig(doc) == [("GATE-MSIG-002", "fail")]
    (root / "policies" / "data" / "signers.yaml").write_text(
        "gate:\n  signature:\n    trusted_signers: ['O=Example,CN=ml-release']\n")
    code, doc, _ = check(root, "regorus")
    assert code == 0 and msig(doc) == []


def test_an_unsigned_model_is_advisory_by_default(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "passing", root)
    text = (root / "gate.yaml").read_text().replace("library: true", f"library: {PACKAGES}")
    (root / "gate.yaml").write_text(text)
    for engine in ENGINES:
        code, doc, _ = check(root, engine)
        assert code == 0 and doc["decision"] == "warn"
        assert msig(doc) == [("GATE-MSIG-001", "warn")]
    # gate.yaml may raise it: signed models required.
    (root / "gate.yaml").write_text(text + "enforcement: {GATE-MSIG-001: soft-mandatory}\n")
    code, doc, _ = check(root, "regorus")
    assert code == 1 and msig(doc) == [("GATE-MSIG-001", "fail")]


def test_library_true_leaves_the_opt_in_signature_package_out(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "passing", root)
    code, doc, _ = check(root, "regorus")
    assert code == 0 and not any(r["id"].startswith("GATE-MSIG") for r in doc["rules"])


@pytest.mark.parametrize(("edit", "fragment"), [
    (("model.sig", "missing.sig"), "model signature: file not found"),
    (("keys/signer.pub", "keys/none.pub"), "model signing key: file not found"),
    (("root: artifacts,", "root: nowhere,"), "signed model: file not found"),
])
def test_a_missing_signature_file_is_exit_2(tmp_path: Path, edit: tuple[str, str],
                                            fragment: str) -> None:
    root = signed_bundle(tmp_path)
    (root / "gate.yaml").write_text((root / "gate.yaml").read_text().replace(*edit))
    code, doc, out = check(root, "regorus")
    assert code == 2 and fragment in out and "Traceback" not in out
    assert doc["decision"] == "error"


def test_a_damaged_signature_file_is_exit_2(tmp_path: Path) -> None:
    root = signed_bundle(tmp_path)
    (root / "model.sig").write_text("not json")
    code, _, out = check(root, "regorus")
    assert code == 2 and "not a model-signing signature" in out


def test_a_signature_path_that_is_a_folder_names_the_place_in_gate_yaml(tmp_path: Path) -> None:
    root = signed_bundle(tmp_path)
    (root / "model.sig").unlink()
    (root / "model.sig").mkdir()
    code, doc, out = check(root, "regorus")
    assert code == 2 and doc["decision"] == "error"
    assert doc["error"]["path"] == "gate.yaml"
    assert doc["error"]["pointer"] == "$.model.signature.file"
    assert "model signature: model.sig is not a file" in out
