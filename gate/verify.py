"""`gate verify`: the policies' own unit tests (``test_*`` rules), run as ``opa test`` runs them.

A test is a rule whose name starts with ``test_``, evaluated with no input: it
passes when it is defined and exactly ``true``; a test whose evaluation errors
fails with the engine's message. ``todo_test_*`` rules are reported as skipped.
A parameterized test (``test_x[tc.note] if { some tc in cases; … }``) counts one
result per case it produced, named ``test_x["<case>"]``; one that produced no
case at all fails.
Coverage counts the lines of the policy files (test files excluded) that the
tests evaluated. A module that does not compile is a PolicyError (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gate.documents import InputFiles
from gate.engines import EngineChoice, choose_engine, get_engine
from gate.engines.results import is_test_rule
from gate.errors import GateError, ManifestError, UsageError
from gate.library import DISPLAY_ROOT, merge_overrides
from gate.manifest import find_manifest, load_manifest
from gate.policy.loader import collect_data, collect_modules, is_test_file
from gate.policy.selection import load_policies, with_library
from gate.policy.source import Module, ref_text

Status = Literal["pass", "fail", "error", "skip"]
SKIP_PREFIX = "todo_test_"
VERIFY_ENGINES = ("opa-go", "regorus")  # the engines that run tests in process


@dataclass(frozen=True)
class TestCase:
    """One ``test_*`` rule: its package, name and where it is defined."""

    __test__ = False  # not a pytest class, despite the name

    package: str
    name: str
    file: str
    line: int
    package_path: tuple[str, ...] = ()
    parameterized: bool = False

    @property
    def id(self) -> str:
        return f"{self.package}.{self.name}"

    @property
    def ref(self) -> str:
        return ref_text("data", (*(self.package_path or self.package.split(".")), self.name))

    def case(self, key: str) -> TestCase:
        """One case of a parameterized test."""
        return TestCase(self.package, f"{self.name}[{json.dumps(key)}]", self.file, self.line,
                        self.package_path)

    @property
    def skipped(self) -> bool:
        return self.name.startswith(SKIP_PREFIX)


@dataclass(frozen=True)
class TestResult:
    """What one test did; ``message`` says why a test failed or errored."""

    __test__ = False

    case: TestCase
    status: Status
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class FileCoverage:
    """The lines of one policy file the tests evaluated, and those they did not."""

    file: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def lines(self) -> int:
        return len(self.covered) + len(self.not_covered)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.covered) / self.lines if self.lines else 100.0


@dataclass(frozen=True)
class VerifyReport:
    """The results of one run; the exit code is computed here and nowhere else."""

    results: tuple[TestResult, ...]
    coverage: tuple[FileCoverage, ...] | None = None
    coverage_min: float | None = None
    engine: str = ""

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def coverage_percent(self) -> float | None:
        """Covered lines over all policy files, in percent (None without coverage)."""
        if self.coverage is None:
            return None
        total = sum(f.lines for f in self.coverage)
        covered = sum(len(f.covered) for f in self.coverage)
        return 100.0 * covered / total if total else 100.0

    @property
    def coverage_ok(self) -> bool:
        percent = self.coverage_percent
        return self.coverage_min is None or (percent is not None and percent >= self.coverage_min)

    @property
    def exit_code(self) -> int:
        """0 when no test failed or errored and coverage reaches the minimum; else 1.

        Skipped (``todo_test_``) tests do not count either way. Compile errors
        never reach a report: they are PolicyErrors, exit 2.
        """
        if self.count("fail") or self.count("error") or not self.coverage_ok:
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        """The run as JSON (``gate verify --format json``): tests, counts, coverage."""
        doc: dict[str, Any] = {
            "tests": [
                {"id": r.case.id, "package": r.case.package, "name": r.case.name,
                 "file": r.case.file, "line": r.case.line, "status": r.status,
                 "message": r.message, "seconds": round(r.seconds, 6)}
                for r in self.results
            ],
            "summary": {s: self.count(s) for s in ("pass", "fail", "error", "skip")},
            "exit_code": self.exit_code,
            "engine": self.engine,
        }
        if self.coverage is not None:
            doc["coverage"] = {
                "percent": self.coverage_percent,
                "min": self.coverage_min,
                "files": [{"file": f.file, "percent": f.percent, "covered": list(f.covered),
                           "not_covered": list(f.not_covered)} for f in self.coverage],
            }
        return doc


@dataclass(frozen=True)
class Sources:
    """The modules and data a verify run loads, and how to name them to a user.

    ``measured`` are the files coverage is reported for: the policies under
    test, not the library a manifest merely enables (its tests are not run).
    """

    modules: list[Module]
    data: dict[str, Any]
    described: str
    measured: frozenset[str] = frozenset()


def discover_tests(modules: Iterable[Module]) -> list[TestCase]:
    """Every ``test_*`` / ``todo_test_*`` rule (not function), once per package, in source order."""
    cases: dict[str, TestCase] = {}
    for module in modules:
        for rule in module.rules:
            if not (is_test_rule(rule.name) or rule.name.startswith(SKIP_PREFIX)):
                continue
            if rule.kind == "function" or len(rule.path) > 1:
                continue
            case = TestCase(module.package, rule.name, module.path, rule.line,
                            module.package_path, parameterized=rule.kind == "object")
            cases.setdefault(case.id, case)
    return list(cases.values())


def _judge(case: TestCase, value: Any, defined: bool, seconds: float) -> list[TestResult]:
    """The result(s) of one test rule's value: one per case of a parameterized test."""
    if case.parameterized and defined and isinstance(value, dict) and value:
        return [
            TestResult(case.case(str(key)), "pass" if v is True else "fail",
                       "" if v is True else _fail_message(v, True), seconds / len(value))
            for key, v in sorted(value.items())
        ]
    if case.parameterized:
        return [TestResult(case, "fail", "the parameterized test produced no case: every "
                           "case's body was false or undefined", seconds)]
    if defined and value is True:
        return [TestResult(case, "pass", "", seconds)]
    return [TestResult(case, "fail", _fail_message(value, defined), seconds)]


def _fail_message(value: Any, defined: bool) -> str:
    if not defined:
        return "the test is undefined: an expression in its body was false or undefined"
    return f"the test evaluated to {json.dumps(value)}, not true"


def run_tests(
    modules: Sequence[Module],
    data: Mapping[str, Any],
    *,
    coverage: bool = False,
    coverage_min: float | None = None,
    measured: Iterable[str] | None = None,
    engine: EngineChoice | None = None,
) -> VerifyReport:
    """Compile ``modules`` with ``data`` and run every test in them (see module docstring).

    Coverage is reported for ``measured`` (default: every module not a test file).
    """
    cases = discover_tests(modules)
    runnable = [c for c in cases if not c.skipped]
    choice = engine or choose_engine(None)
    if choice.name not in VERIFY_ENGINES:
        raise UsageError(f"gate verify runs on {' or '.join(VERIFY_ENGINES)}, not {choice.name}",
                         hint="choose --engine opa-go or --engine regorus")
    runner: Any = get_engine(choice.name)
    try:
        runner.prepare(modules, data)
        each = runner.evaluate_each([c.ref for c in runnable], coverage=coverage or
                                    coverage_min is not None)
        engine_label = f"{runner.name} {runner.version()}"
    finally:
        runner.close()
    results = []
    for case in cases:
        seconds = each.seconds.get(case.ref, 0.0)
        if case.skipped:
            results.append(TestResult(case, "skip"))
        elif case.ref in each.errors:
            results.append(TestResult(case, "error", describe_error(each.errors[case.ref]),
                                      seconds))
        else:
            results.extend(_judge(case, each.values.get(case.ref), case.ref in each.values,
                                  seconds))
    files = None
    if coverage or coverage_min is not None:
        if measured is None:
            measured = {m.path for m in modules if not is_test_file(Path(m.path))}
        files = tuple(
            FileCoverage(path, *each.coverage.get(path, ((), ())))
            for path in sorted(set(measured))
        )
    return VerifyReport(tuple(results), files, coverage_min, engine_label)


def load_sources(
    paths: Sequence[str],
    *,
    config: str | None = None,
    data_paths: Sequence[str] = (),
    library: bool = False,
    cwd: Path | None = None,
) -> Sources:
    """What to test: ``paths``; else the library alone with ``library``; else the
    manifest's policies and data (and the library packages its ``library:``
    enables, without their tests); else ``policies/`` in the working directory
    with the data documents in ``policies/data/``.

    ``data_paths`` are always added. Library defaults are the base that the
    other data documents override key by key.
    """
    cwd = cwd or Path.cwd()
    files = InputFiles(cwd)
    modules: list[Module] = []
    data: dict[str, Any] = {}
    described: list[str] = []
    if paths:
        roots = [_existing(cwd, p, "policy path") for p in paths]
        modules = collect_modules(files, roots, include_tests=True)
        # The layout `gate init` writes: data documents in a data/ folder beside the policies.
        data = collect_data(files, [r / "data" for r in roots if (r / "data").is_dir()])
        described = list(paths)
    elif not library:
        manifest_path = _manifest_path(config, cwd)
        if manifest_path is not None:
            manifest = load_manifest(manifest_path)
            files = manifest.files
            # With the library packages it enables (their own tests are not run).
            modules, data = load_policies(manifest, cwd=cwd, include_tests=True)
            described = [f"{manifest.path.name} policies ({', '.join(manifest.policies)})"]
        else:
            root = _existing(cwd, "policies", "policy folder", hint=(
                "name the policy files or folders to test, add a gate.yaml, "
                "or pass --library to test the built-in library"))
            modules = collect_modules(files, [root], include_tests=True)
            if (root / "data").is_dir():
                data = collect_data(files, [root / "data"])
            described = ["policies/"]
    user_data = collect_data(files, [_existing(cwd, p, "--data") for p in data_paths])
    data = merge_overrides(data, user_data)
    if library:
        modules, data = with_library(modules, data, True, include_tests=True)
        described.append("the built-in library")
    # Coverage is measured over the policies under test: the library's only with --library.
    measured = {m.path for m in modules if not is_test_file(Path(m.path))
                and (library or not m.path.startswith(DISPLAY_ROOT))}
    if not modules:
        raise UsageError(f"no Rego files in {' and '.join(described)}",
                         hint="name the folders that hold your .rego and _test.rego files")
    return Sources(modules, data, " and ".join(described), frozenset(measured))


def _existing(cwd: Path, rel: str, what: str, hint: str | None = None) -> Path:
    path = (cwd / rel).resolve()
    if not path.exists():
        raise UsageError(f"{what} '{rel}' does not exist", path=rel, hint=hint)
    return path


def _manifest_path(config: str | None, cwd: Path) -> Path | None:
    try:
        return find_manifest(config, cwd)
    except ManifestError:
        if config:
            raise
        return None


@dataclass(frozen=True)
class VerifyOptions:
    """What `gate verify` was asked: where the policies are, the data, coverage, engine."""

    paths: tuple[str, ...] = ()
    config: str | None = None
    data_paths: tuple[str, ...] = ()
    library: bool = False
    coverage: bool = False
    coverage_min: float | None = None
    engine: str | None = None
    cwd: Path = field(default_factory=Path.cwd)


def run_verify(opts: VerifyOptions) -> VerifyReport:
    """Find the policies and their tests, run them; errors are raised (exit 2)."""
    sources = load_sources(opts.paths, config=opts.config, data_paths=opts.data_paths,
                           library=opts.library, cwd=opts.cwd)
    report = run_tests(sources.modules, sources.data, coverage=opts.coverage,
                       coverage_min=opts.coverage_min, measured=sources.measured,
                       engine=choose_engine(opts.engine))
    require_tests(report, sources.described)
    return report


def require_tests(report: VerifyReport, described: str) -> None:
    """A run that found no tests proves nothing: refuse it as an error (fail closed)."""
    if not report.results:
        raise UsageError(
            f"no test_* rules in {described}",
            hint="write tests beside each policy (<name>_test.rego), as for `opa test`",
        )


# --- rendering ----------------------------------------------------------------------------


def describe_error(e: GateError) -> str:
    """A one-line error for a test case (file:line: message)."""
    return f"{e.where}: {e.message}" if e.where else e.message
