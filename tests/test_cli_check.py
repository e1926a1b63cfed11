"""`gate check` through the CLI: options, outputs, failure modes, and what it imports."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.engines import choose_engine
from gate.schemas import validate

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "cases"
EXAMPLES = ROOT / "examples"
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(CASES / "pass", dest, ignore=shutil.ignore_patterns("expected.json"))
    return dest


def check(bundle: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    out = bundle.parent / "out"
    return CliRunner().invoke(
        cli, ["check", "--config", str(bundle / "gate.yaml"), "--output-dir", str(out), *args],
        env={**ENV, **(env or {})},
    )


def decision(bundle: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((bundle.parent / "out" / "decision.json").read_text())
    validate(doc, "decision", path="decision.json", what="decision.json")
    return doc


def test_examples_pass_and_fail(tmp_path: Path) -> None:
    for name, code in (("passing", 0), ("failing", 1)):
        src = tmp_path / name
        shutil.copytree(EXAMPLES / name, src)
        result = check(src)
        assert result.exit_code == code, result.output
        doc = decision(src)
        assert doc["decision"] == ("pass" if code == 0 else "fail")
        roles = {r["role"] for r in doc["inputs"]}
        assert {"manifest", "model card", "lineage", "evaluation report"} <= roles
        assert all(len(p["sha256"]) == 64 for p in doc["policies"])
        assert doc["engine"]["name"] == choose_engine(None).name
    plan = json.loads((tmp_path / "out" / "rollback-plan.json").read_text())
    validate(plan, "rollback-plan", path="rollback-plan.json", what="plan")
    assert plan["steps"][0]["run"] == ["./deploy.sh", "route", "fraud-detector", "2.3.1"]
    assert plan["steps"][1]["http"]["body"] == {
        "text": "rolled back fraud-detector 2.5.0 -> 2.3.1"}
    assert {r["id"] for r in plan["reasons"]} == {"GATE-LIN-004", "GATE-EVAL-006",
                                                   "GATE-EVAL-009", "GATE-EVAL-010"}
    findings = decision(tmp_path / "failing")["findings"]
    locs = {f["id"]: f["details"].get("_loc") for f in findings}
    assert locs["GATE-LIN-004"] == "lineage/run.yaml"  # the library points at the input file
    assert locs["GATE-EVAL-009"] == "reports/eval.json"
    waived = [f for f in findings if f["effect"] == "waived"]
    assert [(f["id"], f["waiver"]["approved_by"]) for f in waived] == [
        ("GATE-EVAL-003", "head-of-risk@example.com")]


def test_decision_records_the_plan_digest(bundle: Path) -> None:
    (bundle / "eval.json").write_text('{"metrics": {"accuracy": 0.5}}')
    assert check(bundle).exit_code == 1
    doc = decision(bundle)
    plan_bytes = (bundle.parent / "out" / "rollback-plan.json").read_bytes()
    assert doc["rollback_plan"]["sha256"] == hashlib.sha256(plan_bytes).hexdigest()
    # A later passing run removes the stale plan, so no deploy job can execute it.
    (bundle / "eval.json").write_text('{"metrics": {"accuracy": 0.95}}')
    assert check(bundle).exit_code == 0
    assert not (bundle.parent / "out" / "rollback-plan.json").exists()
    assert decision(bundle)["rollback_plan"] is None


def test_text_report_is_readable(bundle: Path) -> None:
    (bundle / "eval.json").write_text('{"metrics": {"accuracy": 0.5}}')
    result = check(bundle)
    lines = result.output.splitlines()
    assert lines[0] == "gate: FAIL  tiny 1.1.0  (2 rules: 1 passed, 1 failed; 1 finding: 1 failing)"
    assert "CRITICAL (1)" in lines
    assert any("fix: Retrain before releasing." in line for line in lines)
    assert any(line.strip() == "policies/release.rego:11" for line in lines)
    assert "\x1b[" not in result.output  # NO_COLOR


def test_colour_only_when_asked(bundle: Path) -> None:
    (bundle / "eval.json").write_text('{"metrics": {"accuracy": 0.5}}')
    env = {k: v for k, v in ENV.items() if k != "NO_COLOR"}
    result = CliRunner().invoke(cli, ["check", "-c", str(bundle / "gate.yaml"), "-o",
                                      str(bundle.parent / "out")], env={**env, "FORCE_COLOR": "1"})
    assert "\x1b[31m" in result.output


def test_json_format_on_stdout(bundle: Path) -> None:
    result = check(bundle, "--format", "json")
    assert json.loads(result.output)["decision"] == "pass"


def test_format_to_path_and_unknown_format(bundle: Path) -> None:
    target = bundle.parent / "d.json"
    assert check(bundle, "--format", f"json={target}", "--format", "text").exit_code == 0
    assert json.loads(target.read_text())["decision"] == "pass"
    bad = check(bundle, "--format", "yamlish")
    assert bad.exit_code == 2 and "unknown format 'yamlish'" in bad.stderr


def test_fail_on_warn(bundle: Path) -> None:
    (bundle / "card.yaml").write_text("intended_use: x\n")
    assert check(bundle).exit_code == 0
    result = check(bundle, "--fail-on-warn")
    assert result.exit_code == 1
    assert (bundle.parent / "out" / "rollback-plan.json").exists()


def test_namespace_policy_and_data_options(bundle: Path) -> None:
    extra = bundle.parent / "extra"
    extra.mkdir()
    (extra / "strict.rego").write_text(
        "package strict\nimport rego.v1\ndeny contains \"too strict\" if data.strict.on\n")
    (extra / "strict.yaml").write_text("strict: {on: true}\n")
    assert check(bundle, "--data", str(extra / "strict.yaml")).exit_code == 0
    result = check(bundle, "--policy", str(extra / "strict.rego"),
                   "--data", str(extra / "strict.yaml"))
    assert result.exit_code == 1 and "too strict" in result.output
    both = check(bundle, "--policy", str(extra), "--policy", str(bundle / "policies"),
                 "--namespace", "release")
    assert both.exit_code == 0
    missing = check(bundle, "--policy", "nowhere/")
    assert missing.exit_code == 2 and "'nowhere/' does not exist" in missing.stderr


def test_conflicting_data_is_an_error(bundle: Path) -> None:
    (bundle / "more.yaml").write_text("floors: {accuracy: 0.5}\n")
    text = (bundle / "gate.yaml").read_text().replace("data: [floors.yaml]",
                                                       "data: [floors.yaml, more.yaml]")
    (bundle / "gate.yaml").write_text(text)
    result = check(bundle)
    assert result.exit_code == 2
    assert "data.floors.accuracy is defined by more than one data document" in result.stderr


def test_symlink_escape(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"metrics": {"accuracy": 0.99}}')
    (bundle / "eval.json").unlink()
    os.symlink(outside, bundle / "eval.json")
    result = check(bundle)
    assert result.exit_code == 2
    assert "gate: bundle error in eval.json" in result.stderr
    assert "symlink that resolves outside" in result.stderr
    assert decision(bundle)["decision"] == "error"


def test_missing_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--config", str(tmp_path / "nope.yaml")], env=ENV)
    assert result.exit_code == 2
    assert "manifest not found" in result.stderr and "gate init" in result.stderr


def test_engine_failure_fails_closed(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.engines.regorus import RegorusEngine
    from gate.errors import EngineError

    def broken(self: RegorusEngine, refs: object, input_doc: object) -> dict[str, Any]:
        raise EngineError("the regorus engine crashed while evaluation failed: boom")

    monkeypatch.setattr(RegorusEngine, "evaluate", broken)
    result = check(bundle, "--engine", "regorus")
    assert result.exit_code == 2
    assert "engine error" in result.stderr and "boom" in result.stderr
    assert decision(bundle)["error"]["type"] == "EngineError"


def test_bug_is_exit_2_without_traceback_unless_debug(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*_: object, **__: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr("gate.commands.check.run_check", bug)
    result = check(bundle)
    assert result.exit_code == 2
    assert "internal error: KeyError" in result.stderr
    assert "Traceback" not in result.stderr
    debug = check(bundle, "--debug")
    assert debug.exit_code == 2 and "Traceback" in debug.stderr


def test_opa_engine_needs_url(bundle: Path) -> None:
    result = check(bundle, "--engine", "opa")
    assert result.exit_code == 2 and "--opa-url" in result.stderr


def test_schema_and_input_commands(bundle: Path) -> None:
    runner = CliRunner()
    schema = json.loads(runner.invoke(cli, ["schema", "manifest"]).output)
    assert schema["title"].startswith("gate release manifest")
    out = runner.invoke(cli, ["input", "--config", str(bundle / "gate.yaml")], env=ENV)
    doc = json.loads(out.output)
    validate(doc, "input", path=None, what="input")
    assert doc["evaluation"]["comparison"]["accuracy"]["baseline"] == 0.9
    assert doc["ci"]["platform"] == "local"


def test_ci_detection_in_github(bundle: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 17}}))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/fraud", "GITHUB_SHA": "abc",
           "GITHUB_REF": "refs/pull/17/merge", "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(event), "GITHUB_ACTOR": "octocat"}
    assert check(bundle, env=env).exit_code == 0
    ci = decision(bundle)["ci"]
    assert ci == {"platform": "github", "repository": "acme/fraud", "ref": "refs/pull/17/merge",
                  "sha": "abc", "actor": "octocat", "event": "pull_request", "pull_request": 17}


def test_check_imports_no_heavy_integrations(bundle: Path) -> None:
    """A bundle without suites never loads GX, SQL drivers or HTTP clients."""
    code = (
        "import sys\n"
        "from gate.cli import cli\n"
        "try:\n"
        f"    cli.main(['check', '-c', {str(bundle / 'gate.yaml')!r}, '-o', "
        f"{str(bundle.parent / 'out')!r}], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('great_expectations', 'pandas', 'sqlalchemy', 'pyspark', 'requests',\n"
        "         'urllib3', 'http.client', 'opa_client', 'numpy', 'scipy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, **ENV})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_console_script_runs(bundle: Path) -> None:
    gate = Path(sys.executable).parent / "gate"
    proc = subprocess.run([str(gate), "check", "-c", str(bundle / "gate.yaml"), "-o",
                           str(bundle.parent / "out")], capture_output=True, text=True,
                          check=False, env={**os.environ, **ENV})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gate: PASS  tiny 1.1.0")


def test_error_run_still_writes_file_reports(bundle: Path) -> None:
    (bundle / "eval.json").write_text("{broken")
    out = bundle.parent / "out"
    result = check(bundle, "--format", "sarif", "--format", "junit", "--format", "gitlab")
    assert result.exit_code == 2
    for name in ("gate.sarif", "junit.xml", "gl-code-quality-report.json", "gate.env"):
        assert (out / name).is_file(), name
    assert "GATE_DECISION=error" in (out / "gate.env").read_text()


def test_dash_sends_a_file_format_to_stdout(bundle: Path) -> None:
    result = check(bundle, "--format", "markdown=-")
    assert result.exit_code == 0
    assert "PASS" in result.output and "tiny" in result.output
    assert not (Path.cwd() / "-").exists()
    assert not (bundle.parent / "out" / "summary.md").exists()


def test_library_findings_are_annotated_at_the_metric_line(tmp_path: Path) -> None:
    src = tmp_path / "failing"
    shutil.copytree(EXAMPLES / "failing", src)
    result = check(src, "--format", "github")
    roc_auc = [line for line in result.output.splitlines()
               if "GATE-EVAL-006" in line and "roc_auc is" in line]
    assert len(roc_auc) == 1
    assert "reports/eval.json,line=4," in roc_auc[0]  # "roc_auc" sits on line 4 of eval.json


def test_error_paths_without_a_golden_case(bundle: Path, tmp_path: Path) -> None:
    # An output folder that cannot be created.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["check", "-c", str(bundle / "gate.yaml"),
                                      "-o", str(blocker / "out")], env=ENV)
    assert result.exit_code == 2 and "cannot write the output file" in result.stderr
    # --config naming a folder without gate.yaml.
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["check", "-c", str(empty)], env=ENV)
    assert result.exit_code == 2 and "no gate.yaml in the folder" in result.stderr
    # A data document that is not a mapping.
    (bundle / "floors.yaml").write_text("- 0.9\n")
    result = check(bundle)
    assert result.exit_code == 2
    assert "policy error in floors.yaml" in result.stderr and "mapping" in result.stderr


def test_unknown_placeholder_in_a_rollback_step_is_exit_2(bundle: Path) -> None:
    (bundle / "eval.json").write_text('{"metrics": {"accuracy": 0.5}}')
    manifest = bundle / "gate.yaml"
    manifest.write_text(manifest.read_text().replace("${target.version}", "${target.verison}"))
    result = check(bundle)
    assert result.exit_code == 2
    assert "unknown placeholder ${target.verison}" in result.stderr


def test_a_file_format_keeps_the_verdict_on_stdout(bundle: Path) -> None:
    result = check(bundle, "--format", "sarif")
    assert result.output.startswith("gate: PASS  tiny 1.1.0")
    assert (bundle.parent / "out" / "gate.sarif").is_file()
    to_stdout = check(bundle, "--format", "json=-")
    assert to_stdout.output.lstrip().startswith("{")  # stdout is the JSON alone


def test_an_unwritable_format_path_names_its_folder(bundle: Path) -> None:
    result = check(bundle, "--format", f"sarif={bundle / 'gate.yaml'}/x.sarif")
    assert result.exit_code == 2
    assert f"check that the folder {bundle / 'gate.yaml'} exists" in result.stderr
    assert "--output-dir" not in result.stderr


def test_a_document_sent_to_dev_stdout_is_stdout_alone(bundle: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    gate = Path(sys.executable).with_name("gate")
    proc = subprocess.run(f"'{gate}' check --config '{bundle / 'gate.yaml'}' --output-dir "
                          f"'{tmp_path / 'o'}' --format sarif=/dev/stdout | cat", shell=True,
                          capture_output=True, text=True, timeout=120, check=False)
    assert json.loads(proc.stdout)["version"] == "2.1.0", proc.stdout[:200]


@pytest.mark.parametrize("command", ["check", "verify", "rollout", "drift"])
def test_format_help_lists_exactly_the_registered_formats(command: str) -> None:
    """--format's help is built from the one format registry, so a new format is listed and
    a removed one is not, without editing the help by hand."""
    import re

    from gate.reports import FORMATS

    formats = list(FORMATS[command])
    result = CliRunner().invoke(cli, [command, "--help"], terminal_width=400)
    assert result.exit_code == 0
    (line,) = [ln for ln in result.output.splitlines() if "--format NAME[=PATH]" in ln]
    listed = re.split(r"[ ;(]", line.split("--format NAME[=PATH]")[1].strip())[0:len(formats)]
    assert [f.rstrip(",") for f in listed] == formats, line


def test_enforcement_levels_are_applied_once(tmp_path: Path) -> None:
    """A glob that raises every rule beside an entry that keeps one rule at its own level is
    valid: the levels are settled once, so the raised level is not then read as lowered."""
    root = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "failing", root, ignore=shutil.ignore_patterns("gate-report"))
    manifest = root / "gate.yaml"
    manifest.write_text(manifest.read_text() + 'enforcement:\n  "*": hard-mandatory\n'
                        "  GATE-EVAL-006: soft-mandatory\n")
    result = check(root)
    assert result.exit_code == 1, result.output
    levels = {f["id"]: f["enforcement"] for f in decision(root)["findings"]}
    assert levels["GATE-EVAL-006"] == "hard-mandatory"  # the glob raised it; nothing lowers
