"""Durations as gate.yaml writes them: a number of seconds, or '500ms', '30s', '5m', '1h'."""

from __future__ import annotations

import re

from gate.errors import ManifestError

_DURATION = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: float | str | None, default: float) -> float:
    """A manifest duration in seconds; ``default`` when absent; ManifestError when unreadable."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(value.strip())
    if not m:
        raise ManifestError(f"'{value}' is not a duration", hint="write e.g. 30s, 5m, 1h or 500ms")
    return float(m.group("n")) * _UNITS[m.group("unit")]
