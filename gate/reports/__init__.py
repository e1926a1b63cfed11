"""Every command's output formats: one Protocol, one registry, lazily imported modules.

``FORMATS`` maps each command that writes reports (check, verify, rollout,
drift) to its formats, and each format to the class that emits it. It is the
only list of them: ``--format``'s help, its parsing and what is written all
come from it. ``--format NAME[=PATH]`` picks a format; without a path a
document goes to its default file in the output folder, or to stdout if it
has none; the command's text summary goes to stdout unless another format
does (:func:`with_summary`). Reporters read what the command decided and
never re-evaluate anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TextIO, TypeVar

from gate.errors import UsageError
from gate.fsutil import inherited_fd, write_text

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

# ``--format NAME=-``: this format goes to stdout, whatever its default file.
STDOUT = Path("-")


def is_stdout(target: Path | None) -> bool:
    """``-``, or a path that names this process's standard output (``/dev/stdout``, …)."""
    if target is None:
        return False
    return target == STDOUT or inherited_fd(target) == 1


@dataclass(frozen=True)
class EmitContext:
    """Where reports go and how the terminal looks."""

    out_dir: Path
    stdout: TextIO
    color: bool
    env: Mapping[str, str]


class Reporter(Protocol[R_contra]):
    """Emit a report: to ``target`` if given (STDOUT for ``-``), else to its default place."""

    name: str
    takes_path: bool  # whether NAME=PATH means anything (else only NAME is accepted)

    def emit(self, report: R_contra, target: Path | None, ctx: EmitContext) -> None: ...

    def owns_stdout(self, target: Path | None) -> bool:
        """Whether this format writes a document to stdout, where no other text may go."""
        ...


class DocumentReporter(Generic[R]):
    """Base for formats that are one document: subclasses implement ``render``."""

    name = ""
    default_file: str | None = None  # None: stdout
    takes_path = True

    def render(self, report: R, ctx: EmitContext) -> str:
        raise NotImplementedError

    def owns_stdout(self, target: Path | None) -> bool:
        return is_stdout(target) or (target is None and not self.default_file)

    def emit(self, report: R, target: Path | None, ctx: EmitContext) -> None:
        text = self.render(report, ctx)
        if target is None and self.default_file:
            target = ctx.out_dir / self.default_file
        if target is None or target == STDOUT:
            ctx.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            write_text(target, text)


# command -> format -> "module:Class". A new format is one module (or class) and one line.
FORMATS: dict[str, dict[str, str]] = {
    "check": {
        "text": "gate.reports.text:TextReporter",
        "json": "gate.reports.json_report:JsonReporter",
        "sarif": "gate.reports.sarif:SarifReporter",
        "junit": "gate.reports.junit:JunitReporter",
        "markdown": "gate.reports.markdown:MarkdownReporter",
        "github": "gate.reports.github:GithubReporter",
        "gitlab": "gate.reports.gitlab:GitlabReporter",
    },
    "verify": {
        "text": "gate.reports.verify:TextReporter",
        "json": "gate.reports.verify:JsonReporter",
        "junit": "gate.reports.verify:JunitReporter",
    },
    "rollout": {
        "text": "gate.reports.rollout:TextReporter",
        "json": "gate.reports.rollout:JsonReporter",
    },
    "drift": {
        "text": "gate.reports.drift:TextReporter",
        "json": "gate.reports.drift:JsonReporter",
        "github": "gate.reports.drift:GithubOutputs",
        "gitlab": "gate.reports.drift:GitlabOutputs",
    },
}


def use_color(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (to anything)."""
    if "NO_COLOR" in env:
        return False
    if env.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_help(command: str) -> str:
    """``--format``'s help: the command's formats, from the registry."""
    return (f"{', '.join(FORMATS[command])}; to PATH, or to its default place without one "
            "(repeatable). The text summary goes to stdout unless another format does.")


def split_format(spec: str, known: Iterable[str], cwd: Path,
                 command: str = "") -> tuple[str, Path | None]:
    """``NAME[=PATH]`` -> (name, path relative to cwd or None); NAME must be in ``known``."""
    name, sep, path = spec.partition("=")
    name = name.strip().lower()
    choices = list(known)
    if name not in choices:
        where = f" for {command}" if command else ""
        raise UsageError(f"unknown format '{name}'{where}",
                         hint=f"choose from: {', '.join(choices)} (as NAME or NAME=PATH)")
    if sep and not path:
        raise UsageError(f"--format {spec}: the path after '=' is empty")
    if path == "-":
        return name, STDOUT
    return name, (cwd / path) if path else None


def parse_format(command: str, spec: str, cwd: Path) -> tuple[str, Path | None]:
    """``NAME[=PATH]`` with NAME one of ``command``'s formats (and PATH only where the
    format writes somewhere a path can name)."""
    name, target = split_format(spec, FORMATS[command], cwd, f"gate {command}")
    if target is not None and not get_reporter(command, name).takes_path:
        raise UsageError(f"--format {name} takes no path for gate {command}",
                         hint=f"write --format {name}")
    return name, target


def get_reporter(command: str, name: str) -> Reporter[Any]:
    """``command``'s reporter called ``name``; its module is imported only now."""
    known = FORMATS[command]
    target = known.get(name)
    if target is None:
        raise UsageError(f"unknown format '{name}' for gate {command}",
                         hint=f"choose from: {', '.join(known)}")
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UsageError(f"the format '{name}' is not available in this version of gate") from e
    reporter: Reporter[Any] = getattr(module, cls_name)()
    return reporter


def with_summary(command: str, wanted: Sequence[tuple[str, Path | None]]
                 ) -> list[tuple[str, Path | None]]:
    """The formats asked for, with the text summary first unless a document goes to stdout."""
    if any(get_reporter(command, name).owns_stdout(target) for name, target in wanted):
        return list(wanted)
    return [("text", None), *wanted]


def emit_all(command: str, report: Any, wanted: Iterable[tuple[str, Path | None]],
             ctx: EmitContext) -> None:
    """Emit ``report`` in every format asked for, in order."""
    for name, target in wanted:
        get_reporter(command, name).emit(report, target, ctx)
