"""An MLflow run folder (file store) -> an evaluation report.

Each file under ``metrics/`` is one metric whose lines are in one of the three
forms MLflow's file store writes: ``timestamp value`` (the oldest runs; step
0), ``timestamp value step``, and, since MLflow 2.15, ``timestamp value step
dataset_name dataset_digest`` for a metric logged with a dataset (every metric
``mlflow.models.evaluate`` logs). A metric logged as ``a/b`` lives in
``metrics/a/b`` and keeps that name. The value kept is MLflow's latest value:
the line with the highest (step, timestamp, value), so a metric logged twice at
the same step and timestamp keeps the larger value, as MLflow's stores do.
(MLflow 3's file-store reader takes the step of a five-field line as 0; gate
reads the step written there, as MLflow's SQL stores keep it.) A
``tags/model_version`` file, if present,
gives the report's model version; ``meta.yaml``, if present, must be a mapping
(it is read so its digest is recorded with the other inputs).
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

from gate.bundle.formats.evaluation import report
from gate.documents import InputFiles
from gate.errors import BundleError, DocumentError

MODEL_VERSION_TAG = "model_version"
LINE_HINT = ("each line of an MLflow metric file reads 'timestamp value step', "
             "'timestamp value' or 'timestamp value step dataset_name dataset_digest'")
LINE_FIELDS = (2, 3, 5)
MAX_METRIC_DEPTH = 16  # folders, metrics/ included (a metric logged as a/b/c is 3 deep)


def _metric_files(files: InputFiles, rel: str, role: str) -> list[tuple[str, Path]]:
    """(metric name, path) of every metric under ``rel``, sorted, confined to the bundle.

    Walked iteratively, each entry looked at once (a symlink resolved and
    confined, anything else taken from its folder), and no deeper than
    MAX_METRIC_DEPTH: a metric name has a few '/' parts, and a folder nested a
    thousand levels deep must be a quick error, not minutes of path resolution.
    """
    found: list[tuple[str, Path]] = []
    stack = [(files.resolve(rel, role), rel, "", 0)]
    while stack:
        folder, shown, prefix, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")),
                                 key=lambda e: e.name)
        except OSError as e:
            raise BundleError(f"{role}: cannot list the folder: {e.strerror or e}",
                              path=shown) from e
        for entry in entries:
            child = f"{shown}/{entry.name}"
            if not entry.name.isprintable():  # metric names become JSON keys: they must be text
                raise BundleError(f"{role}: a metric file name is not printable UTF-8 text",
                                  path=shown, hint="rename the metric file")
            # a symlink is resolved and confined (files.resolve refuses an escape)
            real = files.resolve(child, role) if entry.is_symlink() else Path(entry.path)
            try:
                mode = real.stat().st_mode
            except OSError as e:
                raise BundleError(f"{role}: cannot read the file: {e.strerror or e}",
                                  path=child) from e
            if stat.S_ISDIR(mode):
                if depth + 1 >= MAX_METRIC_DEPTH:
                    raise BundleError(
                        f"{role}: metrics/ nests deeper than {MAX_METRIC_DEPTH} folders",
                        path=child, hint="a metric name has at most "
                        f"{MAX_METRIC_DEPTH} '/' separated parts; this is not an MLflow run",
                    )
                stack.append((real, child, f"{prefix}{entry.name}/", depth + 1))
            elif stat.S_ISREG(mode):
                found.append((f"{prefix}{entry.name}", real))
            else:  # a FIFO or device would block the read or never end
                raise BundleError(f"{role}: not a regular file", path=child)
    return sorted(found)


def _last_value(files: InputFiles, path: Path, role: str) -> float:
    shown = files.display(path)
    best: tuple[tuple[int, int, float], int] | None = None
    for n, line in enumerate(files.read_text(path, role).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) not in LINE_FIELDS:
                raise ValueError(f"{len(fields)} fields; MLflow writes 2, 3 or 5")
            step = int(fields[2]) if len(fields) > 2 else 0
            key = (step, int(fields[0]), float(fields[1]))
        except ValueError as e:
            raise DocumentError(f"{role}: not an MLflow metric line ({e})", path=shown, line=n,
                                hint=LINE_HINT) from e
        # MLflow's rule: max by (step, timestamp, value); the first of equal keys stays.
        if best is None or key > best[0]:
            best = (key, n)
    if best is None:
        raise DocumentError(f"{role}: the metric file holds no values", path=shown, hint=LINE_HINT)
    value = best[0][2]
    if not math.isfinite(value):
        raise DocumentError(f"{role}: the metric's last value is {value}, not a finite number",
                            path=shown, line=best[1], hint="log a finite value for the metric")
    return value


def _model_version(files: InputFiles, rel: str, role: str) -> str | None:
    tag = files.root / rel / "tags" / MODEL_VERSION_TAG
    if not tag.is_file():
        return None
    path = files.resolve(f"{rel}/tags/{MODEL_VERSION_TAG}", role)
    return files.read_text(path, role).strip() or None


def read_run(files: InputFiles, folder: Path, role: str) -> dict[str, Any]:
    """Metrics (last value of each) and model version of an MLflow run folder."""
    rel = files.display(folder)
    if not (folder / "metrics").is_dir():
        raise BundleError(f"{role}: the folder is not an MLflow run (it has no metrics/ folder)",
                          path=rel, hint="name an MLflow run folder, or a gate-native report file")
    if (folder / "meta.yaml").is_file():
        meta = files.load(f"{rel}/meta.yaml", role)
        if not isinstance(meta, dict):
            raise DocumentError(f"{role}: MLflow meta.yaml must be a mapping",
                                path=f"{rel}/meta.yaml", pointer="$",
                                hint="restore the run's meta.yaml as MLflow wrote it")
    metrics = {name: _last_value(files, path, role)
               for name, path in _metric_files(files, f"{rel}/metrics", role)}
    return report(_model_version(files, rel, role), metrics, [])
