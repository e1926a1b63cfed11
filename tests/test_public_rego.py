"""Rego nobody here wrote: conftest's example policies and their tests, through `gate verify`.

Each folder runs on both in-process engines. The engines must give every test
the same status, and the outcome must be what conftest's own acceptance tests
(acceptance.bats) expect of `conftest verify` where they state it. Folders whose
tests call conftest's own built-ins (parse_config, parse_combined_config_files)
are refused by both engines with the function named: gate has no such built-ins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import cli

pytest.importorskip("opa_bindings")

EXAMPLES = Path(__file__).parent / "public" / "conftest" / "examples"

# folder, extra arguments, exit code (from acceptance.bats where it says), passing tests
CASES = [
    ("kubernetes/policy", [], 0, 4),  # "Can verify rego tests"
    ("traefik/policy", [], 1, 0),  # "Fail when unit test rego"
    ("data/policy", ["-d", "data/exclusions"], 0, 1),
    ("dotenv/policy", [], 0, 4),
    ("report/success", ["-p", "report/policy"], 0, 1),
    ("report/fail", ["-p", "report/policy"], 1, 0),  # "--report fails" exits 1
    ("hcl2/policy", [], 2, 0),  # parse_config: a conftest built-in
    ("jenkins/policy", [], 2, 0),
    ("nginx/policy", [], 2, 0),
    ("kubernetes/combine", [], 2, 0),  # parse_combined_config_files
]


def verify(folder: str, extra: list[str], engine: str, monkeypatch: pytest.MonkeyPatch,
           ) -> tuple[int, dict[str, str], str]:
    monkeypatch.chdir(EXAMPLES)
    result = CliRunner().invoke(cli, ["verify", "-p", folder, *extra, "--engine", engine,
                                      "--format", "json"])
    if result.exit_code == 2:
        return 2, {}, result.stderr
    doc = json.loads(result.stdout)
    return result.exit_code, {t["id"]: t["status"] for t in doc["tests"]}, ""


@pytest.mark.parametrize(("folder", "extra", "code", "passing"), CASES,
                         ids=[c[0] for c in CASES])
def test_conftest_examples_agree_on_both_engines(
    folder: str, extra: list[str], code: int, passing: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    opa = verify(folder, extra, "opa-go", monkeypatch)
    regorus = verify(folder, extra, "regorus", monkeypatch)
    assert opa[0] == regorus[0] == code, (opa, regorus)
    assert opa[1] == regorus[1]
    assert sum(1 for s in opa[1].values() if s == "pass") == passing
    if code == 2:
        assert "parse_c" in opa[2] and "parse_c" in regorus[2]  # the function is named
