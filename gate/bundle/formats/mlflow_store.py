"""An MLflow reference -> an evaluation report, read through MLflow's own client.

``evaluation.report`` or ``evaluation.baseline`` may name a run or a
registered model version instead of a file:

* ``runs:/<run_id>``: the run's metrics; ``runs:/<run_id>/<path>`` also
  hashes the run's artifacts under ``path``;
* ``models:/<name>/<version>``, ``models:/<name>@<alias>`` (MLflow's form) or
  ``models:/<name>/@<alias>``: the registered version (behind the alias,
  e.g. ``@champion``): the metrics of the run that produced it (else those
  logged on its MLflow 3 logged model) and the sha256 of every file of the
  version's artifacts.

The tracking store is the one ``MLFLOW_TRACKING_URI`` names (a SQLite
database, a tracking server, Databricks, ...; the registry is
``MLFLOW_REGISTRY_URI`` if set, as in MLflow). It must be set: MLflow's
default store is a database in the working directory, which it would create
empty. A ``sqlite:///`` database that does not exist is refused for the same
reason. MLflow is imported only when a bundle names a reference
(``pip install "gate[mlflow]"``).

Metric values are what MLflow reports as each metric's latest value (highest
step, then timestamp, then value). The report's model version is the
``model_version`` tag of the registered version, else of the run, else the
registry's version number. Every failure is a BundleError naming gate.yaml
and the reference.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from gate.bundle.artifacts import HEAD, detect_format
from gate.bundle.formats.evaluation import report
from gate.errors import BundleError
from gate.fsutil import digest_file

SCHEMES = ("runs:/", "models:/")
MODEL_VERSION_TAG = "model_version"
INSTALL_HINT = 'install MLflow\'s client with `pip install "gate[mlflow]"`'
URI_HINT = (
    "set MLFLOW_TRACKING_URI to the tracking store that holds the run, e.g. "
    "sqlite:///path/to/mlflow.db or http://mlflow.internal:5000"
)
T = TypeVar("T")
_VERSION = re.compile(r"^[1-9][0-9]*$")
_NAME_ALIAS = re.compile(r"^(?P<name>[^@]+?)/?@(?P<alias>[^@/]+)$")


@dataclass(frozen=True)
class Reference:
    """A parsed ``runs:/`` or ``models:/`` URI."""

    uri: str
    run_id: str | None = None
    artifact_path: str | None = None
    model: str | None = None
    version: str | None = None
    alias: str | None = None


def is_reference(value: str | None) -> bool:
    """Whether a report entry of gate.yaml is an MLflow URI rather than a bundle path."""
    return isinstance(value, str) and value.startswith(SCHEMES)


def _bad(uri: str, role: str, why: str, manifest: str) -> BundleError:
    return BundleError(
        f"{role}: '{uri}' is not an MLflow reference gate can read: {why}",
        path=manifest,
        hint="write runs:/<run_id>, models:/<name>/<version> or models:/<name>@<alias>",
    )


def parse(uri: str, role: str, manifest: str) -> Reference:
    """Split a reference into its parts; BundleError naming gate.yaml if malformed."""
    if uri.startswith("runs:/"):
        run_id, _, path = uri[len("runs:/"):].strip("/").partition("/")
        if not run_id or any(c.isspace() for c in run_id):
            raise _bad(uri, role, "no run id after runs:/", manifest)
        return Reference(uri, run_id=run_id, artifact_path=path or None)
    rest = uri[len("models:/"):].strip("/")
    match = _NAME_ALIAS.match(rest)
    if match:
        return Reference(uri, model=match["name"], alias=match["alias"])
    name, _, version = rest.rpartition("/")
    if not name:
        raise _bad(uri, role, "a registered model needs a version or an alias "
                   "(MLflow 3 logged-model ids are not registry versions)", manifest)
    if not _VERSION.match(version):
        raise _bad(uri, role, f"'{version}' is not a version number; stages such as "
                   "Production are deprecated in MLflow, use an alias (@champion)", manifest)
    return Reference(uri, model=name, version=version)


def _tracking_uri(ref: Reference, role: str, manifest: str) -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        raise BundleError(f"{role}: '{ref.uri}' names an MLflow run, and MLFLOW_TRACKING_URI "
                          "is not set", path=manifest, hint=URI_HINT)
    if uri.startswith("sqlite:///"):
        # SQLAlchemy's form: sqlite:///relative/path.db, sqlite:////absolute/path.db
        database = Path(unquote(uri[len("sqlite:///"):].partition("?")[0]))
        if not database.is_file():
            raise BundleError(
                f"{role}: MLFLOW_TRACKING_URI names the SQLite database '{database}', "
                "which does not exist (MLflow would create it empty)",
                path=manifest, hint=URI_HINT)
    return uri


def _client(ref: Reference, role: str, manifest: str) -> Any:
    tracking_uri = _tracking_uri(ref, role, manifest)
    try:
        from mlflow import MlflowClient
    except ImportError as e:
        raise BundleError(f"{role}: '{ref.uri}' is an MLflow reference, and MLflow's client is "
                          f"not installed ({e.name or e})", path=manifest,
                          hint=INSTALL_HINT) from e
    return _ask(ref, role, manifest, "the tracking store",
                lambda: MlflowClient(tracking_uri=tracking_uri))


def _ask(ref: Reference, role: str, manifest: str, what: str, call: Callable[[], T]) -> T:
    """One call into MLflow's client; any failure is a BundleError naming the reference.

    MLflow's client raises MlflowException, but also whatever its transports do
    (requests, urllib3, SQLAlchemy, JSON decoding of a proxy's error page), so
    every exception is mapped here: an unreadable store is exit 2, never a
    crash reported as a bug in gate.
    """
    try:
        return call()
    except Exception as e:  # any failure of the client or its transports: see above
        raise _failed(ref, role, manifest, what, e) from e


def _failed(ref: Reference, role: str, manifest: str, what: str, e: BaseException) -> BundleError:
    code = getattr(e, "error_code", None)
    text = str(getattr(e, "message", None) or e).strip()
    first = text.splitlines()[0][:300] if text else ""
    # MlflowException carries its own code; name other exceptions' types.
    message = (first or str(code)) if code else f"{type(e).__name__}: {first}".rstrip(": ")
    missing = code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "not found" in message)  # an unknown alias
    if missing:
        return BundleError(f"{role}: {what} of '{ref.uri}' does not exist in the tracking store "
                           f"({message})", path=manifest,
                           hint="check the reference in gate.yaml and MLFLOW_TRACKING_URI")
    return BundleError(f"{role}: cannot read {what} of '{ref.uri}' from the tracking store: "
                       f"{message}", path=manifest,
                       hint="check MLFLOW_TRACKING_URI, that the store is reachable, and the "
                       "credentials MLflow uses (MLFLOW_TRACKING_TOKEN, ...)")


def _finite(metrics: dict[str, Any], ref: Reference, role: str, manifest: str) -> dict[str, Any]:
    for name, value in metrics.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BundleError(f"{role}: metric '{name}' of '{ref.uri}' is {value}, not a finite "
                              "number", path=manifest, hint="log a finite value for the metric")
    return dict(sorted(metrics.items()))


def _latest(metrics: list[Any]) -> dict[str, float]:
    """MLflow's latest value per key of a list of Metric entities (logged-model metrics)."""
    best: dict[str, tuple[int, int, float]] = {}
    for m in metrics:
        key = (int(m.step or 0), int(m.timestamp or 0), float(m.value))
        if m.key not in best or key > best[m.key]:
            best[m.key] = key
    return {name: key[2] for name, key in best.items()}


@contextmanager
def _downloaded(uri: str, tracking_uri: str) -> Iterator[Path]:
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="gate-mlflow-") as tmp:
        yield Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp,
                                                       tracking_uri=tracking_uri))


def _hash_tree(root: Path) -> list[dict[str, Any]]:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    out: list[dict[str, Any]] = []
    for path in files:
        sha, size, head = digest_file(path, head_bytes=HEAD)  # one read: digest and head
        shown = path.name if path == root else path.relative_to(root).as_posix()
        out.append({"path": shown, "sha256": sha, "size_bytes": size,
                    "format": detect_format(path, head, size, shown)})
    return out


def _artifacts(
    client: Any, uri: str, ref: Reference, role: str, manifest: str
) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        with _downloaded(uri, client.tracking_uri) as local:
            return _hash_tree(local)

    return _ask(ref, role, manifest, "the artifacts", fetch)


def read_reference(uri: str, role: str, manifest: str) -> dict[str, Any]:
    """The report (with ``source`` and, where known, ``artifacts``) a reference names."""
    ref = parse(uri, role, manifest)
    client = _client(ref, role, manifest)
    source: dict[str, Any] = {"kind": "mlflow", "uri": uri, "run_id": ref.run_id,
                              "model": ref.model, "version": ref.version, "alias": ref.alias}
    version_tag: str | None = None
    artifacts: list[dict[str, Any]] | None = None
    logged_model_metrics: dict[str, float] | None = None
    if ref.model is not None:
        name, alias, version = ref.model, ref.alias, ref.version
        mv = _ask(ref, role, manifest, "the registered model version",
                  lambda: client.get_model_version_by_alias(name, alias) if alias is not None
                  else client.get_model_version(name, version))
        if mv.status != "READY":
            raise BundleError(f"{role}: version {mv.version} of registered model '{mv.name}' is "
                              f"{mv.status}, not READY", path=manifest,
                              hint="wait for the registration to finish, or name another version")
        source.update(version=str(mv.version), run_id=mv.run_id,
                      model_id=getattr(mv, "model_id", None))
        version_tag = (mv.tags or {}).get(MODEL_VERSION_TAG) or str(mv.version)
        if not mv.run_id:
            logged_model_metrics = _logged_model_metrics(client, mv, ref, role, manifest)
        # Where the files are stored (a models:/ download adds a file of MLflow's own).
        location = _ask(ref, role, manifest, "the artifact location",
                        lambda: client.get_model_version_download_uri(mv.name, mv.version))
        artifacts = _artifacts(client, location, ref, role, manifest)
    metrics: dict[str, Any] = logged_model_metrics or {}
    if source["run_id"]:
        run_id = source["run_id"]
        run = _ask(ref, role, manifest, "the run", lambda: client.get_run(run_id))
        metrics = dict(run.data.metrics)
        source["run_status"] = run.info.status
        version_tag = version_tag or run.data.tags.get(MODEL_VERSION_TAG)
        if ref.artifact_path is not None:
            artifacts = _artifacts(client, uri, ref, role, manifest)
    out = report(version_tag, _finite(metrics, ref, role, manifest), [])
    out["source"] = source
    if artifacts is not None:
        out["artifacts"] = artifacts
    return out


def _logged_model_metrics(
    client: Any, mv: Any, ref: Reference, role: str, manifest: str
) -> dict[str, float]:
    model_id = getattr(mv, "model_id", None)
    if not model_id:
        return {}
    logged = _ask(ref, role, manifest, "the logged model",
                  lambda: client.get_logged_model(model_id))
    return _latest(list(logged.metrics or []))
