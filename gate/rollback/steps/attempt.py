"""The outcome of one attempt at a step: plain immutable data every step kind returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OUTPUT_TAIL = 4000  # characters of output kept per attempt in the journal


def tail(data: bytes, limit: int = OUTPUT_TAIL) -> str:
    """The last ``limit`` characters of some output, decoded leniently."""
    return data[-limit * 4:].decode("utf-8", errors="replace")[-limit:]


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt at a step's action (or its verification)."""

    ok: bool
    summary: str  # one line: "exit 0", "HTTP 204", "timed out after 60s", ...
    output: str = ""  # the tail of the command's output or the response body
    exit_code: int | None = None
    status: int | None = None
    timed_out: bool = False
    # The attempt could not start and another try cannot change that (a missing or
    # non-executable program, an unset variable): the step fails without its retries.
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary, "exit_code": self.exit_code,
                "status": self.status, "timed_out": self.timed_out,
                "output_tail": self.output[-OUTPUT_TAIL:],
                **({"final": True} if self.final else {})}
