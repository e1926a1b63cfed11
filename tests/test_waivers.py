"""Waivers (exceptions.yaml) and enforcement levels, with the date frozen."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_cases import build_bundle

from gate.decision import Decision, Finding
from gate.errors import DocumentError, ManifestError
from gate.pipeline import CheckOptions, run_check
from gate.waivers import (
    EXPIRED_ID,
    UNVERIFIED_ID,
    apply_enforcement,
    apply_waivers,
    parse_waivers,
)

TODAY = date(2026, 11, 25)


def finding(fid: str = "EVAL-001", enforcement: str = "", kind: str = "failure") -> Finding:
    return Finding(id=fid, kind=kind, message="accuracy too low", rule="release.deny_x",  # type: ignore[arg-type]
                   enforcement=enforcement)


def entries(**over: object) -> list:  # type: ignore[type-arg]
    raw = {"rule": "EVAL-001", "reason": "labels re-audited", "approved_by": "risk-lead",
           "expires": "2026-11-30", **over}
    return parse_waivers({"exceptions": [raw]}, "exceptions.yaml")


def waive(f: Finding, es: list, today: date = TODAY, model: str = "fd",  # type: ignore[type-arg]
          version: str = "2.5.0") -> tuple[list[Finding], list[str]]:
    """The finding(s) after the waivers, less the warning that approvals are unverified
    (there are no sign-off rules here; test_unverified_approvals_are_a_warning checks it)."""
    out, notes = apply_waivers([f], es, model=model, version=version, today=today)
    return [x for x in out if x.id != UNVERIFIED_ID], notes


def test_unverified_approvals_are_a_warning() -> None:
    out, _ = apply_waivers([finding()], entries(), model="fd", version="2.5.0", today=TODAY)
    assert [x.id for x in out] == ["EVAL-001", UNVERIFIED_ID]
    assert out[1].effect == "warn" and "approved_by text alone (EVAL-001)" in out[1].message
    refused, _ = apply_waivers([finding(enforcement="hard-mandatory")], entries(), model="fd",
                               version="2.5.0", today=TODAY)
    assert [x.id for x in refused] == ["EVAL-001"]  # a refused waiver approved nothing


def test_valid_waiver_waives_and_keeps_the_finding() -> None:
    [f], notes = waive(finding(), entries())
    assert f.effect == "waived" and notes == []
    assert f.waiver is not None
    assert (f.waiver.reason, f.waiver.approved_by, f.waiver.expires) == (
        "labels re-audited", "risk-lead", "2026-11-30")
    assert Decision.of([f]).outcome == "pass"


def test_expiry_is_inclusive_utc_day() -> None:
    [f], _ = waive(finding(), entries(expires="2026-11-25"))
    assert f.effect == "waived"
    out, notes = waive(finding(), entries(expires="2026-11-24"))
    assert [x.effect for x in out] == ["fail", "warn"]
    expired = out[1]
    assert expired.id == EXPIRED_ID
    assert "approved by risk-lead expired on 2026-11-24" in expired.message
    assert expired.details["pointer"] == "$.exceptions[0]"
    assert notes == []


def test_globs_and_scope() -> None:
    [f], _ = waive(finding(), entries(rule="EVAL-*"))
    assert f.effect == "waived"
    [f], _ = waive(finding(), entries(rule="release.deny_*"))
    assert f.effect == "waived"
    [f], notes = waive(finding(), entries(scope={"model": "other-*"}))
    assert f.effect == "fail"
    assert notes == ["exceptions.yaml $.exceptions[0]: the waiver for 'EVAL-001' matched no "
                     "finding; remove it if it is no longer needed"]
    [f], _ = waive(finding(), entries(scope={"model": "f*", "version": "2.5.*"}))
    assert f.effect == "waived"
    [f], _ = waive(finding(), entries(scope={"version": "2.4.*"}))
    assert f.effect == "fail"


def test_hard_mandatory_refuses_waiver() -> None:
    [f], _ = waive(finding(enforcement="hard-mandatory"), entries())
    assert f.effect == "fail" and f.waiver is None
    assert f.waiver_refused is not None and f.waiver_refused.approved_by == "risk-lead"


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"rule": "X", "approved_by": "a"}, "$.exceptions[0]"),
        ({"rule": "X", "reason": "r"}, "$.exceptions[0]"),
        ({"rule": "X", "reason": "  ", "approved_by": "a"}, "$.exceptions[0].reason"),
        ({"rule": "X", "reason": "r", "approved_by": "a", "expires": "31/12/2026"},
         "$.exceptions[0].expires"),
        ({"rule": "X", "reason": "r", "approved_by": "a", "until": "2026-12-31"},
         "$.exceptions[0]"),
    ],
)
def test_invalid_entries_are_errors(raw: dict, where: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DocumentError) as info:
        parse_waivers({"exceptions": [raw]}, "exceptions.yaml")
    assert info.value.path == "exceptions.yaml" and info.value.pointer == where


def test_impossible_date_is_an_error() -> None:
    with pytest.raises(ManifestError, match="not a calendar date"):
        parse_waivers([{"rule": "X", "reason": "r", "approved_by": "a",
                        "expires": "2026-02-30"}], "exceptions.yaml")


def test_enforcement_raises_never_lowers() -> None:
    warn = finding("PERF-1", kind="warning")
    [raised] = apply_enforcement([warn], {"PERF-*": "soft-mandatory"})
    assert (raised.enforcement, raised.effect) == ("soft-mandatory", "fail")
    hard = finding(enforcement="hard-mandatory")
    assert apply_enforcement([hard], {"*": "soft-mandatory"})[0].enforcement == "hard-mandatory"
    with pytest.raises(ManifestError, match="may only raise"):
        apply_enforcement([hard], {"EVAL-001": "advisory"})


def run_case(tmp_path: Path, waivers: str, manifest_extra: str = "") -> Decision:
    bundle = tmp_path / "bundle"
    build_bundle("fail-accuracy", bundle)  # the golden case: its base with its changes
    (bundle / "exceptions.yaml").write_text(waivers)
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text() + "exceptions: exceptions.yaml\n" + manifest_extra)
    report = run_check(CheckOptions(config=str(manifest), today=TODAY, env={}))
    assert report.error is None, report.error and report.error.render()
    assert report.decision is not None
    return report.decision


def test_end_to_end_waiver_and_enforcement(tmp_path: Path) -> None:
    ok = "- {rule: EVAL-001, reason: relabelled, approved_by: cto, expires: 2026-12-01}\n"
    assert run_case(tmp_path / "a", ok).outcome == "warn"  # waived, approval unverified
    old = "- {rule: EVAL-001, reason: relabelled, approved_by: cto, expires: 2026-11-01}\n"
    d = run_case(tmp_path / "b", old)
    assert d.outcome == "fail" and {f.id for f in d.findings} == {"EVAL-001", EXPIRED_ID}
    d = run_case(tmp_path / "c", ok, "enforcement: {EVAL-001: hard-mandatory}\n")
    assert d.outcome == "fail" and d.findings[0].waiver_refused is not None
    assert UNVERIFIED_ID not in {f.id for f in d.findings}


def test_waiver_without_approver_is_exit_2(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    build_bundle("fail-accuracy", bundle)  # the golden case: its base with its changes
    (bundle / "exceptions.yaml").write_text("- {rule: EVAL-001, reason: trust me}\n")
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text() + "exceptions: exceptions.yaml\n")
    report = run_check(CheckOptions(config=str(manifest), today=TODAY, env={}))
    assert report.error is not None and report.exit_code == 2
    assert report.error.path == "exceptions.yaml"
    assert "approved_by" in report.error.message


@pytest.mark.parametrize(("doc", "where"), [
    ({"exceptions": [{"rule": "X", "reason": "r", "approved_by": "a", "expires": "2026-02-30"}]},
     "$.exceptions[0].expires"),
    ([{"rule": "X", "reason": "r", "approved_by": "a", "expires": "2026-02-30"}],
     "$[0].expires"),  # a file that is only the list
])
def test_a_waiver_is_placed_where_it_stands_in_its_file(doc: object, where: str) -> None:
    with pytest.raises(ManifestError, match="not a calendar date") as info:
        parse_waivers(doc, "exceptions.yaml")
    assert info.value.pointer == where
    ok = [{"rule": "X", "reason": "r", "approved_by": "a"}]
    assert parse_waivers(ok, "exceptions.yaml")[0].pointer == "$[0]"
    assert parse_waivers({"exceptions": ok}, "e.yaml")[0].pointer == "$.exceptions[0]"
