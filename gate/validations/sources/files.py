"""A data file of the bundle (csv, parquet, jsonl, json records) read by pandas.

The file is read once: its bytes are hashed for decision.json and parsed from
memory, so the digest is of exactly the data that was validated.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from gate.documents import InputFiles
from gate.errors import GateError, ValidationError
from gate.fsutil import read_regular
from gate.validations.sources import dataframe_batch, user_label

ROLE = "validation data"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".json": "json"}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
HINTS = {
    "csv": "the file must be CSV with a header row",
    "parquet": "the file must be a Parquet file (pyarrow reads it)",
    "jsonl": "the file must hold one JSON object per line",
    "json": "the file must hold a JSON array of objects (records)",
}


def detect(rel: str, explicit: str | None) -> tuple[str | None, str | None]:
    """(format, compression) of a data file: ``format:`` wins, else the extension."""
    suffixes = [s.lower() for s in PurePosixPath(rel).suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    return explicit or (FORMATS.get(suffixes[-1]) if suffixes else None), compression


class FileSource:
    """``data: reports/slices.csv`` (``format:`` overrides the extension)."""

    def __init__(self, spec: Mapping[str, Any], files: InputFiles,
                 manifest: str = "gate.yaml", *, what: str | None = None) -> None:
        self.what = user_label(str(spec["name"]), what)
        self.rel = str(spec["data"])
        self.files = files
        self.shown = self.rel
        self.format, self.compression = detect(self.rel, spec.get("format"))
        if self.format is None:
            raise ValidationError(
                f"{self.what}: cannot tell the format of the data file "
                "from its name",
                path=self.rel,
                hint=f"add `format:` ({', '.join(sorted(set(FORMATS.values())))}) beside "
                     "`data:` in gate.yaml",
            )

    def _bytes(self) -> bytes:
        try:
            path = self.files.resolve(self.rel, f"{self.what} data")
            data = read_regular(path)  # a named pipe or device is refused, never waited on
        except GateError as e:
            raise ValidationError(e.message, path=e.path, hint=e.hint) from e
        except OSError as e:
            raise ValidationError(f"{self.what}: cannot read the data file: "
                                  f"{e.strerror or e}", path=self.rel) from e
        self.files.record(self.files.display(path), ROLE, hashlib.sha256(data).hexdigest(),
                          len(data))
        return data

    def read(self) -> Any:
        """The data as a pandas DataFrame."""
        data = self._bytes()
        import pandas as pd

        buf = io.BytesIO(data)
        try:
            if self.format == "csv":
                return pd.read_csv(buf, compression=self.compression)
            if self.format == "parquet":
                return pd.read_parquet(buf)
            if self.format == "jsonl":
                return pd.read_json(buf, lines=True, compression=self.compression)
            return pd.read_json(buf, orient="records", compression=self.compression)
        except Exception as e:  # pandas, pyarrow and the codecs raise many types
            why = " ".join(str(e).split()) or type(e).__name__
            raise ValidationError(
                f"{self.what}: cannot read the data as {self.format}: {why}",
                path=self.rel, hint=HINTS.get(self.format or "", "check the data file"),
            ) from e

    def batch(self, context: Any, name: str) -> Any:
        frame = self.read()
        return dataframe_batch(context.data_sources.add_pandas(name), frame)
