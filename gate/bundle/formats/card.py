"""The model card: a YAML/JSON mapping, or the YAML front matter of a Markdown card.

A Markdown card (Hugging Face's README.md) also gives its sections:
``input.model.card_sections`` maps each ATX heading (``## Intended uses &
limitations``), lower-cased with ``[optional]`` and extra blanks removed, to
the section's own text: the lines up to the next heading of any level, without
HTML comments and without the template placeholder ``[More Information
Needed]``. A section whose text is only placeholders is therefore empty, so an
unfilled template satisfies no requirement. Headings inside fenced code blocks
are not headings; of two sections with one heading, the first is kept.
"""

from __future__ import annotations

import re
from typing import Any

from gate.documents import MARKDOWN_SUFFIXES, InputFiles, split_front_matter
from gate.errors import BundleError, DocumentError

ROLE = "model card"
_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_PLACEHOLDER = re.compile(r"\[more information needed\]", re.IGNORECASE)
_OPTIONAL = re.compile(r"\[optional\]", re.IGNORECASE)


def heading_key(text: str) -> str:
    """A heading as card_sections names it: lower case, no ``[optional]``, single blanks."""
    return " ".join(_OPTIONAL.sub("", text).lower().split())


def sections(body: str) -> dict[str, str]:
    """Heading key -> the section's own text (comments and placeholders removed)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    fence: str | None = None
    for line in body.splitlines():
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
        elif opener:
            fence = opener.group(1)
        elif match := _HEADING.match(line):
            key = heading_key(match.group(2) or "")
            current = found.setdefault(key, []) if key and key not in found else None
            continue
        if current is not None:
            current.append(line)
    return {key: _PLACEHOLDER.sub("", _COMMENT.sub("", "\n".join(lines))).strip()
            for key, lines in found.items()}


def read_card(files: InputFiles, rel: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The card's mapping and, for a Markdown card, its sections.

    An empty file (or Markdown without front matter) gives the mapping ``{}``.
    """
    path = files.resolve(rel, ROLE)
    if not path.is_file():  # a folder, FIFO or device cannot be read as a card
        raise BundleError(f"{ROLE}: expected a file", path=files.display(path))
    text = files.read_text(path, ROLE)  # read once: the mapping and the sections
    doc = files.parse(text, path)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise DocumentError(
            f"the model card must be a mapping of fields, not {_KINDS.get(type(doc), 'that')}",
            path=files.display(path),
            pointer="$",
            hint="write the card as key: value pairs (YAML/JSON), or as Markdown "
            "whose YAML front matter between '---' lines holds them",
        )
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        return doc, {}
    _, body = split_front_matter(text, path)
    return doc, sections(body)


def load_card(files: InputFiles, rel: str) -> dict[str, Any]:
    """The card's mapping; an empty file (or Markdown without front matter) gives ``{}``."""
    return read_card(files, rel)[0]
