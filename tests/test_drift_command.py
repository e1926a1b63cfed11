"""`gate drift` end to end: the verdict, the recalibration plan, its execution, CI outputs,
since-when state, and drift in `gate check`'s verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.schemas import validate

ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": "", "CI": ""}


def frame(n: int, seed: int, shift: float = 0.0, countries: tuple[str, ...] = ("DE", "FR")
          ) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.lognormal(3 + shift, 1, n),
                         "age": rng.integers(18, 90, n),
                         "country": rng.choice(list(countries), n)})


def bundle(root: Path, *, drifted: bool, extra: dict[str, Any] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    frame(3000, 1).to_parquet(root / "ref.parquet", index=False)
    current = (frame(3000, 2, shift=1.0, countries=("DE", "FR", "NZ")) if drifted
               else frame(3000, 2))
    current.to_parquet(root / "cur.parquet", index=False)
    manifest: dict[str, Any] = {
        "version": 1, "model": {"name": "fraud-detector", "version": "2.4.0"},
        "library": ["drift"],
        "drift": [{"name": "transactions",
                   "reference": {"data": "ref.parquet",
                                 "window": {"start": "2026-09-01", "end": "2026-09-30"}},
                   "current": {"data": "cur.parquet", "window": {"start": "2026-11-24"}},
                   "features": {"numeric": ["amount", "age"], "categorical": ["country"]}}],
        "recalibration": {
            "target": {"pipeline": "fraud-retrain"},
            "steps": [{"name": "start-retraining",
                       "run": ["sh", "-c", 'echo "retrain $GATE_TARGET_PIPELINE" >> retrain.log'],
                       "retries": 0}]},
        **(extra or {}),
    }
    (root / "gate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return root


def gate(root: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, [*args[:1], "--config", str(root / "gate.yaml"),
                                    *args[1:]], env={**ENV, **env})


def report(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "drift-report.json").read_text())
    validate(doc, "drift-report", path=None, what="the drift report")
    return doc


def test_calm_data_passes_and_a_stale_plan_is_removed(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "recalibration-plan.json").write_text("{}")
    result = gate(root, "drift", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Decision: PASS (exit 0)" in result.output
    assert not (out / "recalibration-plan.json").exists()
    doc = report(out)
    assert doc["decision"] == "pass" and doc["recalibration_plan"] is None
    assert doc["drifted"] == [] and doc["state"]["features"] == {}
    assert [f["name"] for f in doc["checks"][0]["features"]] == ["amount", "age", "country"]


@pytest.mark.slow  # several drift runs over parquet data
def test_drift_writes_the_plan_ci_outputs_and_keeps_since_when(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=True)
    out = tmp_path / "out"
    github = tmp_path / "github-output"
    first = gate(root, "drift", "-o", str(out), "-f", "text", "-f", "github", "-f", "gitlab",
                 GITHUB_OUTPUT=str(github))
    assert first.exit_code == 1, first.output
    assert "DRIFT amount" in first.output and "GATE-DRIFT-002" in first.output
    doc = report(out)
    assert doc["decision"] == "fail"
    assert set(doc["drifted"]) == {"transactions/amount", "transactions/country"}
    plan = json.loads((out / "recalibration-plan.json").read_text())
    validate(plan, "recalibration-plan", path=None, what="the plan")
    assert plan["trigger"] == "drift" and plan["model"] == {"name": "fraud-detector",
                                                             "version": "2.4.0"}
    (check,) = plan["drift"]
    assert check["reference"]["window"] == {"start": "2026-09-01", "end": "2026-09-30"}
    assert check["current"]["rows"] == 3000
    by_feature = {d["feature"]: d for d in check["drifted"]}
    assert {f["id"] for f in by_feature["country"]["findings"]} >= {"GATE-DRIFT-004"}
    since = by_feature["amount"]["since"]
    assert {r["id"] for r in plan["reasons"]} >= {"GATE-DRIFT-002", "GATE-DRIFT-004"}
    assert plan["steps"][0]["run"][2] == 'echo "retrain $GATE_TARGET_PIPELINE" >> retrain.log'
    # the CI homes get the plan
    text = github.read_text()
    assert "\nrecalibration-plan-sha256<<" in text and text.startswith("decision<<")
    assert doc["recalibration_plan"]["sha256"] in text
    assert str((out / "recalibration-plan.json").resolve()) in text  # outside the workspace
    dotenv = dict(line.split("=", 1) for line in
                  (out / "gate-drift.env").read_text().splitlines())
    assert dotenv["GATE_DRIFT_DECISION"] == "fail"
    assert dotenv["GATE_RECALIBRATION_PLAN_SHA256"] == doc["recalibration_plan"]["sha256"]
    assert set(dotenv["GATE_DRIFTED_FEATURES"].split(",")) == set(doc["drifted"])
    # a later run keeps since when; --reset-state forgets it
    second = gate(root, "drift", "-o", str(out), "-f", "json")
    assert second.exit_code == 1
    state = json.loads(second.output)["state"]["features"]["transactions/amount"]
    assert state["since"] == since and state["runs"] == 2
    again = json.loads((out / "recalibration-plan.json").read_text())
    assert {d["feature"]: d for d in again["drift"][0]["drifted"]}["amount"]["since"] == since
    reset = gate(root, "drift", "-o", str(out), "-f", "json", "--reset-state")
    assert json.loads(reset.output)["state"]["features"]["transactions/amount"]["runs"] == 1


@pytest.mark.slow  # several drift runs over parquet data
def test_the_plan_runs_with_the_rollback_executor_and_resumes(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    root = bundle(tmp_path / "b", drifted=True, extra={"recalibration": {"steps": [
        {"name": "record", "run": ["sh", "-c", "echo recalibrating >> steps.log"]},
        {"name": "start", "run": ["sh", "-c", "test -f go && echo started >> steps.log"]},
    ]}})
    out = root / "gate-report"
    assert gate(root, "drift", "-o", str(out)).exit_code == 1
    monkeypatch.chdir(root)
    plan = "gate-report/recalibration-plan.json"
    dry = CliRunner().invoke(cli, ["rollback", plan], env=ENV)
    assert dry.exit_code == 0, dry.output
    assert "recalibrate fraud-detector 2.4.0 (drifted:" in dry.output
    assert "Nothing was run" in dry.output
    failed = CliRunner().invoke(cli, ["rollback", plan, "--execute"], env=ENV)
    assert failed.exit_code == 1 and "Recalibration stopped at step 2 (start)" in failed.output
    (root / "go").write_text("")
    done = CliRunner().invoke(cli, ["rollback", plan, "--execute"], env=ENV)
    assert done.exit_code == 0, done.output
    assert "[1/2] record: done in an earlier run, skipped" in done.output
    assert "Recalibration complete" in done.output
    assert (root / "steps.log").read_text().splitlines() == ["recalibrating", "started"]
    sha = report(out)["recalibration_plan"]["sha256"]
    wrong = CliRunner().invoke(cli, ["rollback", plan, "--expect-sha256", "0" * 64], env=ENV)
    assert wrong.exit_code == 2 and sha[:12] not in "0" * 64


@pytest.mark.slow  # several drift runs over parquet data
def test_gate_check_judges_drift_and_input_shows_it(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=True)
    out = tmp_path / "out"
    result = gate(root, "check", "-o", str(out))
    assert result.exit_code == 1, result.output
    decision = json.loads((out / "decision.json").read_text())
    ids = {f["id"] for f in decision["findings"] if f["effect"] == "fail"}
    assert {"GATE-DRIFT-002", "GATE-DRIFT-004"} <= ids
    assert "drift" in decision["timings_ms"]
    assert "drift" not in json.loads(gate(root, "input").output)  # reading data is opt-in
    shown = gate(root, "input", "--with-drift")
    assert shown.exit_code == 0, shown.output
    drift = json.loads(shown.output)["drift"]
    assert drift[0]["features"][0]["statistics"]["wasserstein_norm"] > 0.1


def test_a_broken_recalibration_section_is_exit_2_on_every_run(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=False, extra={"recalibration": {"steps": [
        {"name": "start", "run": ["retrain", "${model.nme}"]}]}})
    result = gate(root, "drift", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "$.recalibration.steps[0].run" in result.output
    assert "unknown placeholder ${model.nme}" in result.output
    assert "Traceback" not in result.output
    assert report(tmp_path / "out")["decision"] == "error"


def test_without_drift_rules_or_checks_it_is_exit_2(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=True, extra={"library": False})
    result = gate(root, "drift", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "gate.drift" in result.output, result.output
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "gate.yaml").write_text("version: 1\nmodel: {name: m, version: '1'}\n")
    result = gate(bare, "drift", "-o", str(tmp_path / "out2"))
    assert result.exit_code == 2 and "no drift: section" in result.output


def test_one_check_by_name(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=False)
    result = gate(root, "drift", "-o", str(tmp_path / "out"), "--check", "nope")
    assert result.exit_code == 2 and "no drift check is named 'nope'" in result.output
    assert gate(root, "drift", "-o", str(tmp_path / "out"), "--check",
                "transactions").exit_code == 0


def test_ci_outputs_keep_the_summary_and_take_paths_where_they_can(tmp_path: Path) -> None:
    root = bundle(tmp_path / "b", drifted=False)
    out = tmp_path / "out"
    result = gate(root, "drift", "-o", str(out), "-f", f"gitlab={tmp_path / 'drift.env'}",
                  "-f", f"json={tmp_path / 'drift.json'}")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("gate drift: ")  # no document went to stdout
    assert "GATE_DRIFT_DECISION=pass" in (tmp_path / "drift.env").read_text()
    assert json.loads((tmp_path / "drift.json").read_text()) == report(out)
    refused = gate(root, "drift", "-o", str(tmp_path / "out2"), "-f", "github=x.txt")
    assert refused.exit_code == 2
    assert "--format github takes no path for gate drift" in refused.output
    assert not (tmp_path / "out2").exists()  # refused before anything ran


def test_the_runner_returns_errors_inside_the_report(tmp_path: Path) -> None:
    from gate.drift.judge import DriftOptions, judge_drift
    from gate.errors import ManifestError

    root = tmp_path / "b"
    root.mkdir()
    (root / "gate.yaml").write_text("version: 1\nmodel: {name: m, version: '1'}\n")
    result = judge_drift(DriftOptions(cwd=root, output_dir="out"))
    assert isinstance(result.error, ManifestError) and result.decision is None
    assert result.exit_code == 2
    assert result.doc["decision"] == "error"
    assert result.doc["error"]["pointer"] == "$.drift"
    validate(dict(result.doc), "drift-report", path=None, what="the drift report")


def test_enforcement_is_settled_once_as_in_gate_check(tmp_path: Path) -> None:
    """An exact entry and a glob that raises the same rule further: the policy run settles the
    levels; settling them again would read the glob's level as one the exact entry lowers."""
    root = bundle(tmp_path / "b", drifted=True, extra={"enforcement": {
        "GATE-DRIFT-002": "soft-mandatory", "GATE-DRIFT-*": "hard-mandatory"}})
    result = gate(root, "drift", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    levels = {f["id"]: f["enforcement"] for f in report(tmp_path / "out")["findings"]}
    assert levels["GATE-DRIFT-002"] == "hard-mandatory"
    assert levels["GATE-DRIFT-001"] == "hard-mandatory"  # advisory, raised by the glob


def test_since_when_is_kept_per_model(tmp_path: Path) -> None:
    """drift-state.json says since when a feature drifts for one model version; another
    version's run starts its own record rather than inheriting the streak."""
    from gate.drift.state import advance, load_state, save_state

    path = tmp_path / "drift-state.json"
    v1, v2 = {"name": "m", "version": "1"}, {"name": "m", "version": "2"}
    first, later = "2026-11-01T00:00:00+00:00", "2026-11-08T00:00:00+00:00"
    save_state(path, v1, advance({}, ["c/f", "c/g"], first))
    assert load_state(path, "drift-state.json", model=v2) == {}
    kept = advance(load_state(path, "drift-state.json", model=v1), ["c/f"], later)
    assert kept == {"c/f": {"since": first, "last": later, "runs": 2}}  # c/g stopped drifting
