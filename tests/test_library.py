"""The built-in policy library, evaluated the way `gate check` evaluates it.

A clean release triggers no rule; each case below breaks one thing and must
produce exactly the finding it names, with an actionable message. The Rego
unit tests beside each package (run by `gate verify --library`) cover the
edge cases; these tests pin the output contract: ids, METADATA, details.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.decision import ENFORCEMENTS, SEVERITIES, Finding
from gate.engines.regorus import RegorusEngine
from gate.engines.results import findings_from, rule_kind, rule_sites
from gate.errors import ManifestError
from gate.library import (
    PACKAGES,
    RESOURCE_PACKAGE,
    library_defaults,
    library_modules,
    merge_overrides,
    selected_packages,
)
from gate.schemas import validate

SHA_MODEL = "ed56807bcb42965f9ef5b09ba3145fab4cfb4cd7edde557144d41eec8baf079c"
SHA_TRAIN = "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"
SHA_TEST = "7c211433f02071597741e6ff5a8ea34789abbf4378a3c0ae0fc3b1f4c9d6e2a1"

CLEAN: dict[str, Any] = {
    "model": {
        "name": "fraud-detector",
        "version": "2.4.0",
        "card": {
            "intended_use": "Score card-not-present transactions for fraud risk.",
            "limitations": "Precision drops on merchants with few transactions.",
            "owners": ["risk-ml@example.com"],
            "license": "apache-2.0",
            "training_data": "card transactions 2025, 4.1M rows",
        },
        "artifacts": [{"path": "artifacts/model.safetensors", "sha256": SHA_MODEL,
                       "size_bytes": 348, "format": "safetensors"}],
        "signature": {"present": True, "verified": True, "method": "key",
                      "signer": "key sha256:" + SHA_TRAIN, "file": "model.sig",
                      "root": "artifacts", "covered": ["artifacts/model.safetensors"],
                      "uncovered": [], "error": None},
    },
    "lineage": {
        "run": {"id": "run-1", "started_at": None, "ended_at": None, "producer": None},
        "code": {"repository": "https://git.example.com/risk/fraud.git",
                 "commit": "8f3c2a1d9e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a"},
        "datasets": [
            {"name": "train", "uri": "s3://risk/2025/train.parquet", "sha256": SHA_TRAIN,
             "role": "train"},
            {"name": "test", "uri": "s3://risk/2025/test.parquet", "sha256": SHA_TEST,
             "role": "test"},
        ],
        "outputs": [{"name": "artifacts/model.safetensors", "uri": None, "sha256": SHA_MODEL}],
        "raw": {},
    },
    "evaluation": {
        "metrics": {"roc_auc": 0.95, "recall": 0.8},
        "slices": [
            {"name": "region=eu", "metrics": {"roc_auc": 0.951}, "count": 1000},
            {"name": "region=us", "metrics": {"roc_auc": 0.94}, "count": 500},
        ],
        "baseline": {"model_version": "2.3.1", "metrics": {"roc_auc": 0.941, "recall": 0.79},
                     "slices": []},
        "comparison": {},
    },
    "validations": [{
        "name": "eval-slices", "suite": "suites/eval.json", "data": "reports/slices.csv",
        "success": True, "statistics": {"evaluated": 1, "successful": 1, "unsuccessful": 0},
        "results": [{"expectation": "expect_column_values_to_not_be_null", "column": "score",
                     "success": True}],
    }],
    "rollout": {"stages": [
        {"name": "canary-5", "weight": 5, "bake": "30m",
         "analysis": [{"metric": "error_rate", "max": 0.02}]},
        {"name": "full", "weight": 100},
    ]},
    "drift": [{
        "name": "transactions",
        "reference": {"data": "ref.parquet", "rows": 50000, "window": {"start": "2026-09-01"}},
        "current": {"data": "cur.parquet", "rows": 48000, "window": None},
        "features": [
            {"name": "amount", "kind": "numeric", "n": {"reference": 50000, "current": 48000},
             "missing_share": {"reference": 0.0, "current": 0.0},
             "statistics": {"psi": 0.01, "ks": 0.01, "ks_p_value": 0.5, "wasserstein": 0.1,
                            "wasserstein_norm": 0.02}},
            {"name": "country", "kind": "categorical",
             "n": {"reference": 50000, "current": 48000},
             "missing_share": {"reference": 0.0, "current": 0.0},
             "statistics": {"chi2": 2.0, "chi2_p_value": 0.5, "jensen_shannon": 0.01,
                            "linf": 0.01},
             "unseen": {"count": 0, "categories": 0, "share": 0.0, "values": []}},
        ],
    }],
    "ci": {"platform": "local"},
}
ROLLBACK = {"target": {"version": "2.3.1"}, "steps": [{"name": "route", "run": ["./deploy.sh"]}]}

# Settings a project would set: every evaluation rule has something to check.
SETTINGS = {"gate": {"evaluation": {
    "floors": {"roc_auc": 0.9},
    "ceilings": {"recall": 0.99},
    "thresholds": {"roc_auc": {"threshold": 0.9, "min_absolute_change": -0.01,
                               "min_relative_change": -0.01, "greater_is_better": True}},
    "slice_floors": {"roc_auc": 0.9},
    "max_slice_gap": {"roc_auc": 0.05},
}}}


def evaluate(doc: dict[str, Any], settings: dict[str, Any] | None = None) -> list[Finding]:
    modules = library_modules(True)
    sites = rule_sites(modules)
    engine = RegorusEngine()
    engine.prepare(modules, merge_overrides(library_defaults(), settings or SETTINGS))
    values = engine.evaluate([s.ref for s in sites], doc)
    engine.close()
    return findings_from(sites, values)


def clean() -> dict[str, Any]:
    doc = copy.deepcopy(CLEAN)
    doc["rollback"] = copy.deepcopy(ROLLBACK)
    return doc


def test_clean_input_matches_the_input_schema() -> None:
    validate(CLEAN, "input", path=None, what="the test input")


def test_clean_release_triggers_nothing() -> None:
    assert evaluate(clean()) == []


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return edit


def _drop(path: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
    return edit


# (expected id, edit of the clean input, settings override or None, message fragment)
CASES: list[tuple[str, Edit, dict[str, Any] | None, str]] = [
    ("GATE-CARD-001", _drop("model/card/license"), None,
     "the model card has no 'license'"),
    ("GATE-CARD-002", _set("model/card/license", "gpl-3.0"),
     {"gate": {"model_card": {"allowed_licenses": ["mit", "apache-2.0"]}}},
     "license 'gpl-3.0' is not one of the allowed licences: mit, apache-2.0"),
    ("GATE-ART-001", _set("lineage/outputs/0/sha256", SHA_TEST), None,
     "artifacts/model.safetensors has sha256 ed56807bcb42..., but the training run "
     "recorded 7c211433f020..."),
    ("GATE-ART-002", _set("lineage/outputs", []), None,
     "artifacts/model.safetensors is not a lineage output with a sha256"),
    ("GATE-ART-003", _set("model/artifacts/0/format", "pickle"), None,
     "artifacts/model.safetensors is a pickle file: loading it can run arbitrary code"),
    ("GATE-ART-004", _set("model/artifacts/0/size_bytes", 11 * 2**30), None,
     "is 11 GiB (11811160064 bytes); the ceiling per artifact is 10 GiB"),
    ("GATE-ART-005", _set("model/artifacts", []), None, "the release has no model artifact"),
    ("GATE-LIN-001", _set("lineage/code/commit", None), None, "records no code commit"),
    ("GATE-LIN-002", _set("lineage/datasets/0/sha256", None), None,
     "training dataset 'train' has no sha256 digest"),
    ("GATE-LIN-003", _set("lineage/datasets", []), None, "names no training dataset"),
    ("GATE-LIN-004", _set("lineage/datasets/1/sha256", SHA_TRAIN), None,
     "test dataset 'test' is also training dataset 'train' (same sha256)"),
    ("GATE-EVAL-001", _drop("evaluation/metrics/roc_auc"), None,
     "the evaluation report has no metric 'roc_auc'"),
    ("GATE-EVAL-002", _set("evaluation/metrics/recall", 0.5),
     {"gate": {"evaluation": {"floors": {"recall": 0.7}}}},
     "recall is 0.5, below its floor 0.7 (short by 0.2)"),
    ("GATE-EVAL-003", _set("evaluation/metrics/recall", 0.995), None,
     "recall is 0.995, above its ceiling 0.99"),
    ("GATE-EVAL-004", _set("evaluation/metrics/recall", 0.5),
     {"gate": {"evaluation": {"thresholds": {"recall": {"threshold": 0.7,
                                                         "greater_is_better": True}}}}},
     "recall is 0.5; its threshold requires at least 0.7 (greater is better)"),
    ("GATE-EVAL-005", _set("evaluation/metrics/recall", 0.7),
     {"gate": {"evaluation": {"thresholds": {"recall": {"min_absolute_change": -0.02,
                                                         "greater_is_better": True}}}}},
     "recall is 0.7 against 0.79 for the baseline (2.3.1), a change of -0.09"),
    ("GATE-EVAL-006", _set("evaluation/metrics/recall", 0.7),
     {"gate": {"evaluation": {"thresholds": {"recall": {"min_relative_change": -0.02,
                                                         "greater_is_better": True}}}}},
     "min_relative_change -0.02 (-2%) requires at least 0.7742"),
    ("GATE-EVAL-007", _drop("evaluation/baseline/metrics/roc_auc"), None,
     "the baseline (2.3.1) has no 'roc_auc'"),
    ("GATE-EVAL-008", _set("evaluation/baseline", None), None,
     "there is no baseline report, so the change limits on roc_auc were not checked"),
    ("GATE-EVAL-009", _set("evaluation/slices/1/metrics/roc_auc", 0.89), None,
     "slice region=us (n=500): roc_auc is 0.89, below the slice floor 0.9"),
    ("GATE-EVAL-010", _set("evaluation/slices/1/metrics/roc_auc", 0.9), None,
     "roc_auc differs by 0.051 between slice region=eu (0.951) and slice region=us (0.9)"),
    ("GATE-EVAL-011", _set("evaluation/slices", []), None,
     "the evaluation report has no slices"),
    ("GATE-EVAL-012", lambda doc: None,
     {"gate": {"evaluation": {"thresholds": {"recall": {"threshold": 0.5}}}}},
     "data.gate.evaluation.thresholds.recall: greater_is_better must be true or false"),
    ("GATE-VAL-001", _set("validations/0/success", False), None,
     "validation 'eval-slices' (suite suites/eval.json on reports/slices.csv) failed"),
    ("GATE-VAL-002", lambda doc: None,
     {"gate": {"validation": {"required_suites": ["pii-scan"]}}},
     "the required validation 'pii-scan' did not run"),
    ("GATE-ROLL-001", _set("rollout/stages/0/weight", 20), None,
     "the first rollout stage 'canary-5' sends 20% of traffic"),
    ("GATE-ROLL-002", _set("rollout/stages/1/weight", 5), None,
     "rollout stage 'full' (weight 5) does not send more traffic"),
    ("GATE-ROLL-003", _set("rollout/stages/1/weight", 90), None,
     "the last rollout stage 'full' sends 90% of traffic"),
    ("GATE-ROLL-004", _drop("rollout/stages/0/analysis"), None,
     "rollout stage 'canary-5' (weight 5) has no analysis"),
    ("GATE-ROLL-005", _set("rollout/stages/0/bake", "10s"), None,
     "rollout stage 'canary-5' bakes for 10 seconds (bake: 10s)"),
    ("GATE-ROLL-006", _drop("rollback/target"), None, "gate.yaml names no rollback target"),
    ("GATE-ROLL-007", _set("rollback/steps", []), None, "gate.yaml lists 0 rollback steps"),
    ("GATE-DRIFT-001", _set("drift/0/features/0/statistics/wasserstein_norm", 0.25), None,
     "drift 'transactions': numeric feature 'amount' drifted: wasserstein_norm is 0.25"),
    ("GATE-DRIFT-002", _set("drift/0/features/0/statistics/wasserstein_norm", 0.25), None,
     "drift 'transactions': 1 of 2 features drifted (50%, at least 50% fails): amount"),
    ("GATE-DRIFT-003", lambda doc: None,
     {"gate": {"drift": {"feature_bounds": {"amount": {"psi": {"max": 0.005}}}}}},
     "drift 'transactions': feature 'amount': psi is 0.01, above its bound 0.005"),
    ("GATE-DRIFT-004", _set("drift/0/features/1/unseen", {"count": 12, "categories": 1,
                                                          "share": 0.00025, "values": ["NZ"]}),
     None, "feature 'country' has 1 never-seen category in 12 current values"),
    ("GATE-DRIFT-005", _set("drift/0/features/0/missing_share/current", 0.3), None,
     "feature 'amount' is missing in 30% of the current rows against 0% of the reference's"),
    ("GATE-DRIFT-006", _set("drift/0/features/0/n/current", 0), None,
     "feature 'amount' has no value in the current data (48000 rows, all missing)"),
    ("GATE-DRIFT-007", lambda doc: None, {"gate": {"drift": {"max_unseen_share": "none"}}},
     "data.gate.drift.max_unseen_share: must be a number"),
    ("GATE-MSIG-001", _drop("model/signature"), None,
     "fraud-detector 2.4.0 is not signed: none of its 1 artifact(s) carries a model signature"),
    ("GATE-MSIG-002", _set("model/signature/verified", False), None,
     "the model signature model.sig does not verify"),
    ("GATE-MSIG-003", _set("model/signature/uncovered", ["artifacts/extra.bin"]), None,
     "artifacts/extra.bin is not covered by the model signature model.sig"),
]


@pytest.mark.parametrize(("rule_id", "edit", "settings", "fragment"), CASES,
                         ids=[c[0] for c in CASES])
def test_rule_triggers(rule_id: str, edit: Edit, settings: dict[str, Any] | None,
                       fragment: str) -> None:
    doc = clean()
    edit(doc)
    findings = evaluate(doc, merge_overrides(SETTINGS, settings) if settings else None)
    hits = [f for f in findings if f.id == rule_id]
    assert hits, f"{rule_id} did not fire; got {[(f.id, f.message) for f in findings]}"
    assert any(fragment in f.message for f in hits), [f.message for f in hits]
    finding = hits[0]
    assert finding.title and finding.description and finding.remediation
    assert finding.file and finding.file.startswith("gate-library/") and finding.line


def test_every_rule_has_a_case() -> None:
    ids = {s.annotations["custom"]["id"] for s in rule_sites(library_modules(True))
           if rule_kind(s.name)}
    assert ids == {c[0] for c in CASES}


def test_object_results_carry_details() -> None:
    doc = clean()
    doc["lineage"]["datasets"][1]["uri"] = doc["lineage"]["datasets"][0]["uri"]
    (leak,) = [f for f in evaluate(doc) if f.id == "GATE-LIN-004"]
    assert leak.details == {"dataset": "test", "role": "test", "train_dataset": "train",
                            "shared": ["uri"]}
    assert leak.enforcement == "hard-mandatory" and leak.severity == "critical"


def test_unsafe_format_is_waivable_and_leakage_is_not() -> None:
    by_id = {s.annotations["custom"]["id"]: s.annotations["custom"]
             for s in rule_sites(library_modules(True))}
    assert by_id["GATE-ART-003"]["enforcement"] == "soft-mandatory"
    assert by_id["GATE-LIN-004"]["enforcement"] == "hard-mandatory"


def test_metadata_is_complete_and_ids_are_unique() -> None:
    modules = library_modules(True)
    sites = [s for s in rule_sites(modules) if rule_kind(s.name)]
    ids = [s.annotations["custom"]["id"] for s in sites]
    assert len(ids) == len(set(ids))
    for site in sites:
        custom = site.annotations["custom"]
        assert re.fullmatch(r"GATE-(CARD|ART|LIN|EVAL|VAL|ROLL|MSIG|DRIFT)-\d{3}", custom["id"])
        assert custom["severity"] in SEVERITIES
        assert custom["enforcement"] in ENFORCEMENTS
        assert custom["remediation"].strip()
        assert site.annotations["title"] and site.annotations["description"]
        expected_enforcement = "advisory" if rule_kind(site.name) == "warning" else None
        if expected_enforcement:
            assert custom["enforcement"] == expected_enforcement
    for module in modules:
        assert module.package_annotations.get("title"), module.path
        assert "import rego.v1" in module.text


def test_every_setting_has_a_default_and_every_default_is_read() -> None:
    modules = library_modules(True)
    text = "\n".join(m.text for m in modules)
    read = set(re.findall(r"data\.gate\.([a-z_]+)\.([a-z_]+)", text))
    defaults = library_defaults()["gate"]
    declared = {(pkg, key) for pkg, keys in defaults.items() for key in keys}
    assert read == declared
    assert set(defaults) == set(PACKAGES)


def test_library_tests_ship_beside_each_package() -> None:
    modules = library_modules(True, include_tests=True)
    paths = [m.path for m in modules]
    assert paths == [p for name in PACKAGES
                     for p in (f"gate-library/{name}.rego", f"gate-library/{name}_test.rego")]
    assert {m.package for m in modules} == (
        {f"gate.{n}" for n in PACKAGES} | {f"gate.{n}_test" for n in PACKAGES})


def test_selection() -> None:
    assert selected_packages(True) == list(PACKAGES)
    assert selected_packages(False) == []
    assert selected_packages([]) == []
    assert selected_packages(["rollout", "lineage"]) == ["lineage", "rollout"]
    assert [m.package for m in library_modules(["evaluation"])] == ["gate.evaluation"]
    with pytest.raises(ManifestError, match="unknown package 'fairness'") as info:
        library_modules(["evaluation", "fairness"])
    assert info.value.pointer == "$.library"


def test_only_the_selected_packages_report() -> None:
    doc = clean()
    doc["model"]["artifacts"][0]["format"] = "pickle"
    doc["lineage"]["code"]["commit"] = None
    modules = library_modules(["lineage"])
    sites = rule_sites(modules)
    engine = RegorusEngine()
    engine.prepare(modules, library_defaults())
    findings = findings_from(sites, engine.evaluate([s.ref for s in sites], doc))
    assert [f.id for f in findings] == ["GATE-LIN-001"]


def test_defaults_are_a_fresh_copy() -> None:
    first = library_defaults()
    first["gate"]["artifacts"]["denied_formats"].clear()
    assert library_defaults()["gate"]["artifacts"]["denied_formats"] == [
        "pickle", "joblib", "pytorch"]


def test_merge_overrides_user_wins_key_by_key() -> None:
    defaults = {"gate": {"evaluation": {"floors": {}, "max_slice_gap": {"auc": 0.1}},
                         "artifacts": {"denied_formats": ["pickle", "joblib"],
                                       "max_size_bytes": 10}}}
    user: dict[str, Any] = {"gate": {"evaluation": {"floors": {"auc": 0.9}},
                     "artifacts": {"denied_formats": ["pickle"]}},
            "release": {"budget": 5}}
    before = copy.deepcopy((defaults, user))
    merged = merge_overrides(defaults, user)
    assert merged == {
        "gate": {"evaluation": {"floors": {"auc": 0.9}, "max_slice_gap": {"auc": 0.1}},
                 "artifacts": {"denied_formats": ["pickle"], "max_size_bytes": 10}},
        "release": {"budget": 5},
    }
    assert (defaults, user) == before  # pure: neither argument changed
    assert merge_overrides({"a": {"b": 1}}, {"a": None}) == {"a": None}
    assert merge_overrides({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    merged["gate"]["artifacts"]["denied_formats"].append("x")
    assert user["gate"]["artifacts"]["denied_formats"] == ["pickle"]


def test_library_ships_as_a_package() -> None:
    """pyproject maps policies/ to gate.policy_library (package-dir); the editable
    install must find it too, not only the source-checkout fallback."""
    assert importlib.util.find_spec(RESOURCE_PACKAGE) is not None, (
        "add to pyproject: packages including 'gate.policy_library', "
        'package-dir = {"gate.policy_library" = "policies"}, '
        'package-data "gate.policy_library" = ["*.rego", "data/*.yaml"]; then reinstall'
    )


# --- the outlines shipped beside the modules ------------------------------------------------


def test_shipped_outlines_are_current() -> None:
    from importlib import resources

    from gate.library import OUTLINES_FILE, render_outline_table

    shipped = resources.files(RESOURCE_PACKAGE).joinpath(OUTLINES_FILE).read_text("utf-8")
    assert shipped == render_outline_table(), (
        "policies/outlines.json is stale: regenerate it with `python -m gate.library`")


def test_library_modules_come_from_the_shipped_outlines_without_parsing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from gate import library
    from gate.policy import source

    # what the engines' parsers make of each module now, not a copy of the cached modules
    parsed = [source.build_module(m.text, m.path, source.outline_module(m.text, m.path))
              for m in library_modules(True)]
    library._library_module.cache_clear()
    source._parse_cached.cache_clear()

    def no_parser(name: str) -> None:
        raise AssertionError(f"the library was parsed again with {name}")

    monkeypatch.setattr(source, "outliner", no_parser)
    again = library_modules(True)
    assert again == parsed  # the same modules, METADATA and calls, from the shipped outlines


def test_a_library_module_whose_text_differs_from_its_outline_is_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from gate import library

    original = library._read
    extra = "\n# METADATA\n# title: Added\n# custom: {id: GATE-TEST-1, severity: low}\n" \
            "deny_added contains {\"msg\": \"x\"} if false\n"

    def edited(name: str) -> str:
        text = original(name)
        return text + extra if name == "lineage.rego" else text

    library._library_module.cache_clear()
    monkeypatch.setattr(library, "_read", edited)
    try:
        (module,) = library_modules(["lineage"])
    finally:
        library._library_module.cache_clear()
    added = [r for r in module.rules if r.name == "deny_added"]
    assert len(added) == 1 and added[0].annotations["custom"]["id"] == "GATE-TEST-1"
    assert added[0].line == len(original("lineage.rego").splitlines()) + 5


def test_a_damaged_outline_file_falls_back_to_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    from gate import library

    expected = library_modules(["evaluation"])
    library._library_module.cache_clear()
    library._shipped_outlines.cache_clear()
    monkeypatch.setattr(library, "OUTLINES_FILE", "no-such-outlines.json")
    try:
        assert library_modules(["evaluation"]) == expected
    finally:
        library._library_module.cache_clear()
        library._shipped_outlines.cache_clear()


# --- a damaged library fails closed, naming the file -----------------------------------------


@pytest.fixture
def library_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The library read from ``tmp_path`` (a damaged install), caches cleared around it."""
    from gate import library

    monkeypatch.setattr(library, "_root", lambda: tmp_path)
    library._defaults.cache_clear()
    library._library_module.cache_clear()
    yield tmp_path
    library._defaults.cache_clear()
    library._library_module.cache_clear()


@pytest.mark.parametrize(("files", "message", "path"), [
    ({"data/defaults.yaml": "- a list\n"}, "the library defaults are not a mapping",
     "gate-library/data/defaults.yaml"),
    ({"data/defaults.yaml": "gate: {drift: {a: 1}}\n",
      "data/drift.yaml": "gate: {drift: {b: 2}}\n"},
     "the library sets data.gate.drift twice", "gate-library/data/drift.yaml"),
    ({"data/defaults.yaml": "gate: [\n"}, "not valid YAML", "gate-library/data/defaults.yaml"),
])
def test_damaged_library_defaults_are_errors(library_at: Path, files: dict[str, str],
                                             message: str, path: str) -> None:
    from gate.errors import GateError

    (library_at / "data").mkdir()
    for name, text in files.items():
        (library_at / name).write_text(text)
    with pytest.raises(GateError, match=message) as info:
        library_defaults()
    assert info.value.path == path


def test_a_library_module_missing_from_the_install_is_an_error(library_at: Path) -> None:
    from gate.errors import GateError

    with pytest.raises(GateError, match=r"the policy library has no lineage\.rego") as info:
        library_modules(["lineage"])
    assert info.value.path == "gate-library/lineage.rego"
