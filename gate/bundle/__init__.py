"""The release bundle -> the ``model``, ``lineage`` and ``evaluation`` parts of the input.

Each source format is one reader module; a reader says whether a parsed
document is its format (``detect``) and turns it into the input shape
(``read``). Readers are tried in registry order and the native reader, last,
takes whatever no adapter claimed, so its schema names what is wrong. A source
named as a folder is read by the folder readers the same way (an evaluation
report's folder is an MLflow run, a lineage folder OpenLineage's event files;
the last one takes any folder and says what is wrong with it). An evaluation
report written as a ``runs:/`` or ``models:/`` URI is read from MLflow's
tracking store through MLflow's client (imported only then).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
from gate.bundle.formats.card import read_card
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


class FolderReader(Protocol):
    """One format of a source named as a folder: recognise it, and read it."""

    def detect(self, folder: Path) -> bool:
        """Whether ``folder`` is in this reader's format (the last reader is not asked)."""
        ...

    def read(self, files: InputFiles, folder: Path, role: str,
             select: Mapping[str, str]) -> dict[str, Any]:
        """The normalised data; BundleError or DocumentError naming the file if invalid."""
        ...


class _MlflowRun:
    """An MLflow run folder of the file store (gate.bundle.formats.mlflow)."""

    def detect(self, folder: Path) -> bool:
        return (folder / "metrics").is_dir()

    def read(self, files: InputFiles, folder: Path, role: str,
             select: Mapping[str, str]) -> dict[str, Any]:
        return mlflow.read_run(files, folder, role)


class _OpenLineageEvents:
    """The folder OpenLineage's FileTransport writes: one event file per event."""

    def detect(self, folder: Path) -> bool:
        return True

    def read(self, files: InputFiles, folder: Path, role: str,
             select: Mapping[str, str]) -> dict[str, Any]:
        events: list[openlineage.Entry] = []
        for file in _event_files(files, folder, role):
            doc, shown = _lineage_document(files, file, role)
            if not openlineage.detect(doc):
                raise BundleError(f"{role}: not an OpenLineage event file", path=shown,
                                  hint="a lineage folder holds OpenLineage events only; name a "
                                  "gate-native lineage file directly")
            events += openlineage.entries(doc, shown)
        return openlineage.read_events(events, files.display(folder), role, dict(select))


LINEAGE_READERS: dict[str, DocumentReader] = {"openlineage": openlineage, "native": lineage}
LINEAGE_FOLDER_READERS: dict[str, FolderReader] = {"openlineage": _OpenLineageEvents()}
EVENT_SUFFIXES = {".json", ".jsonl", ".ndjson"}
REPORT_READERS: dict[str, DocumentReader] = {"huggingface": huggingface, "native": evaluation}
REPORT_FOLDER_READERS: dict[str, FolderReader] = {"mlflow": _MlflowRun()}


def _pick(readers: dict[str, DocumentReader], doc: Any) -> DocumentReader:
    return next(r for r in readers.values() if r.detect(doc))


def _pick_folder(readers: dict[str, FolderReader], folder: Path) -> FolderReader:
    *adapters, last = readers.values()
    return next((r for r in adapters if r.detect(folder)), last)


def _text(files: InputFiles, path: Path, role: str) -> tuple[str, str]:
    """(text, shown path) of a document file of the bundle, read once."""
    shown = files.display(path)
    if not path.is_file():  # a folder, FIFO or device cannot be read as a document
        raise BundleError(f"{role}: expected a file", path=shown)
    return files.read_text(path, role), shown


def _document(files: InputFiles, path: Path, role: str) -> tuple[Any, str]:
    text, shown = _text(files, path, role)
    return files.parse(text, path), shown


def _lineage_document(files: InputFiles, path: Path, role: str) -> tuple[Any, str]:
    """One lineage file: a document, or JSON lines (also under a .json name)."""
    text, shown = _text(files, path, role)
    try:
        return files.parse(text, path), shown
    except DocumentError as first:
        # OpenLineage exports are often JSON lines under a .json name: try that reading.
        if path.suffix.lower() in JSONL_SUFFIXES:
            raise
        try:
            doc = parse_jsonl(text, path)
        except DocumentError:
            raise first from None
        if len(doc) < 2:
            raise
        return doc, shown


def _event_files(files: InputFiles, folder: Path, role: str) -> list[Path]:
    """The event files of a FileTransport folder, in name order (its names are timestamps)."""
    shown = files.display(folder)
    try:
        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
    except OSError as e:
        raise BundleError(f"{role}: cannot list the folder: {e.strerror}", path=shown) from e
    paths = [files.resolve(f"{shown}/{n}", role) for n in names
             if Path(n).suffix.lower() in EVENT_SUFFIXES]
    if not paths:
        raise BundleError(f"{role}: the folder holds no OpenLineage event files "
                          f"({', '.join(sorted(EVENT_SUFFIXES))})", path=shown,
                          hint="name the folder OpenLineage's FileTransport writes to, "
                          "or a lineage file")
    return paths


def load_lineage(
    files: InputFiles, rel: str, select: dict[str, str] | None = None
) -> dict[str, Any]:
    """``input.lineage`` from a native or OpenLineage document (JSON lines accepted), or a
    folder of OpenLineage event files; ``select`` picks the run (``run_id``, ``job``,
    ``parent``) in a log that holds several."""
    role = "lineage"
    path = files.resolve(rel, role)
    if path.is_dir():
        return _pick_folder(LINEAGE_FOLDER_READERS, path).read(files, path, role, select or {})
    doc, shown = _lineage_document(files, path, role)
    reader = _pick(LINEAGE_READERS, doc)
    if reader is openlineage:
        return openlineage.read_events(openlineage.entries(doc, shown), shown, role, select or {})
    if select:
        raise BundleError(f"{role}: run_id, job and parent choose a run of an OpenLineage log; "
                          "this is a gate-native lineage document", path=shown,
                          hint="remove them from lineage: in gate.yaml")
    return reader.read(doc, shown, role)


def _report(
    files: InputFiles, rel: str, role: str, manifest: str = "gate.yaml"
) -> tuple[dict[str, Any], str]:
    if mlflow_store.is_reference(rel):
        return mlflow_store.read_reference(rel, role, manifest), rel
    path = files.resolve(rel, role)
    if path.is_dir():
        reader = _pick_folder(REPORT_FOLDER_READERS, path)
        return reader.read(files, path, role, {}), files.display(path)
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
    card, card_sections = read_card(files, manifest.card) if manifest.card else ({}, {})
    model: dict[str, Any] = {
        "name": manifest.model_name,
        "version": manifest.model_version,
        "card": card,
        "card_sections": card_sections,
        "artifacts": load_artifacts(files, manifest.artifacts),
    }
    signature = manifest.raw["model"].get("signature")
    if signature is not None:  # an OpenSSF model signature, verified by model-signing
        from gate.audit.modelsig import verify_signature

        model["signature"] = verify_signature(files, signature, model["artifacts"],
                                              manifest.artifacts, manifest.path.name)
    return {
        "model": model,
        "lineage": (load_lineage(files, manifest.lineage, manifest.lineage_run)
                    if manifest.lineage else lineage.empty()),
        "evaluation": load_evaluation(files, manifest.report, manifest.baseline,
                                      manifest.path.name),
    }


__all__ = ["DocumentReader", "load_bundle", "load_evaluation", "load_lineage", "load_report"]
