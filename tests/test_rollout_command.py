"""`gate rollout` end to end on the walk-through bundle (examples/rollout)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

from gate.cli import cli
from gate.schemas import validate

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rollout"
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "gate" / "schemas"
                     / "rollout-decision.schema.json").read_text("utf-8"))


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "rollout"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("gate-report"))
    monkeypatch.chdir(root)
    return root


def gate(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def poll(stage: str, metrics: str, *extra: str) -> Result:
    return gate("rollout", "--stage", stage, "--metrics", f"monitoring/{metrics}.json", *extra)


def decision(out: str = "gate-report") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(Path(out, "rollout-decision.json").read_text("utf-8"))
    Draft202012Validator(SCHEMA).validate(doc)
    return doc


def test_the_walk_from_5_to_100_percent(bundle: Path) -> None:
    r = poll("canary-5", "canary-5-10m", "--elapsed", "10m")
    assert r.exit_code == 3, r.output
    assert "Decision: HOLD (exit 3)" in r.output and "baking: 10m00s of 30m00s" in r.output
    d = decision()
    assert (d["decision"], d["traffic_weight"], d["rollback_plan"]) == ("hold", 5, None)
    assert {c["outcome"] for c in d["checks"]} == {"hold"}

    r = poll("canary-5", "canary-5-35m", "--elapsed", "35m")
    assert r.exit_code == 0, r.output
    d = decision()
    assert (d["decision"], d["next_stage"], d["traffic_weight"]) == (
        "promote", {"name": "canary-25", "weight": 25}, 25)
    mw = d["checks"][1]["test"]
    assert mw["name"] == "mann-whitney" and mw["alternative"] == "greater"

    for stage, metrics, elapsed, weight in (("canary-25", "canary-25-40m", "40m", 50),
                                            ("canary-50", "canary-50-1h", "1h", 100),
                                            ("full", "full-1h", "1h", 100)):
        r = poll(stage, metrics, "--elapsed", elapsed)
        assert r.exit_code == 0, r.output
        assert decision()["traffic_weight"] == weight
    assert "the rollout is complete" in r.output
    d = decision()
    assert d["next_stage"] is None and d["monitoring"]["dropped"] == {"canary.error_rate": 3}
    assert [f["path"] for f in d["monitoring"]["files"]] == [
        "monitoring/full-1h.json", "monitoring/prometheus/full-error-rate.json"]


def test_a_bad_canary_rolls_back_and_writes_the_plan(bundle: Path) -> None:
    r = poll("canary-25", "canary-25-bad", "--elapsed", "5m")  # no need to wait for the bake
    assert r.exit_code == 1, r.output
    assert "Decision: ROLLBACK (exit 1)" in r.output
    d = decision()
    failed = [c for c in d["checks"] if c["outcome"] == "fail"]
    assert [c["id"] for c in failed] == ["rollout.latency_ms"]
    assert failed[0]["test"]["significant"] and failed[0]["test"]["rejected_at_poll"] == 1
    assert [f["id"] for f in d["findings"]] == ["ROLLOUT-001"]  # the p99 SLO policy
    plan_path = Path(d["rollback_plan"]["path"])
    assert d["rollback_plan"]["sha256"] == hashlib.sha256(plan_path.read_bytes()).hexdigest()
    plan = json.loads(plan_path.read_text("utf-8"))
    validate(plan, "rollback-plan", path=str(plan_path), what="plan")
    assert plan["trigger"] == "rollout"
    assert [x["id"] for x in plan["reasons"]] == ["rollout.latency_ms", "ROLLOUT-001"]
    assert plan["steps"][0]["run"] == ["./deploy.sh", "route", "fraud-detector", "2.3.1"]
    # a later healthy poll in the same folder removes the stale plan
    assert poll("canary-5", "canary-5-35m", "--elapsed", "1h").exit_code == 0
    assert not plan_path.exists()


def _cut(source: str, target: str, n: int) -> None:
    doc = json.loads(Path("monitoring", f"{source}.json").read_text("utf-8"))
    for side in ("canary", "baseline"):
        doc[side] = {k: v[:n] for k, v in doc[side].items()}
    Path("monitoring", f"{target}.json").write_text(json.dumps(doc), "utf-8")


def test_the_sequential_test_continues_across_polls(bundle: Path) -> None:
    _cut("canary-25-40m", "early", 500)
    assert poll("canary-25", "early", "--elapsed", "20m").exit_code == 3
    assert poll("canary-25", "canary-25-40m", "--elapsed", "40m").exit_code == 0
    d = decision()
    seq = d["checks"][1]["test"]
    assert (seq["name"], seq["poll"]) == ("sequential", 2)
    state = json.loads(Path("gate-report/rollout-state.json").read_text("utf-8"))
    test = state["stages"]["canary-25"]["tests"]["1:latency_ms"]
    assert (test["polls"], test["n_canary"], test["alpha"]) == (2, 700, 0.05)
    assert d["state"]["sha256"] == hashlib.sha256(
        Path("gate-report/rollout-state.json").read_bytes()).hexdigest()

    # fewer samples than the last poll: not the same test any more
    r = poll("canary-25", "early", "--elapsed", "45m")
    assert r.exit_code == 2
    assert "gate-report/rollout-state.json" in r.output and "--reset-state" in r.output
    assert "every sample since the stage began" in r.output
    r = poll("canary-25", "early", "--elapsed", "45m", "--reset-state")
    assert r.exit_code == 0, r.output
    assert decision()["checks"][1]["test"]["poll"] == 1


def test_bake_clock_from_the_first_poll_or_started_at(bundle: Path) -> None:
    r = poll("canary-5", "canary-5-35m")
    assert r.exit_code == 3 and "baking: 0s of 30m00s" in r.output
    assert poll("canary-5", "canary-5-35m", "--started-at", "2020-01-01T00:00:00Z").exit_code == 0
    r = poll("canary-5", "canary-5-35m", "--started-at", "yesterday")
    assert r.exit_code == 2 and "not an ISO-8601 time" in r.output
    r = poll("canary-5", "canary-5-35m", "--elapsed", "1h", "--started-at", "2020-01-01T00:00Z")
    assert r.exit_code == 2 and "not both" in r.output


def test_stage_policies_see_the_stage(bundle: Path) -> None:
    Path("policies/stage.rego").write_text(
        "package stage\n\nimport rego.v1\n\n"
        "deny contains msg if {\n"
        "\tinput.rollout.stage.weight >= 50\n"
        "\tinput.rollout.stage.elapsed_s < 7200\n"
        '\tmsg := sprintf("%s needs 2h at %v%%", [input.rollout.stage.name, '
        "input.rollout.stage.weight])\n}\n", "utf-8")
    r = poll("canary-50", "canary-50-1h", "--elapsed", "1h")
    assert r.exit_code == 1, r.output
    assert "policy stage.deny: canary-50 needs 2h at 50%" in r.output
    assert poll("canary-50", "canary-50-1h", "--elapsed", "3h").exit_code == 0


def test_json_output(bundle: Path) -> None:
    r = poll("canary-5", "canary-5-35m", "--elapsed", "1h", "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.output)["decision"] == "promote"
    assert json.loads(r.output) == decision()  # the file, as written


def test_json_to_a_file_keeps_the_summary_on_stdout(bundle: Path) -> None:
    r = poll("canary-5", "canary-5-35m", "--elapsed", "1h", "--format", "json=poll.json")
    assert r.exit_code == 0
    assert "Decision: PROMOTE (exit 0)" in r.output
    assert json.loads(Path("poll.json").read_text("utf-8")) == decision()
    unknown = poll("canary-5", "canary-5-35m", "--format", "sarif")
    assert unknown.exit_code == 2
    assert "unknown format 'sarif' for gate rollout" in unknown.output
    assert "choose from: text, json" in unknown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stage", "canary-7", "--metrics", "monitoring/full-1h.json"],
         "gate.yaml at $.rollout.stages: no rollout stage called 'canary-7'"),
        (["--stage", "full", "--metrics", "monitoring/nope.json"],
         "monitoring/nope.json: monitoring file not found"),
    ],
)
def test_errors_exit_2_naming_the_file(bundle: Path, args: list[str], message: str) -> None:
    r = gate("rollout", *args)
    assert r.exit_code == 2
    assert message in r.output and "->" in r.output
    assert "Traceback" not in r.output


def test_no_rollout_section(bundle: Path) -> None:
    text = Path("gate.yaml").read_text("utf-8")
    Path("gate.yaml").write_text(text[:text.index("rollout:")], "utf-8")
    r = poll("canary-5", "canary-5-35m")
    assert r.exit_code == 2 and "the manifest has no rollout: section" in r.output


def test_a_new_candidate_starts_a_new_rollout(bundle: Path) -> None:
    assert poll("canary-25", "canary-25-40m", "--elapsed", "1h").exit_code == 0
    text = Path("gate.yaml").read_text("utf-8").replace("version: 2.4.0", "version: 2.4.1")
    Path("gate.yaml").write_text(text, "utf-8")
    _cut("canary-25-40m", "early", 500)
    r = poll("canary-25", "early", "--elapsed", "1h")
    assert r.exit_code == 0, r.output
    assert "was left by fraud-detector 2.4.0; a new rollout of fraud-detector 2.4.1" in r.output


def test_no_numpy_or_scipy_at_run_time(bundle: Path) -> None:
    """The statistics are pure Python: a poll and a rollback never import numpy or scipy."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gate.cli import cli\n"
        "args = ['rollout', '--stage', 'canary-25', '--metrics', "
        "'monitoring/canary-25-bad.json', '--elapsed', '1h']\n"
        "assert CliRunner().invoke(cli, args).exit_code == 1\n"
        "assert CliRunner().invoke(cli, ['rollback', 'gate-report/rollback-plan.json'])"
        ".exit_code == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'scipy'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_overlapping_polls_take_turns(bundle: Path) -> None:
    """A poll waits while another holds the output folder, so no state update is lost."""
    from gate.fsutil import exclusive_lock

    gate_bin = Path(sys.executable).parent / "gate"
    lock = bundle / "gate-report" / ".rollout-state.json.lock"
    args = [str(gate_bin), "rollout", "--stage", "canary-5", "--metrics",
            "monitoring/canary-5-35m.json", "--elapsed", "35m"]
    with exclusive_lock(lock, "lock"):
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        first = proc.stderr.readline()  # printed before it blocks on the lock
        assert "waiting for another poll of this output folder to finish" in first
        assert proc.poll() is None
        assert not (bundle / "gate-report" / "rollout-decision.json").exists()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert decision()["decision"] == "promote"


def test_a_poll_does_not_hash_an_unchanged_artifact_again(bundle: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The digests live in the rollout state with each file's identity; an unchanged file
    is not hashed again on the next poll, a changed one is."""
    from gate.bundle import artifacts

    calls: list[str] = []
    real = artifacts._digest

    def counting(path: Path, buf: bytearray | None = None) -> tuple[str, int, bytes]:
        calls.append(Path(path).name)
        return real(path, buf)

    monkeypatch.setattr(artifacts, "_digest", counting)
    (bundle / "artifacts").mkdir()
    model = bundle / "artifacts" / "model.safetensors"
    shutil.copy(EXAMPLE.parent / "passing" / "artifacts" / "model.safetensors", model)
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text().replace(
        "model:\n", "model:\n  artifacts: [artifacts/model.safetensors]\n", 1))
    assert poll("canary-5", "canary-5-10m").exit_code in (0, 3)
    assert calls == ["model.safetensors"]
    state = json.loads((bundle / "gate-report" / "rollout-state.json").read_text())
    assert state["artifacts"]["artifacts/model.safetensors"]["sha256"] == hashlib.sha256(
        model.read_bytes()).hexdigest()
    calls.clear()
    poll("canary-5", "canary-5-10m")
    assert calls == []  # same device, inode, size and modification time: not hashed
    model.write_bytes(model.read_bytes() + b"\0")
    third = poll("canary-5", "canary-5-10m")
    assert calls == ["model.safetensors"], third.output  # changed: hashed again


GOLDEN = Path(__file__).parent / "reports" / "golden" / "rollout"


@pytest.mark.parametrize(("metrics", "name"), [("canary-5-10m", "hold"),
                                                ("canary-25-bad", "rollback")])
def test_rollout_outputs_match_their_goldens(bundle: Path, metrics: str, name: str) -> None:
    """The summary and rollout-decision.json of a poll, run-specific values replaced;
    GATE_UPDATE_GOLDEN=1 rewrites them."""
    import os
    import re

    stage = metrics.rsplit("-", 1)[0]
    result = poll(stage, metrics, "--elapsed", "10m", "--engine", "regorus")
    doc = decision()
    doc["created_at"] = "{TIME}"
    doc["gate_version"] = "{GATE_VERSION}"
    doc["state"]["sha256"] = "{SHA256}"
    doc["ci"] = {}
    doc["policies"]["engine"]["version"] = "{VERSION}"
    if doc["rollback_plan"]:
        doc["rollback_plan"]["sha256"] = "{SHA256}"  # the plan records when it was made
    text = re.sub(r"sha256 [0-9a-f]{12}", "sha256 {SHA}", result.output)
    for suffix, content in (("txt", text), ("json", json.dumps(doc, indent=2) + "\n")):
        golden = GOLDEN / f"{name}.{suffix}"
        if os.environ.get("GATE_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(content)
        assert content == golden.read_text(), golden.name
