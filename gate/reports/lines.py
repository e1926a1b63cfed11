"""Which line of a JSON or YAML input file a JSON path (``$.metrics["auc"]``) names.

Policies point into input documents by path (``_loc: {file, path}``); CI
platforms annotate lines. The file is composed (not constructed) with the safe
YAML loader, which reads JSON too and keeps every node's position; aliases are
never expanded. Anything that does not resolve — another format, a path that
is not there, an unreadable file — is simply no line. The file is read only
when it is a regular file of at most MAX_DOCUMENT_BYTES (a named pipe or device
is never opened, so a report cannot hang on one); confining it to the bundle
is the caller's part (gate.reports.locate).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import yaml

from gate.documents import MAX_DOCUMENT_BYTES
from gate.fsutil import read_regular

_STEP = re.compile(r"""\.([^.\[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\['([^']*)'\]""")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_path(path: str) -> list[str | int] | None:
    """``$.a["b"][0]`` or the JSON pointer ``/a/b/0`` as steps; None if neither."""
    if path.startswith("/"):
        return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            return None
        name, index, quoted, single = m.groups()
        if index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(str(json.loads(quoted)))
        else:
            steps.append(name if name is not None else single)
        pos = m.end()
    return steps


@lru_cache(maxsize=32)
def _compose(file: str) -> yaml.Node | None:
    path = Path(file)
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        return None
    try:
        text = read_regular(path, MAX_DOCUMENT_BYTES).decode("utf-8-sig")
        node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
        return node
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None


def line_of(file: Path, path: str) -> int | None:
    """The 1-based line of ``path`` in ``file`` (the key's line for a mapping entry)."""
    steps = parse_path(path)
    node = _compose(str(file))
    if not steps or node is None:
        return None
    line = None
    for step in steps:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return None
        elif isinstance(node, yaml.SequenceNode):
            index = int(step) if str(step).isdigit() else -1
            if not 0 <= index < len(node.value):
                return None
            node = node.value[index]
            line = node.start_mark.line + 1
        else:
            return None
    return line
