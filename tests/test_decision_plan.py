"""The verdict (pure) and the rollback plan built from it (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gate.decision import Decision, Finding, Waiver
from gate.durations import seconds
from gate.errors import ManifestError
from gate.rollback.plan import build_plan
from gate.rollback.template import TemplateError, expand, render


def f(kind: str = "failure", **kw: object) -> Finding:
    return Finding(id=str(kw.pop("id", "x")), kind=kind, message="m", rule="p.r", **kw)  # type: ignore[arg-type]


def test_defaults_by_kind() -> None:
    assert (f().severity, f().enforcement, f().effect) == ("high", "soft-mandatory", "fail")
    w = f("warning")
    assert (w.severity, w.enforcement, w.effect) == ("medium", "advisory", "warn")


@pytest.mark.parametrize(
    ("findings", "fail_on_warn", "outcome", "code"),
    [
        ([], False, "pass", 0),
        ([f("warning")], False, "warn", 0),
        ([f("warning")], True, "warn", 1),
        ([f()], False, "fail", 1),
        ([f(enforcement="advisory")], False, "warn", 0),
        ([f().waived(Waiver("ok", "alice"))], False, "pass", 0),
        ([f(enforcement="hard-mandatory").waived(Waiver("ok", "alice"))], False, "fail", 1),
        ([f("warning"), f()], False, "fail", 1),
    ],
)
def test_outcome_and_exit_code(findings: list[Finding], fail_on_warn: bool, outcome: str,
                               code: int) -> None:
    d = Decision.of(findings, fail_on_warn=fail_on_warn)
    assert (d.outcome, d.exit_code) == (outcome, code)


def test_hard_mandatory_waiver_is_refused_and_recorded() -> None:
    hard = f(enforcement="hard-mandatory").waived(Waiver("please", "bob"))
    assert hard.waiver is None and hard.waiver_refused is not None
    assert hard.to_json()["waiver_refused"]["approved_by"] == "bob"


def test_order_blocking_first_then_severity() -> None:
    d = Decision.of([f("warning", id="w"), f(id="low", severity="low"),
                     f(id="crit", severity="critical")])
    assert [x.id for x in d.findings] == ["crit", "low", "w"]
    assert d.counts() == {"fail": 2, "warn": 1, "waived": 0, "total": 3}


def test_durations() -> None:
    assert seconds("500ms", 1) == 0.5
    assert seconds("30s", 1) == 30
    assert seconds("5m", 1) == 300
    assert seconds("1.5h", 1) == 5400
    assert seconds(None, 7) == 7
    assert seconds(12, 1) == 12
    with pytest.raises(ManifestError):
        seconds("soon", 1)


def test_substitution() -> None:
    v = {"model.name": "fd", "target.version": "2.3.1"}
    assert [render(a, v) for a in ["route", "${model.name}", "${ target.version }"]] == [
        "route", "fd", "2.3.1"]
    # the plan keeps a literal ${ escaped, so the step runner's one pass restores it
    assert render("$${literal} ${model.name}", v) == "$${literal} fd"
    assert expand(render("$${literal} ${model.name}", v), {}) == "${literal} fd"
    with pytest.raises(TemplateError, match=r"unknown placeholder \$\{nope\}"):
        render("x ${nope}", v)


def test_plan_is_self_contained_and_valid() -> None:
    rollback = {
        "target": {"version": "2.3.1", "environment": "prod"},
        "steps": [
            {"name": "route", "run": ["./deploy.sh", "${model.name}", "${target.version}"],
             "timeout": "60s", "retries": 2},
            {"name": "notify", "http": {"url": "https://hook/${target.environment}",
                                        "body": {"text": "${model.name} ${model.version}"}},
             "verify": {"run": "curl -f https://svc/health", "timeout": "5s"}},
        ],
    }
    plan = build_plan(model_name="fd", model_version="2.4.0", rollback=rollback,
                      reasons=[f(id="EVAL-1")], now=datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert plan["created_at"] == "2026-11-25T00:00:00+00:00"
    assert plan["model"] == {"name": "fd", "candidate_version": "2.4.0"}
    assert plan["reasons"] == [{"id": "EVAL-1", "message": "m", "severity": "high"}]
    route, notify = plan["steps"]
    assert route == {"name": "route", "kind": "run", "run": ["./deploy.sh", "fd", "2.3.1"],
                     "timeout_s": 60.0, "retries": 2, "backoff_s": 2.0}
    assert notify["http"] == {"url": "https://hook/prod", "body": {"text": "fd 2.4.0"}}
    assert notify["verify"] == {"run": "curl -f https://svc/health", "timeout_s": 5.0}


def test_plan_without_target() -> None:
    plan = build_plan(model_name="fd", model_version="1", rollback={}, reasons=[])
    assert plan["target"] == {"version": "unknown"} and plan["steps"] == []


def test_plan_schema_is_enforced() -> None:
    with pytest.raises(ManifestError, match="rollback plan"):
        build_plan(model_name="fd", model_version="1",
                   rollback={"target": {"version": ""}}, reasons=[])


def test_env_placeholders_stay_in_the_plan() -> None:
    v = {"model.name": "fd"}
    written = {k: render(t, v) for k, t in
               {"Authorization": "Bearer ${env.TOKEN}", "m": "${model.name}"}.items()}
    assert written == {"Authorization": "Bearer ${env.TOKEN}", "m": "fd"}
    assert {k: expand(t, {"TOKEN": "t0k"}) for k, t in written.items()} == {
        "Authorization": "Bearer t0k", "m": "fd"}
    with pytest.raises(KeyError):
        expand("${env.MISSING}", {})


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-25T14:00:00Z", "2026-11-25T14:00:00+00:00"),
    (" 2026-11-25T15:00:00+01:00 ", "2026-11-25T15:00:00+01:00"),
    ("2026-11-25T14:00:00", "2026-11-25T14:00:00+00:00"),  # no offset: UTC
    ("2026-11-25", "2026-11-25T00:00:00+00:00"),
])
def test_iso_times_read_the_same_everywhere(text: str, expected: str) -> None:
    from gate.durations import iso_time

    assert iso_time(text).isoformat() == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "14:00Z"])
def test_a_time_that_is_not_iso_8601_is_refused(text: str) -> None:
    from gate.durations import iso_time

    with pytest.raises(ValueError):
        iso_time(text)
