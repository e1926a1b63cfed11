"""gate.schemas.fastpath never accepts what jsonschema refuses (and accepts what gate writes).

The fast path exists for speed (a model folder of 100,000 files made jsonschema
take 10 s); it must never be less strict. Documents gate really reads and
writes are mutated at random (a key dropped, a value retyped, a string
emptied, an unknown key added...) and every time the fast path says "valid",
jsonschema must agree.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gate.cli import cli
from gate.documents import parse_yaml
from gate.schemas import first_problem, load_schema
from gate.schemas.fastpath import proves_valid

ROOT = Path(__file__).resolve().parent.parent
FAILING = ROOT / "examples" / "failing"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("fastpath")
    bundle = tmp / "bundle"
    shutil.copytree(FAILING, bundle)
    out = tmp / "out"
    env = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}
    CliRunner().invoke(cli, ["check", "--config", str(bundle / "gate.yaml"),
                             "--output-dir", str(out)], env=env)
    result = CliRunner().invoke(cli, ["input", "--config", str(bundle / "gate.yaml")], env=env)
    docs = {
        "manifest": parse_yaml((bundle / "gate.yaml").read_text()),
        "exceptions": parse_yaml((bundle / "exceptions.yaml").read_text()),
        "evaluation": json.loads((bundle / "reports" / "eval.json").read_text()),
        "decision": json.loads((out / "decision.json").read_text()),
        "rollback-plan": json.loads((out / "rollback-plan.json").read_text()),
    }
    if result.exit_code == 0:
        docs["input"] = json.loads(result.output)
    return docs


def test_what_gate_writes_and_reads_is_proved_valid(samples: dict[str, Any]) -> None:
    assert "input" in samples
    for name, doc in samples.items():
        schema = load_schema(name)
        assert Draft202012Validator(schema).is_valid(doc), name
        assert proves_valid(schema, doc), name  # else the fast path saves nothing


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["", " ", "x", "1.0.0", "2026-01-01", "pass", "fail", "critical", "run",
                     "GATE-EVAL-001", "a" * 70]),
    st.just([]), st.just({}), st.just([1, 1]), st.just({"unknown": 1}),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "extra" and isinstance(parent, dict):
        parent[f"extra_{last}"] = value
    elif how == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = value
    return doc


@pytest.mark.slow  # Hypothesis: 400 generated documents
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_is_never_less_strict_than_jsonschema(samples: dict[str, Any],
                                                            data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(samples)))
    doc = samples[name]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        how = data.draw(st.sampled_from(["set", "delete", "extra", "duplicate"]))
        if not path and how != "set":
            continue
        doc = _mutate(doc, path, how, data.draw(VALUES))
    schema = load_schema(name)
    if proves_valid(schema, doc):
        assert Draft202012Validator(schema).is_valid(doc), (name, doc)
    else:
        # whatever the fast path could not prove, first_problem still decides by jsonschema
        assert (first_problem(doc, name) is None) == Draft202012Validator(schema).is_valid(doc)


BOUND_CASES = [
    ("minimum", 2, [1, 2, 2.5, True, "1"]), ("maximum", 2, [1, 2, 3, None]),
    ("exclusiveMinimum", 2, [2, 3, 1.5]), ("exclusiveMaximum", 2, [2, 1, 2.5]),
    ("minLength", 2, ["a", "ab", "abc", ["a"], 1]),
    ("maxLength", 2, ["abc", "ab", ["a", "b", "c"]]),
    ("minItems", 1, [[], [0], "", {}]), ("maxItems", 1, [[0, 1], [0], "ab"]),
    ("minProperties", 1, [{}, {"a": 1}, []]), ("maxProperties", 1, [{"a": 1, "b": 2}, {}, "ab"]),
]


@pytest.mark.parametrize(("keyword", "bound", "values"), BOUND_CASES)
def test_every_bound_keyword_is_decided_as_jsonschema_decides_it(
        keyword: str, bound: int, values: list[Any]) -> None:
    schema = {keyword: bound}
    for value in values:
        assert proves_valid(schema, value) == Draft202012Validator(schema).is_valid(value), (
            keyword, value)


@pytest.mark.parametrize("keyword", [k for k, _, _ in BOUND_CASES])
def test_a_bound_that_is_not_a_number_is_left_to_jsonschema(keyword: str) -> None:
    value = {"minimum": 1, "maximum": 1, "exclusiveMinimum": 0, "exclusiveMaximum": 2,
             "minLength": "a", "maxLength": "a", "minItems": [1], "maxItems": [1],
             "minProperties": {"a": 1}, "maxProperties": {"a": 1}}[keyword]
    assert proves_valid({keyword: "1"}, value) is False  # not proved, and no TypeError
