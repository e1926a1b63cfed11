"""Policy from a trusted place: the change under review cannot edit what judges it.

A run with a trusted source takes its *governance* from that source and only its
*evidence* from the change:

* governance: the policies, their data (thresholds), the exceptions file, the
  sign-off rules, and gate.yaml's governance keys (``GOVERNANCE_KEYS``);
* evidence: the model, its card, lineage, reports, validations and the rest of
  gate.yaml.

Sources (one Protocol, :class:`TrustedSource`):

* :class:`GitRef` - a git ref (the merge request's target branch), read with
  git itself (``git archive``), never from the working tree;
* :class:`PinnedTree` - a folder (a second checkout) or a ``.tar``/``.tar.gz``
  archive, pinned by sha256: the archive's bytes, or for a folder the digest
  of its listing (``sha256  path`` lines, sorted, as ``sha256sum`` prints them),
  which ``gate trust digest DIR`` computes.

The bundle's own folder is looked up at the same path inside the source (the
same repository at another commit). A source whose root holds
``gate-governance.yaml`` governs every bundle the same way instead (an
organisation's policy repository); its paths are relative to that root.
A bundle the source does not have (a new model) is judged by the trusted
defaults: the whole policy library with its default data, and a finding that
asks for sign-off. Edits the change makes to governance inputs are listed in a
finding, and never used.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from gate.decision import Finding
from gate.errors import ManifestError, UsageError
from gate.fsutil import digest_file, read_regular
from gate.manifest import Manifest, load_manifest

GOVERNANCE_KEYS = ("library", "enforcement", "policies", "data", "exceptions", "signoff",
                   "engine")
ORG_FILE = "gate-governance.yaml"
CHANGED_ID = "GATE-GOV-001"
NEW_MODEL_ID = "GATE-GOV-002"


class TrustedSource(Protocol):
    """Somewhere the change cannot write: lists and copies files by source-relative path."""

    label: str

    def has(self, rel: str) -> bool:
        """Whether the file or folder ``rel`` exists in the source."""
        ...

    def copy(self, rel: str, dest: Path) -> None:
        """Copy the folder ``rel`` (and everything below it) into ``dest``."""
        ...

    def close(self) -> None:
        """Remove whatever the source unpacked (once the run no longer reads it)."""
        ...


def _git(repo: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess[Any]:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                              text=not binary, timeout=120, check=False)
    except FileNotFoundError as e:
        raise UsageError("git is not installed, so a trusted git ref cannot be read") from e


@cache
def _toplevel(folder: Path) -> Path | None:
    """The top of the git work tree ``folder`` is in, or None outside one (asked of git once
    per folder: a trusted ref and the bundle's place in the source both need it)."""
    proc = _git(folder, "rev-parse", "--show-toplevel")
    top = proc.stdout.strip() if proc.returncode == 0 else ""
    return Path(top) if top else None


def _extract(data: bytes, dest: Path, what: str) -> None:
    """Unpack a tar archive; links, devices and paths outside ``dest`` are refused."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise ManifestError(f"cannot unpack {what}: {e}") from e


@dataclass
class GitRef:
    """A ref of the repository the bundle lives in, read with ``git archive``."""

    repo: Path
    ref: str
    commit: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        proc = _git(self.repo, "rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}")
        if proc.returncode != 0 or not proc.stdout.strip():
            raise UsageError(
                f"--trusted-ref {self.ref}: git cannot read this ref in {self.repo}",
                hint="fetch the target branch first (e.g. `git fetch origin main`) and "
                "name it as git does (origin/main)",
            )
        self.commit = proc.stdout.strip()
        self.label = f"git ref {self.ref} ({self.commit[:12]})"
        # Paths in ls-tree and archive are relative to the working directory: use the top.
        self.repo = _toplevel(self.repo.resolve()) or self.repo

    def close(self) -> None:
        """Nothing to remove: a git ref is read in place."""

    def has(self, rel: str) -> bool:
        proc = _git(self.repo, "ls-tree", "--name-only", self.commit, "--", rel or ".")
        return proc.returncode == 0 and bool(proc.stdout.strip())

    def copy(self, rel: str, dest: Path) -> None:
        proc = _git(self.repo, "archive", "--format=tar", self.commit, "--", rel or ".",
                    binary=True)
        if proc.returncode != 0:
            raise ManifestError(f"git archive of {rel} at {self.label} failed: "
                                f"{proc.stderr.decode('utf-8', 'replace').strip()}")
        _extract(proc.stdout, dest, f"{rel} at {self.label}")


def tree_digest(root: Path) -> str:
    """sha256 of ``sha256  path`` lines (sorted by path) for every file under ``root``."""
    lines = []
    for path in sorted(_files(root)):
        digest = digest_file(path)[0]
        lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_symlink():
            raise ManifestError(f"the trusted source holds a symbolic link: {path}",
                                hint="a pinned policy bundle holds regular files only")
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield path


@dataclass
class PinnedTree:
    """A folder or tar archive whose sha256 the CI configuration pins."""

    path: Path
    sha256: str
    label: str = ""
    root: Path = field(default=Path(), repr=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.path.exists():
            raise UsageError(f"--trusted-bundle {self.path}: no such file or folder")
        if self.path.is_dir():
            actual = tree_digest(self.path)
            self.root = self.path
        else:
            try:
                data = read_regular(self.path)  # never a named pipe that blocks the run
            except OSError as e:
                raise UsageError(f"--trusted-bundle {self.path}: cannot read it: {e.strerror}",
                                 hint="pin a folder or a .tar/.tar.gz archive") from e
            actual = hashlib.sha256(data).hexdigest()
        if actual != self.sha256.lower():
            raise UsageError(
                f"--trusted-bundle {self.path}: sha256 {actual} is not the pinned "
                f"{self.sha256}",
                hint="the policy bundle changed since it was pinned: review it, then pin "
                "the new digest (`gate trust digest` prints a folder's)",
            )
        if not self.path.is_dir():
            self._tmp = tempfile.TemporaryDirectory(prefix="gate-trusted-")
            self.root = Path(self._tmp.name)
            _extract(data, self.root, str(self.path))
        self.label = f"policy bundle {self.path.name} (sha256 {actual[:12]})"

    def close(self) -> None:
        """Remove the archive's unpacked copy, if one was made."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def has(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def copy(self, rel: str, dest: Path) -> None:
        src = self.root / rel
        target = dest / rel
        if src.is_dir():
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
        elif src.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


# --- governance for one bundle ----------------------------------------------------------------


@dataclass
class Governance:
    """What judges this run: a manifest whose governance keys and files are trusted."""

    manifest: Manifest  # governance keys and files; evidence still comes from the change
    source: str
    findings: list[Finding] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    new_model: bool = False
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "changed": list(self.changed),
                "new_model": self.new_model}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def bundle_path(manifest: Manifest) -> str:
    """The bundle folder relative to its git work tree ('' for the top, and outside one)."""
    root = manifest.root.resolve()
    top = _toplevel(root)
    if top is None:
        return ""
    rel = root.relative_to(top.resolve()).as_posix()
    return "" if rel == "." else rel


def governance_files(manifest: Manifest) -> dict[str, bytes]:
    """Every governance file a manifest names, by path relative to its folder."""
    root = manifest.root
    named: list[str] = []
    if manifest.policies_explicit or (root / "policies").exists():
        named += manifest.policies
    named += manifest.data
    for key in ("exceptions", "signoff"):
        if manifest.raw.get(key):
            named.append(str(manifest.raw[key]))
    out: dict[str, bytes] = {}
    for rel in named:
        path = root / rel
        if not path.resolve().is_relative_to(root.resolve()):
            continue  # confinement errors are reported where the file is read
        for file in ([path] if path.is_file() else _files(path) if path.is_dir() else []):
            out[file.relative_to(root).as_posix()] = file.read_bytes()
    if manifest.raw.get("signoff"):
        rules = root / str(manifest.raw["signoff"])
        signers = _signers_file(rules)
        if signers is not None and signers.is_file() and signers.resolve().is_relative_to(
                root.resolve()):
            out[signers.relative_to(root).as_posix()] = signers.read_bytes()
    return out


def _signers_file(rules: Path) -> Path | None:
    from gate.documents import parse_yaml

    try:
        doc = parse_yaml(read_regular(rules).decode("utf-8"))  # never a pipe that blocks
    except Exception:  # noqa: BLE001 - unreadable rules are reported where they are used
        return None
    if isinstance(doc, dict) and isinstance(doc.get("allowed_signers"), str):
        return rules.parent / str(doc["allowed_signers"])
    return None


def _diff(change: dict[str, bytes], trusted: dict[str, bytes]) -> list[str]:
    out = []
    for rel in sorted(set(change) | set(trusted)):
        if rel not in trusted:
            out.append(f"{rel} (added)")
        elif rel not in change:
            out.append(f"{rel} (removed)")
        elif change[rel] != trusted[rel]:
            out.append(f"{rel} (modified)")
    return out


def _changed_keys(change: Manifest, trusted: dict[str, Any]) -> Iterable[str]:
    for key in GOVERNANCE_KEYS:
        if change.raw.get(key) != trusted.get(key):
            yield f"gate.yaml: {key} (modified)"


def resolve_governance(change: Manifest, source: TrustedSource | None) -> Governance:
    """The manifest that governs ``change``: its own without a source, else the trusted one."""
    if source is None:
        return Governance(change, "the change itself (no trusted source)")
    tmp = tempfile.TemporaryDirectory(prefix="gate-governance-")
    top = Path(tmp.name)
    try:
        if source.has(ORG_FILE):
            source.copy("", top)
            base = top
            trusted_raw = _load_org(top / ORG_FILE)
            new_model = False
        else:
            rel = bundle_path(change)
            new_model = not (source.has(f"{rel}/gate.yaml" if rel else "gate.yaml"))
            base = top / rel if rel else top
            if new_model:
                base.mkdir(parents=True, exist_ok=True)
                trusted_raw = {"library": True}
            else:
                source.copy(rel, top)
                trusted_raw = _load(base / "gate.yaml").raw
        governed = {k: v for k, v in change.raw.items() if k not in GOVERNANCE_KEYS}
        governed.update({k: trusted_raw[k] for k in GOVERNANCE_KEYS if k in trusted_raw})
        manifest_path = base / change.path.name
        from gate.documents import InputFiles

        manifest = Manifest(path=manifest_path, files=InputFiles(base), raw=governed)
        changed: list[str] = []
        if not new_model:
            trusted_files = governance_files(manifest)
            changed = [*_changed_keys(change, trusted_raw),
                       *_diff(governance_files(change), trusted_files)]
        gov = Governance(manifest, source.label, changed=changed, new_model=new_model, _tmp=tmp)
        gov.findings = _findings(change, gov)
        return gov
    except BaseException:
        tmp.cleanup()
        raise
    finally:
        source.close()  # what it unpacked: the governance holds its own copy by now


def _load_org(path: Path) -> dict[str, Any]:
    """An organisation's ``gate-governance.yaml``: gate.yaml's governance keys alone."""
    from gate.documents import InputFiles

    doc = InputFiles(path.parent).load_path(path, "governance")
    if not isinstance(doc, dict):
        raise ManifestError("the trusted governance file must be a mapping", path=ORG_FILE)
    unknown = sorted(set(doc) - {"version", *GOVERNANCE_KEYS})
    if unknown:
        raise ManifestError(
            f"the trusted governance file has keys that are not governance: "
            f"{', '.join(unknown)}", path=ORG_FILE,
            hint=f"it may hold {', '.join(GOVERNANCE_KEYS)}",
        )
    from gate.schemas import validate

    validate({"version": 1, "model": {"name": "m", "version": "0"},
              **{k: v for k, v in doc.items() if k != "version"}},
             "manifest", path=ORG_FILE, what="the trusted governance file",
             error=ManifestError)
    return doc


def _load(path: Path) -> Manifest:
    try:
        return load_manifest(path)
    except ManifestError as e:
        e.message = f"the trusted {path.name}: {e.message}"
        raise


def _findings(change: Manifest, gov: Governance) -> list[Finding]:
    out = []
    if gov.changed:
        out.append(Finding(
            id=CHANGED_ID, kind="failure", rule="gate.governance.changed",
            title="The change edits its own governance",
            message=(f"this change edits the inputs that judge it: {', '.join(gov.changed)}. "
                     f"It was judged by the trusted version from {gov.source}, not the edited one"),
            severity="high", enforcement="soft-mandatory",
            remediation=("land the governance change on its own, reviewed by the policy "
                         "owners; or have them sign a waiver of " + CHANGED_ID),
            file=change.path.name, details={"changed": list(gov.changed)},
        ))
    if gov.new_model:
        out.append(Finding(
            id=NEW_MODEL_ID, kind="failure", rule="gate.governance.new_model",
            title="A new model has no trusted governance yet",
            message=(f"{change.model_name} has no gate.yaml at {gov.source}: it was judged by "
                     "the trusted defaults (the whole policy library, its default data, no "
                     "waivers)"),
            severity="high", enforcement="soft-mandatory",
            remediation=("merge the bundle's governance (gate.yaml, policies, data) first, or "
                         "have the policy owners sign a waiver of " + NEW_MODEL_ID),
            file=change.path.name,
        ))
    return out
