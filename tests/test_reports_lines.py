"""JSON paths into input documents become lines for annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.reports.lines import line_of, parse_path

REPORT = """{
  "model_version": "2.5.0",
  "metrics": {
    "roc_auc": 0.928,
    "a.b": 1
  },
  "slices": [
    {"name": "eu"},
    {"name": "us"}
  ]
}
"""


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.metrics.roc_auc", ["metrics", "roc_auc"]),
        ('$.metrics["a.b"]', ["metrics", "a.b"]),
        ("$.metrics['a.b']", ["metrics", "a.b"]),
        ("$.slices[1].name", ["slices", 1, "name"]),
        ("/metrics/a~1b", ["metrics", "a/b"]),
        ("metrics.roc_auc", None),
        ("$.metrics[", None),
    ],
)
def test_parse_path(path: str, steps: list[str | int] | None) -> None:
    assert parse_path(path) == steps


def test_lines_in_json_and_yaml(tmp_path: Path) -> None:
    report = tmp_path / "eval.json"
    report.write_text(REPORT)
    assert line_of(report, '$.metrics["roc_auc"]') == 4
    assert line_of(report, '$.metrics["a.b"]') == 5
    assert line_of(report, "$.slices[1]") == 9
    assert line_of(report, "/slices/0/name") == 8
    lineage = tmp_path / "run.yaml"
    lineage.write_text("run:\n  id: r1\ndatasets:\n  - name: train\n    uri: s3://x\n")
    assert line_of(lineage, "$.datasets[0].uri") == 5


@pytest.mark.parametrize("path", ["$.metrics.nope", "$.slices[7]", "$.model_version.x", "$"])
def test_paths_that_are_not_there_have_no_line(tmp_path: Path, path: str) -> None:
    report = tmp_path / "eval.json"
    report.write_text(REPORT)
    assert line_of(report, path) is None


def test_other_formats_and_bad_files_have_no_line(tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text("---\nlicense: mit\n---\n")
    assert line_of(card, "$.license") is None
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert line_of(broken, "$.a") is None
    assert line_of(tmp_path / "missing.json", "$.a") is None
