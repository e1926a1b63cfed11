"""OpenSSF model signatures (the ``model-signing`` package) -> ``input.model.signature``.

gate.yaml names the signature and how to check it::

    model:
      artifacts: [artifacts/]
      signature:
        file: model.sig               # what `model_signing sign` wrote (a Sigstore bundle)
        root: artifacts               # the file or folder that was signed (default: the
                                      # only entry of model.artifacts)
        key: keys/model-signing.pub   # key-based: the signer's public key (PEM, EC P-256/384/521)
        # certificate_chain: [pki/ca.pem]   # certificate-based, instead of key

The signature is verified by ``model_signing.verifying.Config`` itself (the
DSSE signature, the key or the certificate chain, and every signed file's
digest against the file on disk). Files in ``root`` that the signature does
not list are not a verification failure in model-signing's sense
(``set_ignore_unsigned_files``); gate reports them instead as ``uncovered``,
so a policy can tell "the signature is bad" from "the signature does not
cover every artifact". An artifact outside ``root`` is uncovered too.

What the policies see (``input.model.signature``)::

    {"present": true, "verified": true, "method": "key" | "certificate",
     "signer": "key sha256:…" | "CN=…,O=…", "file": "model.sig", "root": "artifacts",
     "covered": ["artifacts/model.safetensors"], "uncovered": [], "error": null}

A bundle without ``model.signature`` has no ``input.model.signature`` (the
library's rules read it as ``present: false``). A signature, key or
certificate file that is missing or unreadable is exit 2 (a named file the
gate cannot read), as is a missing ``model-signing`` install; a signature
that does not verify is not an error but ``verified: false`` with the
library's reason, for the policies to judge.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gate.documents import InputFiles, parse_json
from gate.errors import BundleError, DocumentError

ROLE = "model signature"


def _file(files: InputFiles, rel: str, role: str, manifest: str, pointer: str) -> Path:
    path = files.resolve(rel, role)
    if not path.is_file():
        raise BundleError(f"{role}: {rel} is not a file", path=manifest, pointer=pointer,
                          hint="name the file in gate.yaml's model.signature, relative to "
                          "gate.yaml")
    return path


def _bundle_doc(data: bytes, shown: str) -> dict[str, Any]:
    try:
        doc = parse_json(data.decode("utf-8"))
    except (DocumentError, UnicodeDecodeError) as e:
        raise BundleError(f"{ROLE}: not a model-signing signature ({e})", path=shown,
                          hint="give the file `model_signing sign` wrote") from e
    if not isinstance(doc, dict) or "dsseEnvelope" not in doc:
        raise BundleError(f"{ROLE}: not a model-signing signature (no dsseEnvelope)",
                          path=shown, hint="give the file `model_signing sign` wrote")
    return doc


def _signed_resources(doc: Mapping[str, Any]) -> dict[str, str]:
    """name -> sha256 of every file the signature's statement lists."""
    payload = parse_json(base64.b64decode(doc["dsseEnvelope"]["payload"]).decode("utf-8"))
    out = {}
    for r in payload.get("predicate", {}).get("resources", []):
        if r.get("algorithm") == "sha256":
            out[str(r["name"])] = str(r["digest"])
    return out


def _signer(doc: Mapping[str, Any], method: str) -> str | None:
    material = doc.get("verificationMaterial") or {}
    if method == "key":
        hint = (material.get("publicKey") or {}).get("hint")
        return f"key sha256:{hint}" if hint else None
    from cryptography import x509

    chain = (material.get("x509CertificateChain") or {}).get("certificates") or []
    if not chain:
        return None
    cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]["rawBytes"]))
    return cert.subject.rfc4514_string()


def verify_signature(files: InputFiles, spec: Mapping[str, Any],
                     artifacts: Sequence[Mapping[str, Any]],
                     roots: Sequence[str] = (), manifest: str = "gate.yaml") -> dict[str, Any]:
    """Verify the model signature ``spec`` (``manifest``'s model.signature) names over the
    bundle's ``artifacts`` (``input.model.artifacts``); ``roots`` is model.artifacts. An
    error about a value of the manifest names the manifest and the place in it."""
    where = "$.model.signature"
    method = "certificate" if "certificate_chain" in spec else "key"
    root_rel = spec.get("root")
    if root_rel is None:
        if len(roots) != 1:
            raise BundleError("model.signature: say which file or folder was signed",
                              path=manifest, pointer=f"{where}.root",
                              hint="add `root:` (the path given to model_signing sign)")
        root_rel = roots[0]
    root_shown = posixpath.normpath(str(root_rel))
    root = files.resolve(root_shown, "signed model")
    if not root.exists():
        raise BundleError(f"model.signature.root: no such file or folder: {root_shown}",
                          path=manifest, pointer=f"{where}.root")
    sig_path = _file(files, str(spec["file"]), ROLE, manifest, f"{where}.file")
    sig_shown = files.display(sig_path)
    if method == "key":
        key = _file(files, str(spec["key"]), "model signing key", manifest, f"{where}.key")
        material: list[Path] = [key]
    else:
        material = [_file(files, str(c), "model signing certificate", manifest,
                          f"{where}.certificate_chain[{i}]")
                    for i, c in enumerate(spec["certificate_chain"])]
    for mat in material:  # read through the bundle, so decision.json lists their digests
        files.read_bytes(mat, "model signing key" if method == "key" else "certificate")
    doc = _bundle_doc(files.read_bytes(sig_path, ROLE), sig_shown)
    try:
        from model_signing import verifying
    except ImportError as e:
        raise BundleError("checking a model signature needs the model-signing package, which "
                          "is not installed", path=sig_shown,
                          hint="pip install 'gate-release[audit]'") from e
    config = verifying.Config().set_ignore_unsigned_files(True)  # type: ignore[no-untyped-call]
    if method == "key":
        config = config.use_elliptic_key_verifier(public_key=material[0])
    else:
        config = config.use_certificate_verifier(certificate_chain=material)
    result: dict[str, Any] = {"present": True, "verified": False, "method": method,
                              "signer": None, "file": sig_shown, "root": root_shown,
                              "covered": [], "uncovered": [], "error": None}
    try:
        config.verify(root, sig_path)
    except Exception as e:  # noqa: BLE001  # whatever the verifier raises, it did not verify
        result["error"] = f"{type(e).__name__}: {e}".strip().rstrip(":")
        result["uncovered"] = [str(a["path"]) for a in artifacts]
        return result
    result["verified"] = True
    result["signer"] = _signer(doc, method)
    result["covered"], result["uncovered"] = _coverage(root.is_file(), root_shown, artifacts,
                                                       _signed_resources(doc))
    return result


def _coverage(root_is_file: bool, root: str, artifacts: Sequence[Mapping[str, Any]],
              signed: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(covered, uncovered): an artifact is covered when the signature lists it, by its name
    under the signed root, with the digest gate computed for it."""
    covered: list[str] = []
    uncovered: list[str] = []
    prefix = root.rstrip("/") + "/"
    for a in artifacts:
        shown = str(a["path"])
        if root_is_file:
            name = "." if shown == root else None
        elif root == ".":
            name = shown
        else:
            name = shown[len(prefix):] if shown.startswith(prefix) else None
        ok = name is not None and signed.get(name) == a.get("sha256")
        (covered if ok else uncovered).append(shown)
    return covered, uncovered
