"""OPA's v1 conformance suite through each in-process engine's adapter: a floor, not a target.

The table (pass / fail / skip per category) is printed (``pytest -s`` shows
it) and written with every failing case's reason to ``conformance.json`` in
this test's tmp dir. The cases are data kept in ``tests/data/opa-conformance``
(``$GATE_CONFORMANCE_DIR`` names another copy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from harness import SUITE_ENV, plan_query, run_suite, suite_dir, table

# Measured over 2,056 run cases (11 skipped), rounded down to a tenth. Raise a floor
# when an engine improves; never lower one silently.
#   opa-go (OPA 1.20.2, bindings 0.4.4): 2,037 pass, 99.08 %
#   regorus (gordon-to-regorus 0.13.0):  1,573 pass, 76.51 %
FLOORS = {"opa-go": 99.0, "regorus": 76.5}


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(FLOORS))
def test_conformance_pass_rate_does_not_regress(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_dir()
    if root is None:
        named = os.environ.get(SUITE_ENV)
        pytest.fail(f"{SUITE_ENV} names {named}, which is not a folder" if named else
                    "tests/data/opa-conformance is missing: restore it from git")
    if engine == "opa-go":
        pytest.importorskip("opa_bindings")
    report = run_suite(root, engine=engine)
    out = tmp_path / "conformance.json"
    out.write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    print(table(report))
    with capsys.disabled():
        t = report.total
        print(f"\nOPA conformance through gate's {engine} adapter: {report.pass_rate:.2f}% "
              f"({t['pass']} pass, {t['fail']} fail, {t['skip']} skip); details in {out}")
    assert report.adapter_failures == [], "the adapter itself failed on these cases"
    assert len(report.outcomes) > 2000, "the suite looks incomplete"
    assert report.pass_rate >= FLOORS[engine], f"conformance fell below {FLOORS[engine]}%: {out}"
    assert report.seconds < 60


def test_query_shapes() -> None:
    assert plan_query("data.generated.p = x").bindings == (("data.generated.p", "x"),)
    assert plan_query("x = data.t.p").bindings == (("data.t.p", "x"),)
    assert plan_query("data.t.p(1) = x; data.t.q = y").bindings == (
        ("data.t.p(1)", "x"), ("data.t.q", "y"))
    assert plan_query('data.t.p[{"a":"b"}] = x').bindings == (('data.t.p[{"a":"b"}]', "x"),)
    deep = plan_query("data.test.p.q[i].s = x")
    assert deep.collect == '[{"i": i, "x": x} | data.test.p.q[i].s = x]'
    assert plan_query("data.x.p.a.b = 1").collect == "[{} | data.x.p.a.b = 1]"
