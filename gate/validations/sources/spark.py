"""A Spark table or a path Spark reads, through GX's Spark data source.

``spark: {table: db.t}`` reads a table of the session's catalog;
``spark: {path, format, options}`` reads files. A path with a scheme
(``s3a://``, ``hdfs://``, ``abfss://``) is passed to Spark as is; a plain path
is a file or folder of the bundle, confined to it and hashed. The session is
the active one (spark-submit, a notebook, a test) or, failing that, a new one
from Spark's own defaults and configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from gate.documents import InputFiles
from gate.errors import GateError, ValidationError
from gate.fsutil import digest_file
from gate.validations.sources import dataframe_batch, user_label

ROLE = "validation data"
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json",
           ".orc": "orc"}
# Spark's CSV reader defaults to no header and all-string columns; evaluation
# tables have a header and numbers. Options in gate.yaml override these.
CSV_DEFAULTS = {"header": "true", "inferSchema": "true"}


def session() -> Any:
    """The active SparkSession, or a new one configured by Spark's defaults.

    A session gate starts itself opens no web UI and draws no progress bar on
    the terminal; everything else (master, memory) comes from Spark's own
    configuration (spark-defaults.conf, PYSPARK_SUBMIT_ARGS).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (SparkSession.builder.appName("gate")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate())


def _option(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class SparkSource:
    """``spark: {table: ...}`` or ``spark: {path: ..., format: ..., options: {...}}``."""

    def __init__(self, spec: Mapping[str, Any], files: InputFiles,
                 manifest: str = "gate.yaml", *, what: str | None = None) -> None:
        self.what = user_label(str(spec["name"]), what)
        self.manifest = manifest
        self.files = files
        spark = spec["spark"]
        self.table: str | None = spark.get("table")
        self.path: str | None = spark.get("path")
        self.format: str | None = spark.get("format")
        if self.path and not self.format:
            self.format = FORMATS.get(PurePosixPath(self.path).suffix.lower())
        self.options = {k: _option(v) for k, v in (spark.get("options") or {}).items()}
        if self.format == "csv":
            self.options = {**CSV_DEFAULTS, **self.options}
        self.shown = (f"spark table {self.table}" if self.table
                      else f"spark {self.format or 'default-format'} {self.path}")

    def _local_path(self) -> str:
        """The bundle path, confined and hashed (every file, for a folder)."""
        assert self.path is not None
        try:
            path = self.files.resolve(self.path, f"{self.what} spark path")
            # a folder: every file, confined (no link out, no pipe or device)
            targets = [path] if path.is_file() else [
                real for _, real in self.files.files_under(self.path, path, self.what)]
            for p in targets:
                self._record(p)
        except GateError as e:
            raise ValidationError(e.message, path=e.path, hint=e.hint) from e
        except OSError as e:
            raise ValidationError(f"{self.what}: cannot read the spark path: "
                                  f"{e.strerror or e}", path=self.path) from e
        return str(path)

    def _record(self, p: Path) -> None:
        digest, size, _ = digest_file(p, head_bytes=0)  # a named pipe is refused, not read
        self.files.record(self.files.display(p), ROLE, digest, size)

    def frame(self) -> Any:
        """The data as a Spark DataFrame (lazy: Spark reads it when GX computes metrics)."""
        where = self.path if self.path and not SCHEME.match(self.path) else self.manifest
        try:
            spark = session()
        except ImportError as e:
            raise ValidationError(
                f"{self.what} reads from Spark, but pyspark cannot be "
                f"imported: {e}", path=self.manifest,
                hint='install the extra: pip install "gate-release[spark]"',
            ) from e
        location = self.path if self.path is None or SCHEME.match(self.path) else self._local_path()
        try:
            if self.table:
                return spark.table(self.table)
            reader = spark.read.options(**self.options)
            if self.format:
                reader = reader.format(self.format)
            return reader.load(location)
        except Exception as e:  # AnalysisException, Py4JJavaError, ...: all from the JVM
            why = " ".join(str(e).split()[:60]) or type(e).__name__
            what = f"table '{self.table}'" if self.table else f"'{self.path}'"
            raise ValidationError(
                f"{self.what}: Spark cannot read {what}: {why}", path=where,
                hint="check the table name, or the path, format and options in gate.yaml",
            ) from e

    def batch(self, context: Any, name: str) -> Any:
        frame = self.frame()
        return dataframe_batch(context.data_sources.add_spark(name), frame)
