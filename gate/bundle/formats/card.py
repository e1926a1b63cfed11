"""The model card: a YAML/JSON mapping, or the YAML front matter of a Markdown card."""

from __future__ import annotations

from typing import Any

from gate.documents import InputFiles
from gate.errors import BundleError, DocumentError

ROLE = "model card"
_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def load_card(files: InputFiles, rel: str) -> dict[str, Any]:
    """The card's mapping; an empty file (or Markdown without front matter) gives ``{}``."""
    path = files.resolve(rel, ROLE)
    if not path.is_file():  # a folder, FIFO or device cannot be read as a card
        raise BundleError(f"{ROLE}: expected a file", path=files.display(path))
    doc = files.load_path(path, ROLE)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DocumentError(
            f"the model card must be a mapping of fields, not {_KINDS.get(type(doc), 'that')}",
            path=files.display(path),
            pointer="$",
            hint="write the card as key: value pairs (YAML/JSON), or as Markdown "
            "whose YAML front matter between '---' lines holds them",
        )
    return doc
