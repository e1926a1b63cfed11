"""The Markdown summary, parsed by markdown-it-py (CommonMark with GFM tables).

The tables must come out as tables with the intended cells, text from policies
must come out as the same text (never as markup or HTML), and file locations
link to the commit on GitHub and GitLab.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from report_cases import SHA, emit

from gate.reports.markdown import code, text

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def inline_text(token: Token) -> str:
    """What a reader sees of an inline token: text, code, and <br> as a line break."""
    out = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak") or (
                child.type == "html_inline" and child.content == "<br>"):
            out.append("\n")
        elif child.type in ("link_open", "link_close", "strong_open", "strong_close"):
            continue
        else:
            out.append(f"<{child.type}>")
    return "".join(out)


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header row first)."""
    found: list[list[list[str]]] = []
    row: list[str] = []
    in_cell = False
    for tok in MD.parse(markdown):
        if tok.type == "table_open":
            found.append([])
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("th_open", "td_open"):
            in_cell = True
            row.append("")
        elif tok.type in ("th_close", "td_close"):
            in_cell = False
        elif tok.type == "inline" and in_cell:
            row[-1] = inline_text(tok)
        elif tok.type == "tr_close":
            found[-1].append(row)
    return found


def summary(variant: str, tmp: Path, mp: pytest.MonkeyPatch) -> str:
    files = emit(variant, ["markdown"], tmp, mp)
    return files["summary.md"].read_text("utf-8")


@pytest.fixture
def failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return summary("fail", tmp_path, monkeypatch)


def test_findings_table_keeps_policy_text_as_text(failing: str) -> None:
    findings = tables(failing)[0]
    assert findings[0] == ["", "Finding", "Severity", "Message", "Where"]
    assert all(len(row) == 5 for row in findings)
    assert [row[1] for row in findings[1:]] == [
        "QA-001 AUC floor", "QA-002 Slice recall, per segment",
        "QA-002 Slice recall, per segment", "GATE-SIGNOFF-000 Approvals are not verified",
        "PERF-001 Latency budget",
        "ART-001 No pickle artifacts"]
    assert findings[2][3] == ("slice <mobile>: recall 0.58 < 0.7, 100% of rows checked\n"
                              "see the slice report")
    assert findings[3][3].startswith("slice us|ca: recall 0.61")
    assert [row[4] for row in findings[1:]] == [
        "bundle/eval.json:3", "bundle/policies/release.rego:32",
        "bundle/policies/release.rego:32", "bundle/exceptions.yaml", "bundle/eval.json:4",
        "bundle/model.bin"]
    html = MD.render(failing)
    assert "<mobile>" not in html and "&lt;mobile&gt;" in html


def test_sections_a_reviewer_needs(failing: str) -> None:
    tokens = MD.parse(failing)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["❌ gate: FAIL · churn-model 3.1.0", "How to fix", "Waivers",
                        "What happens next"]
    waivers = tables(failing)[1]
    assert waivers[1] == ["ART-001 model.bin may be a pickle",
                          "pickle accepted for the offline batch scorer only, see RISK-77",
                          "risk@example.com", "2099-12-31"]
    start = next(i for i, t in enumerate(tokens) if t.type == "ordered_list_open")
    end = next(i for i, t in enumerate(tokens) if t.type == "ordered_list_close")
    steps = [inline_text(t) for t in tokens[start:end] if t.type == "inline"]
    assert steps == ["route: run ./deploy.sh route churn-model 3.0.2 (timeout 30s, 1 retry)",
                     'announce: http POST https://chat.example/hooks/ml  '
                     '{"text": "rolled back churn-model"} (timeout 300s)']
    assert "was refused: the rule is hard-mandatory" in failing


def links(markdown: str) -> list[str]:
    return [str(t.attrs["href"]) for tok in MD.parse(markdown) if tok.type == "inline"
            for t in tok.children or [] if t.type == "link_open"]


def test_locations_link_to_the_commit_on_github(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    files = emit("fail-github", ["markdown"], tmp_path, monkeypatch)
    hrefs = links(files["summary.md"].read_text("utf-8"))
    assert f"https://github.com/acme/models/blob/{SHA}/bundle/eval.json#L3" in hrefs
    assert f"https://github.com/acme/models/blob/{SHA}/bundle/model.bin" in hrefs


def test_locations_link_to_the_commit_on_gitlab(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    hrefs = links(summary("fail-gitlab", tmp_path, monkeypatch))
    assert (f"https://gitlab.example.com/acme/models/-/blob/{SHA}/bundle/policies/release.rego#L32"
            in hrefs)


def test_passing_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    md = summary("pass", tmp_path, monkeypatch)
    assert md.startswith("## ✅ gate: PASS · churn-model 3.1.0\n\n**The deploy may proceed.**")
    assert "What happens next" not in md


TRICKY = st.text(alphabet="ab _*~`|<>&#;\\[]()!-.:x1\n", min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(TRICKY)
def test_any_text_reads_back_unchanged_in_a_table_cell(value: Any) -> None:
    lines = [" ".join(line.split()) for line in value.split("\n")]
    value = "\n".join(line for line in lines if line)
    if not value:
        return
    table = f"| a |\n|---|\n| {text(value)} |\n"
    rows = tables(table)[0]
    assert rows[1] == [value]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab `|<>&x1", min_size=1, max_size=30))
def test_any_code_reads_back_unchanged_in_a_table_cell(value: str) -> None:
    value = " ".join(value.split())
    if not value:
        return
    rows = tables(f"| a |\n|---|\n| {code(value)} |\n")[0]
    assert re.sub(r"\s+", " ", rows[1][0]) == value
