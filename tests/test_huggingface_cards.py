"""Hugging Face model cards as huggingface_hub writes them.

Every card here is rendered by ``huggingface_hub.ModelCard`` from
``ModelCardData`` and ``EvalResult`` objects, with its default template or a
template string in the style of transformers' Trainer cards, and saved as
README.md, which serves as both the model card and the evaluation report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from gate.bundle import load_report
from gate.bundle.formats.card import read_card, sections
from gate.cli import cli
from gate.documents import InputFiles

ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}
TRAINER_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

## Model description

{{ description }}

## Intended uses & limitations

{{ intended }}

## Training and evaluation data

{{ data }}

## Training procedure

### Training hyperparameters

- learning_rate: 2e-05
"""


def imdb(split: str, metric: str, value: float, **extra: Any) -> EvalResult:
    return EvalResult(task_type="text-classification", dataset_type="imdb", dataset_name="IMDb",
                      dataset_config="plain_text", dataset_split=split, metric_type=metric,
                      metric_value=value, **extra)


def results(test_recall: float = 0.90) -> list[EvalResult]:
    """One split reported with a source, a dataset revision and metric arguments."""
    return [
        imdb("test", "accuracy", 0.93),
        imdb("test", "f1", 0.92, source_name="Leaderboard", source_url="https://example.com/lb"),
        imdb("test", "precision", 0.91, dataset_revision="c0ffee"),
        imdb("test", "recall", test_recall, metric_args={"average": "macro"}),
        imdb("validation", "accuracy", 0.94),
    ]


def card_data(**extra: Any) -> ModelCardData:
    return ModelCardData(language="en", license="mit", model_name="review-scorer",
                         eval_results=results(**extra), datasets=["imdb"])


def save(card: ModelCard, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    card.save(folder / "README.md")
    return folder


def test_results_of_one_split_are_one_slice(tmp_path: Path) -> None:
    folder = save(ModelCard.from_template(card_data(), model_id="review-scorer"), tmp_path)
    index = ModelCard.load(folder / "README.md").data.to_dict()["model-index"][0]["results"]
    splits = [(r["dataset"]["split"], r["dataset"].get("revision")) for r in index]
    assert splits[:2] == [("test", None), ("test", "c0ffee")]  # huggingface_hub's own split
    got = load_report(InputFiles(folder), "README.md", "evaluation report")
    assert got["metrics"] == {"accuracy": 0.93, "f1": 0.92, "recall": 0.90, "precision": 0.91}
    assert got["slices"] == [
        {"name": "plain_text/test", "count": None,
         "metrics": {"accuracy": 0.93, "f1": 0.92, "recall": 0.90, "precision": 0.91}},
        {"name": "plain_text/validation", "count": None, "metrics": {"accuracy": 0.94}},
    ]


def test_tasks_prefix_slice_names_when_they_differ(tmp_path: Path) -> None:
    extra = EvalResult(task_type="zero-shot-classification", dataset_type="imdb",
                       dataset_name="IMDb", dataset_config="plain_text", dataset_split="test",
                       metric_type="accuracy", metric_value=0.88)
    data = ModelCardData(license="mit", model_name="m", eval_results=[*results(), extra])
    folder = save(ModelCard.from_template(data), tmp_path)
    got = load_report(InputFiles(folder), "README.md", "evaluation report")
    assert [s["name"] for s in got["slices"]] == [
        "text-classification/plain_text/test", "text-classification/plain_text/validation",
        "zero-shot-classification/plain_text/test"]


def bundle(folder: Path, thresholds: dict[str, Any]) -> Path:
    manifest = {"version": 1, "model": {"name": "review-scorer", "version": "1.0.0",
                                        "card": "README.md"},
                "evaluation": {"report": "README.md"},
                "library": ["model_card", "evaluation"], "data": ["thresholds.json"],
                "rollback": {"target": {"version": "0.9.0"},
                             "steps": [{"name": "route", "run": ["true"]}]}}
    (folder / "gate.yaml").write_text(json.dumps(manifest))
    (folder / "thresholds.json").write_text(json.dumps({"gate": {"evaluation": thresholds}}))
    return folder


def check(folder: Path) -> Result:
    return CliRunner().invoke(cli, ["check", "--config", str(folder / "gate.yaml"),
                                    "--output-dir", str(folder.parent / "out")], env=ENV)


SLICE_FLOORS = {"slice_floors": {"accuracy": 0.9}, "floors": {"recall": 0.85}}


def test_a_filled_template_card_passes_the_library(tmp_path: Path) -> None:
    card = ModelCard.from_template(
        card_data(), model_id="review-scorer",
        direct_use="Ranking product reviews for moderation.",
        bias_risks_limitations="English only; sarcasm lowers recall.",
        training_data="IMDb train split, 25,000 reviews.",
        model_card_contact="ml-reviews@example.com")
    folder = bundle(save(card, tmp_path / "bundle"), SLICE_FLOORS)
    _, sections = read_card(InputFiles(folder), "README.md")
    assert sections["direct use"] == "Ranking product reviews for moderation."
    assert sections["training data"] == "IMDb train split, 25,000 reviews."
    result = check(folder)
    assert result.exit_code == 0, result.output


def test_an_unfilled_template_card_fails_on_each_missing_section(tmp_path: Path) -> None:
    card = ModelCard.from_template(card_data(), model_id="review-scorer")
    folder = bundle(save(card, tmp_path / "bundle"), SLICE_FLOORS)
    _, sections = read_card(InputFiles(folder), "README.md")
    assert sections["training data"] == ""  # only "[More Information Needed]" and a comment
    result = check(folder)
    assert result.exit_code == 1, result.output
    missing = sorted({line.split("'")[1] for line in result.output.splitlines()
                      if "the model card has no '" in line})
    assert missing == ["intended_use", "limitations", "owners", "training_data"]
    assert "GATE-EVAL-0" not in result.output  # the evaluation is fine: only the card fails


@pytest.mark.parametrize("recall", [0.80, 0.90])
def test_a_trainer_style_card(tmp_path: Path, recall: float) -> None:
    card = ModelCard.from_template(
        card_data(test_recall=recall), template_str=TRAINER_TEMPLATE,
        model_name="review-scorer", description="A fine-tuned DistilBERT.",
        intended="Moderation queues; not for legal decisions. Fails on sarcasm.",
        data="IMDb, plain_text config.")
    manifest = bundle(save(card, tmp_path / "bundle"), SLICE_FLOORS)
    data = json.loads((manifest / "thresholds.json").read_text())
    # This template has no contact section: the organisation asks for the rest.
    data["gate"]["model_card"] = {"required_fields": ["intended_use", "limitations",
                                                      "training_data", "license"]}
    (manifest / "thresholds.json").write_text(json.dumps(data))
    result = check(manifest)
    if recall < 0.85:
        assert result.exit_code == 1
        assert "GATE-EVAL-002" in result.output and "recall" in result.output
    else:
        assert result.exit_code == 0, result.output


def test_section_text_is_its_own_and_code_is_not_a_heading() -> None:
    body = ("# Title\n\nintro\n\n## Limitations [optional] ##\n<!-- a\nmulti-line comment -->\n"
            "[More Information Needed]\n\n### Known failures\nsarcasm\n\n"
            "## Uses\n```python\n# not a heading\n```\n\n## uses\nsecond, ignored\n#hashtag\n")
    got = sections(body)
    assert got["limitations"] == ""  # comment and placeholder only; the subsection is its own
    assert got["known failures"] == "sarcasm"
    assert got["uses"] == "```python\n# not a heading\n```"
    assert "not a heading" not in got and got["title"] == "intro"
