"""Every document gate reads is parsed in one place: gate.documents.

That is where duplicate keys are refused (with file:line), YAML is read as
YAML 1.2, NaN/infinity/huge numbers and lone surrogates are refused, and only
regular files are read. A module that calls json.loads or a YAML loader itself
skips all of it (a plan with two "steps" keys ran the last one), so this test
fails on any new direct parse. The allowed list below says why each is not a
document gate reads; HANDED_OFF lists parses in modules other people were
changing when this test was written, to route through gate.documents
(parse_json / parse_yaml / load_file) and then delete from the list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATE = Path(__file__).resolve().parent.parent / "gate"
PARSERS = {("json", "loads"), ("json", "load"), ("yaml", "load"), ("yaml", "safe_load"),
           ("yaml", "full_load"), ("yaml", "unsafe_load"), ("yaml", "load_all"),
           ("yaml", "safe_load_all"), ("yaml", "compose"), ("yaml", "compose_all")}

ALLOWED = {
    "documents.py": "the one place",
    "reports/lines.py": "composes (never constructs) a file already read strictly, only to "
                        "find a line; json.loads decodes one quoted step of a JSON path",
    "engines/regorus.py": "the engine's own answers (AST, results, coverage), not documents",
    "engines/bounded.py": "the evaluation child's answer over a pipe, not a document",
    "engines/opa_go.py": "the engine's own answers, not documents",
    "engines/opa_http.py": "the OPA server's answers, not documents",
    "engines/opa_server.py": "the OPA server's answers, not documents",
}

HANDED_OFF = {
    "rollback/runner.py": "re-reads the plan bytes the executor parsed strictly (same sha256)",
}


def direct_parses() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in sorted(GATE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and (node.func.value.id, node.func.attr) in PARSERS):
                found.setdefault(path.relative_to(GATE).as_posix(), []).append(node.lineno)
    return found


def test_documents_are_parsed_only_through_gate_documents() -> None:
    stray = {file: lines for file, lines in direct_parses().items()
             if file not in ALLOWED and file not in HANDED_OFF}
    assert not stray, (
        f"these modules parse JSON/YAML themselves: {stray}; use gate.documents.parse_json, "
        "parse_yaml or load_file, which refuse duplicate keys, YAML 1.1 numbers, NaN and "
        "special files")


@pytest.mark.slow  # parses every gate module again
def test_the_handed_off_list_only_names_modules_that_still_need_it() -> None:
    parses = direct_parses()
    done = [file for file in HANDED_OFF if (GATE / file).exists() and file not in parses]
    assert not done, f"{done} no longer parse directly: remove them from HANDED_OFF"
