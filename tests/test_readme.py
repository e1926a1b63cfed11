"""The README shows what gate prints: its sample output is checked against a real run.

A line ``...`` in the README's block stands for any number of lines of the real
output (the README shortens it); every other line must match, in order.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gate.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def readme_block(after: str) -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    start = text.index(after)
    block = re.search(r"```text\n(.*?)```", text[start:], flags=re.S)
    assert block is not None, f"no text block after {after!r}"
    return block.group(1).splitlines()


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether ``shown`` is ``actual`` with runs of lines replaced by ``...`` lines."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(line) + r"\n"
                      for line in shown)
    return re.fullmatch(pattern, "".join(f"{line}\n" for line in actual)) is not None


def test_the_matcher_needs_every_shown_line_in_order() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert not matches(["a", "...", "d"], ["a", "b", "c", "e"])
    assert not matches(["b", "a"], ["a", "b"])


def test_the_readme_sample_is_what_make_demo_prints(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.engines import opa_go

    # `make demo` installs gate alone, so OPA's engine is not there and regorus runs.
    monkeypatch.setattr(opa_go, "unavailable_reason",
                        lambda: "opa-golib-python-bindings is not installed")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["check", "--config", "examples/failing/gate.yaml",
              "--output-dir", "gate-report/failing"],
        env={"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": "", "COLUMNS": "100"})
    assert result.exit_code == 1
    shown = readme_block("What `make demo` prints for the failing bundle")
    assert matches(shown, result.output.splitlines()), (
        "the README's sample output is stale; the real output is:\n" + result.output)


def test_the_readme_ci_excerpts_stand_in_the_tested_set_ups() -> None:
    """Each YAML excerpt in the README is lines of a snippet docs/ci.md tests, as written."""
    readme = (ROOT / "README.md").read_text("utf-8")
    excerpts = re.findall(r"<!-- excerpt of docs/ci.md -->\n```yaml\n(.*?)```", readme, re.S)
    assert len(excerpts) == 3
    tested = re.findall(r"<!-- tested: [^>]*-->\n```yaml\n(.*?)```",
                        (ROOT / "docs" / "ci.md").read_text("utf-8"), re.S)
    for excerpt in excerpts:
        lines = excerpt.splitlines()
        assert any("\n".join(lines) in snippet for snippet in tested), excerpt
