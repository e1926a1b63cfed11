"""Durations as gate.yaml writes them (a number of seconds, or '500ms', '30s', '5m', '1h'),
and ISO-8601 times as gate writes and reads them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

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


def iso_time(text: str) -> datetime:
    """An ISO-8601 time, 'Z' accepted (Python 3.10 does not read it); a time without an
    offset is UTC. ValueError if it is not one."""
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
