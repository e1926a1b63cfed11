"""Report formats: one Protocol, a flat registry of lazily imported modules.

``--format NAME[=PATH]`` picks a reporter; without a path a document format
goes to its default file in the output folder, or to stdout if it has none.
Reporters read a CheckReport and never re-evaluate anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from gate.errors import UsageError
from gate.fsutil import inherited_fd, write_text
from gate.report import CheckReport

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


class Reporter(Protocol):
    """Emit a report: to ``target`` if given (STDOUT for ``-``), else to its default place."""

    name: str

    def emit(self, report: CheckReport, target: Path | None, ctx: EmitContext) -> None: ...

    def owns_stdout(self, target: Path | None) -> bool:
        """Whether this format writes a document to stdout, where no other text may go."""
        ...


class DocumentReporter:
    """Base for formats that are one document: subclasses implement ``render``."""

    name = ""
    default_file: str | None = None  # None: stdout

    def render(self, report: CheckReport, ctx: EmitContext) -> str:
        raise NotImplementedError

    def owns_stdout(self, target: Path | None) -> bool:
        return is_stdout(target) or (target is None and not self.default_file)

    def emit(self, report: CheckReport, target: Path | None, ctx: EmitContext) -> None:
        text = self.render(report, ctx)
        if target is None and self.default_file:
            target = ctx.out_dir / self.default_file
        if target is None or target == STDOUT:
            ctx.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            write_text(target, text)


# name -> "module:Class"; a new format is one module and one line here.
REPORTERS: dict[str, str] = {
    "text": "gate.reports.text:TextReporter",
    "json": "gate.reports.json_report:JsonReporter",
    "sarif": "gate.reports.sarif:SarifReporter",
    "junit": "gate.reports.junit:JunitReporter",
    "markdown": "gate.reports.markdown:MarkdownReporter",
    "github": "gate.reports.github:GithubReporter",
    "gitlab": "gate.reports.gitlab:GitlabReporter",
}


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


def parse_format(spec: str, cwd: Path) -> tuple[str, Path | None]:
    """A `gate check` format: ``NAME[=PATH]`` with NAME a registered reporter."""
    return split_format(spec, REPORTERS, cwd)


def get_reporter(name: str) -> Reporter:
    """The reporter called ``name``; its module is imported only now."""
    target = REPORTERS.get(name)
    if target is None:
        raise UsageError(f"unknown format '{name}'", hint=f"choose from: {', '.join(REPORTERS)}")
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise UsageError(f"the format '{name}' is not available in this version of gate") from e
    reporter: Reporter = getattr(module, cls_name)()
    return reporter
