"""The drift rules give the same findings on OPA's engine and on regorus.

Hypothesis generates input.drift documents (null statistics, empty sides, values
on the thresholds, never-seen categories) and settings (valid and malformed);
the differential engine evaluates every drift rule on both engines and refuses
any disagreement (under OPA, ``not f(x)`` with an undefined ``x`` fails the
body, which is why the rules read through object.get defaults).
"""

from __future__ import annotations

from typing import Any

import pytest

from gate.engines import choose_engine, get_engine
from gate.engines.results import findings_from, rule_sites
from gate.library import library_defaults, library_modules, merge_overrides
from gate.schemas import first_problem


@pytest.mark.slow  # every drift rule on both engines
def test_every_drift_rule_gives_the_same_findings_on_both_engines() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    try:
        choice = choose_engine("differential")
    except Exception as e:  # noqa: BLE001  # no OPA engine here: say so
        pytest.skip(f"the differential engine needs OPA's Go engine: {e}")
    modules = library_modules(["drift"])
    sites = rule_sites(modules)
    numbers = st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.1, 0.25, 1.0]),
                        st.floats(0, 3, allow_nan=False))
    shares = st.sampled_from([0.0, 0.02, 0.05, 0.5, 1.0])
    counts = st.sampled_from([0, 1, 999, 1000, 1001, 50_000])

    @st.composite
    def feature(draw: st.DrawFn, i: int) -> dict[str, Any]:
        kind = draw(st.sampled_from(["numeric", "categorical"]))
        names = (["psi", "ks", "ks_p_value", "wasserstein", "wasserstein_norm"]
                 if kind == "numeric" else ["chi2", "chi2_p_value", "jensen_shannon", "linf"])
        out: dict[str, Any] = {
            "name": f"f{i}", "kind": kind,
            "n": {"reference": draw(counts), "current": draw(counts)},
            "missing_share": {"reference": draw(shares), "current": draw(shares)},
            "statistics": {n: draw(numbers) for n in names},
        }
        if kind == "categorical":
            unseen = draw(st.integers(0, 3))
            out["unseen"] = {"count": unseen * 10, "categories": unseen,
                             "share": draw(shares) if unseen else 0.0,
                             "values": [f"v{k}" for k in range(unseen)]}
        return out

    @st.composite
    def documents(draw: st.DrawFn) -> dict[str, Any]:
        n = draw(st.integers(0, 4))
        side = {"data": "x.parquet", "rows": 10, "window": None}
        return {"drift": [{"name": "c", "reference": side, "current": side,
                           "features": [draw(feature(i)) for i in range(n)]}],
                "sources": {"manifest": "gate.yaml"}}

    overrides = st.sampled_from([
        {},
        {"max_drifted_share": 0.3, "max_unseen_share": 0.04},
        {"feature_bounds": {"f0": {"psi": {"max": 0.1}, "missing_share": {"max": 0.01},
                                   "ks_p_value": {"min": 0.2}}, "f1": {"linf": {"max": 0}}}},
        {"drift_tests": {"numeric": {"small": [], "large": [{"statistic": "psi",
                                                              "threshold": 0.2}]}}},
        {"drift_tests": [], "feature_bounds": {"f0": 3}},
        {"small_reference": "big", "feature_bounds": {"f0": {"psi": {"most": 1}}}},
    ])
    engines: dict[str, Any] = {}
    seen: list[int] = []

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(documents(), overrides)
    def agree(doc: dict[str, Any], override: dict[str, Any]) -> None:
        key = repr(sorted(override.items()))
        if key not in engines:
            engine = get_engine(choice.name)
            engine.prepare(modules, merge_overrides(library_defaults(),
                                                    {"gate": {"drift": override}}))
            engines[key] = engine
        values = engines[key].evaluate([s.ref for s in sites], doc)  # raises on disagreement
        seen.append(len(findings_from(sites, values)))

    try:
        agree()
    finally:
        for engine in engines.values():
            engine.close()
    assert len(seen) > 50 and max(seen) > 3


def test_generated_drift_entries_match_the_input_schema() -> None:
    from gate.drift.compare import categorical, numeric_exact

    numeric = {"name": "amount", "kind": "numeric", "n": {"reference": 3, "current": 2},
               "missing_share": {"reference": 0.0, "current": 0.5},
               **numeric_exact([(1.0, 1), (2.0, 2)], [(2.0, 1), (3.0, 1)], 10)}
    cat = {"name": "country", "kind": "categorical", "n": {"reference": 3, "current": 3},
           "missing_share": {"reference": 0.0, "current": 0.0},
           **categorical({"DE": 2, "FR": 1}, {"DE": 1, "NZ": 2})}
    side = {"data": "x.csv", "rows": 3, "window": {"start": "2026-01-01"}}
    doc: dict[str, Any] = {"model": {"name": "m", "version": "1", "card": {}, "artifacts": []},
           "lineage": {"run": {}, "code": {}, "datasets": [], "outputs": [], "raw": {}},
           "evaluation": {"metrics": {}, "slices": [], "baseline": None, "comparison": {}},
           "validations": [], "rollout": None, "ci": {"platform": "local"},
           "drift": [{"name": "c", "reference": side, "current": side,
                      "features": [numeric, cat]}]}
    assert first_problem(doc, "input") is None
    doc["drift"][0]["features"][1]["kind"] = "text"
    assert first_problem(doc, "input") is not None
