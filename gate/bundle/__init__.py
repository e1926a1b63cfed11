"""The release bundle -> the ``model``, ``lineage`` and ``evaluation`` parts of the input.

Each source format is one reader module; a reader says whether a parsed
document is its format (``detect``) and turns it into the input shape
(``read``). Readers are tried in registry order and the native reader, last,
takes whatever no adapter claimed, so its schema names what is wrong. An
evaluation report that is a folder is an MLflow run; one written as a
``runs:/`` or ``models:/`` URI is read from MLflow's tracking store through
MLflow's client (imported only then).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from gate.bundle.artifacts import load_artifacts
from gate.bundle.compare import compare
from gate.bundle.formats import (
    evaluation,
    huggingface,
    lineage,
    mlflow,
    mlflow_store,
    openlineage,
)
from gate.bundle.formats.card import load_card
from gate.documents import JSONL_SUFFIXES, InputFiles, parse_jsonl
from gate.errors import BundleError, DocumentError
from gate.manifest import Manifest


class DocumentReader(Protocol):
    """One source format: recognise a parsed document, and normalise it."""

    def detect(self, doc: Any) -> bool:
        """Whether ``doc`` is in this reader's format."""
        ...

    def read(self, doc: Any, shown: str, role: str) -> dict[str, Any]:
        """The normalised data; DocumentError naming ``shown`` and the place if invalid."""
        ...


LINEAGE_READERS: dict[str, DocumentReader] = {"openlineage": openlineage, "native": lineage}
REPORT_READERS: dict[str, DocumentReader] = {"huggingface": huggingface, "native": evaluation}


def _pick(readers: dict[str, DocumentReader], doc: Any) -> DocumentReader:
    return next(r for r in readers.values() if r.detect(doc))


def _document(files: InputFiles, path: Path, role: str) -> tuple[Any, str]:
    shown = files.display(path)
    if not path.is_file():  # a folder, FIFO or device cannot be read as a document
        raise BundleError(f"{role}: expected a file", path=shown)
    return files.load_path(path, role), shown


def load_lineage(files: InputFiles, rel: str) -> dict[str, Any]:
    """``input.lineage`` from a native or OpenLineage document (JSON lines accepted)."""
    role = "lineage"
    path = files.resolve(rel, role)
    try:
        doc, shown = _document(files, path, role)
    except DocumentError as first:
        # OpenLineage exports are often JSON lines under a .json name: try that reading.
        if path.suffix.lower() in JSONL_SUFFIXES:
            raise
        text = files.read_text(path, role)
        try:
            doc = parse_jsonl(text, path)
        except DocumentError:
            raise first from None
        if len(doc) < 2:
            raise
        shown = files.display(path)
    return _pick(LINEAGE_READERS, doc).read(doc, shown, role)


def _report(
    files: InputFiles, rel: str, role: str, manifest: str = "gate.yaml"
) -> tuple[dict[str, Any], str]:
    if mlflow_store.is_reference(rel):
        return mlflow_store.read_reference(rel, role, manifest), rel
    path = files.resolve(rel, role)
    if path.is_dir():
        return mlflow.read_run(files, path, role), files.display(path)
    doc, shown = _document(files, path, role)
    return _pick(REPORT_READERS, doc).read(doc, shown, role), shown


def load_report(
    files: InputFiles, rel: str, role: str, manifest: str = "gate.yaml"
) -> dict[str, Any]:
    """One evaluation report: native, Hugging Face model-index, an MLflow run folder,
    or an MLflow ``runs:/`` / ``models:/`` reference (``manifest`` names where it is written)."""
    return _report(files, rel, role, manifest)[0]


def load_evaluation(
    files: InputFiles, report: str | None, baseline: str | None, manifest: str = "gate.yaml"
) -> dict[str, Any]:
    """``input.evaluation``: the report, the baseline, and their comparison."""
    candidate = (load_report(files, report, "evaluation report", manifest) if report
                 else evaluation.empty())
    if baseline is None:
        return {**candidate, "baseline": None, "comparison": {}}
    base, shown = _report(files, baseline, "baseline report", manifest)
    return {
        **candidate,
        "baseline": base,
        "comparison": compare(candidate["metrics"], base["metrics"], path=shown),
    }


def load_bundle(manifest: Manifest) -> dict[str, Any]:
    """The ``model``, ``lineage`` and ``evaluation`` sections of the input document."""
    files = manifest.files
    model: dict[str, Any] = {
        "name": manifest.model_name,
        "version": manifest.model_version,
        "card": load_card(files, manifest.card) if manifest.card else {},
        "artifacts": load_artifacts(files, manifest.artifacts),
    }
    signature = manifest.raw["model"].get("signature")
    if signature is not None:  # an OpenSSF model signature, verified by model-signing
        from gate.audit.modelsig import verify_signature

        model["signature"] = verify_signature(files, signature, model["artifacts"],
                                              manifest.artifacts)
    return {
        "model": model,
        "lineage": load_lineage(files, manifest.lineage) if manifest.lineage else lineage.empty(),
        "evaluation": load_evaluation(files, manifest.report, manifest.baseline,
                                      manifest.path.name),
    }


__all__ = ["DocumentReader", "load_bundle", "load_evaluation", "load_lineage", "load_report"]
