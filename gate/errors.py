"""One error root for everything a user can get wrong; the CLI maps it to exit 2.

Every error names the file, where it applies the place in it (a line and column
for policies and YAML syntax; for a place inside a document, its JSON path),
and says what to do. Code that catches a lower-level exception wraps it with
the step and the place: ``raise BundleError(f"lineage: {why}", path=p) from e``.

A place inside a document is written one way wherever gate shows it: the JSON
path ``$.steps[0].run`` (``$`` is the whole document, ``[0]`` an index, ``.key``
a key that is an identifier, ``["a-b"]`` any other key, as a JSON string).
``json_path`` is the one function that writes it from the path's parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def _quoted(key: str) -> str:
    """``key`` as a JSON string, with every character that does not print escaped."""
    import json  # only for keys that are not identifiers

    text = json.dumps(key, ensure_ascii=False)  # escapes quotes, backslashes, C0 controls
    if text.isprintable():
        return text
    # Format, bidirectional and other controls, separators, lone surrogates: \uXXXX, so
    # the place shows as what it is and reads back exactly (json.loads).
    return "".join(ch if ch.isprintable() else json.dumps(ch)[1:-1] for ch in text)


def json_path(parts: Iterable[object], start: str = "$") -> str:
    """The place ``parts`` name inside a document: ``$.metrics.auc``, ``$.steps[0].run``.

    The one function that renders a place (see the module docstring): an int is
    an index (``[0]``); a key that is an ASCII identifier follows a dot
    (``.roc_auc``); any other key is a JSON string in brackets (``["roc-auc"]``,
    ``["a.b"]``, ``["0"]``, ``["é"]``, ``[""]``) with every character that does
    not print (controls, zero-width and bidirectional characters, lone
    surrogates) written as ``\\uXXXX``. ``start`` is a place already rendered
    that ``parts`` continue: ``json_path(["env", name], "$.steps[0]")``.
    """
    out = start
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
            continue
        key = str(part)
        out += f".{key}" if key.isascii() and key.isidentifier() else f"[{_quoted(key)}]"
    return out


def _text(value: str) -> str:
    """``value`` as text any output can hold: a lone surrogate (from a JSON ``"\\ud800"``
    or a file name that is not UTF-8) is shown as its escape, not raised on when written."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


class GateError(Exception):
    """A problem with the user's input or environment; the gate fails closed (exit 2)."""

    exit_code = 2
    default_hint = "fix the input named above and run gate again"

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        pointer: str | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        message = _text(message)
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.pointer = pointer
        self.line = line
        self.col = col
        self.hint = hint or self.default_hint

    def __setattr__(self, name: str, value: object) -> None:
        # Every text attribute passes here, in __init__ and when callers fill in the path and
        # pointer later (``e.path = shown``): each is kept as text any output can hold.
        if name in ("message", "path", "pointer", "hint") and isinstance(value, str):
            value = _text(value)
        super().__setattr__(name, value)

    @property
    def where(self) -> str:
        """``file:line:col`` or ``file at $.json.path`` (see ``json_path``); empty when no
        file applies."""
        if self.path is None:
            return ""
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        if self.pointer is not None:
            where += f" at {self.pointer or '$'}"
        return where

    def render(self) -> str:
        """The one paragraph a user sees: what, where, and what to do."""
        kind = type(self).__name__.removesuffix("Error").lower() or "gate"
        head = f"gate: {kind} error"
        if self.where:
            head += f" in {self.where}"
        return f"{head}: {self.message}\n  -> {self.hint}"

    def to_json(self) -> dict[str, object]:
        """The error as recorded in decision.json."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "path": self.path,
            "pointer": self.pointer,
            "line": self.line,
            "col": self.col,
            "hint": self.hint,
        }


class UsageError(GateError):
    """Options that cannot work together, or a missing required file."""

    default_hint = "see `gate --help` for the options"


class ManifestError(GateError):
    """gate.yaml is missing, unreadable, or invalid."""

    default_hint = "fix gate.yaml (`gate schema manifest` prints its schema)"


class DocumentError(GateError):
    """A bundle document is unreadable, malformed, or fails its schema."""

    default_hint = "fix the document named above; it must match its JSON Schema (`gate schema`)"


class BundleError(GateError):
    """A file of the release bundle is missing, escapes the bundle, or cannot be read."""

    default_hint = (
        "check the path in gate.yaml; paths are relative to its folder and may not leave it"
    )


class PolicyError(GateError):
    """A Rego policy or data document does not compile or does not evaluate."""

    default_hint = "fix the policy at the place named above (`gate verify` runs its tests)"


class EngineError(GateError):
    """The policy engine failed, crashed, or cannot be reached."""

    default_hint = "this is not a verdict on the model; fix the engine set-up and run again"


class ValidationError(GateError):
    """A data-validation suite cannot be run (unknown expectation, bad data source)."""

    default_hint = "fix the validation named above in gate.yaml or its suite"


class DriftError(GateError):
    """A drift check cannot run: a missing column, types that differ, no rows, no database."""

    default_hint = "fix the drift check named above in gate.yaml, or its data"


class RollbackError(GateError):
    """A rollback plan is invalid or cannot be executed."""

    default_hint = "check the plan against `gate schema rollback-plan`"


class RolloutError(GateError):
    """The rollout state or the monitoring data cannot continue the stage's analysis."""

    default_hint = (
        "fix the file named above, or start the stage's analysis over with --reset-state"
    )
