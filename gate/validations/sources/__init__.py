"""Where a validation's data comes from: one Protocol, one adapter per manifest key.

A manifest entry names exactly one of ``data`` (a file read by pandas),
``sql`` (a table or query through SQLAlchemy) or ``spark`` (a table or path
read by Spark); the schema guarantees it. Each adapter turns its entry into a
GX batch on the run's ephemeral context, and says what to call the data in
``input.validations[].data``. Adapters are imported only when used, so a
manifest without Spark never imports pyspark.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from gate.documents import InputFiles
from gate.errors import ValidationError


class DataSource(Protocol):
    """One validation's data, as a GX batch."""

    shown: str  # what input.validations[].data says: a bundle path, a masked URL, a table

    def batch(self, context: Any, name: str) -> Any:
        """A GX Batch over the whole data, on ``context``, under the data source ``name``.

        ValidationError (naming the validation and the data) if it cannot be read.
        """
        ...


def user_label(validation: str, what: str | None) -> str:
    """How a source's messages name whoever reads it: ``what`` when given (a drift check's
    side: gate.drift reads its data through these sources), else the validation."""
    return what or f"validation '{validation}'"


def dataframe_batch(data_source: Any, frame: Any) -> Any:
    """A batch over a whole in-memory dataframe (pandas or Spark) of a fresh GX data source."""
    asset = data_source.add_dataframe_asset("data")
    definition = asset.add_batch_definition_whole_dataframe("all")
    return definition.get_batch(batch_parameters={"dataframe": frame})


# manifest key -> "module:Class"; a new kind of source is one module and one line here.
SOURCES: dict[str, str] = {
    "data": "gate.validations.sources.files:FileSource",
    "sql": "gate.validations.sources.sql:SqlSource",
    "spark": "gate.validations.sources.spark:SparkSource",
}


def open_source(spec: Mapping[str, Any], files: InputFiles,
                manifest: str = "gate.yaml") -> DataSource:
    """The adapter for a manifest ``validations:`` entry (not yet reading anything).

    ``manifest`` is the manifest's name as shown in errors about the entry itself.
    """
    name = str(spec.get("name"))
    for key, target in SOURCES.items():
        if key in spec:
            module, cls = target.split(":")
            source: DataSource = getattr(importlib.import_module(module), cls)(
                spec, files, manifest)
            return source
    raise ValidationError(
        f"validation '{name}' names no data: give one of {', '.join(SOURCES)}",
        path=manifest, hint="see `gate schema manifest` for the validations section",
    )
