"""`gate rollback`: dry run, execution, the journal, resume, restart, and plan errors."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.rollback.journal import Journal, Progress

PY = sys.executable


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, not_in_ci: None) -> None:
    monkeypatch.chdir(tmp_path)


def step(name: str, run: Any = None, **kw: Any) -> dict[str, Any]:
    """A plan step; by default it appends its name to the file `markers`."""
    out: dict[str, Any] = {"name": name, "kind": "run", "run": run or f"echo {name} >> markers",
                           "timeout_s": 30, "retries": 0, "backoff_s": 0}
    out.update(kw)
    if "http" in kw:
        out["kind"] = "http"
        del out["run"]
    return out


def write_plan(steps: list[dict[str, Any]], path: str = "gate-report/rollback-plan.json",
               **extra: Any) -> Path:
    doc = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00+00:00",
           "trigger": "rollout", "model": {"name": "fraud-detector", "candidate_version": "2.4.0"},
           "target": {"version": "2.3.1"},
           "reasons": [{"id": "rollout.latency_ms", "message": "slow", "severity": "high"}],
           "steps": steps, **extra}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=2), "utf-8")
    return p


def gate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["rollback", *args], catch_exceptions=False)


def markers() -> list[str]:
    p = Path("markers")
    return p.read_text("utf-8").split() if p.exists() else []


def journal_file(plan: Path = Path("gate-report/rollback-plan.json")) -> Path:
    """The journal of the plan now in ``plan``: keyed by its digest, in its folder."""
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    return plan.with_name(f"rollback-{sha}.journal.jsonl")


def journal(plan: Path = Path("gate-report/rollback-plan.json")) -> list[dict[str, Any]]:
    return Journal(journal_file(plan)).records()


def events(kind: str) -> list[dict[str, Any]]:
    return [r for r in journal() if r["event"] == kind]


# --- dry run -----------------------------------------------------------------


def test_dry_run_prints_substituted_steps_and_runs_nothing() -> None:
    plan = write_plan([
        step("shift-traffic", ["./deploy.sh", "route", "fraud-detector", "2.3.1"], retries=2,
             backoff_s=1, verify={"run": ["./deploy.sh", "check", "fraud-detector", "2.3.1"],
                                  "timeout_s": 10}),
        step("record", 'echo "rolled back" >> log', env={"REASON": "canary"}),
        step("notify", http={"url": "http://127.0.0.1:9/hook", "body": {"text": "rolled back"}},
             timeout_s=10),
    ])
    r = gate(str(plan))
    assert r.exit_code == 0
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    assert r.output.splitlines() == [
        f"gate rollback: dry run of gate-report/rollback-plan.json (sha256 {sha[:12]})",
        "  fraud-detector: 2.4.0 -> 2.3.1 (trigger: rollout)",
        "  reasons: rollout.latency_ms",
        "  1. shift-traffic  run: ./deploy.sh route fraud-detector 2.3.1",
        "       timeout 30s, 2 retries (backoff 1s, doubling)",
        "       verify run: ./deploy.sh check fraud-detector 2.3.1 (timeout 10s, 0 retries)",
        "  2. record  run: sh -c 'echo \"rolled back\" >> log'",
        "       env: REASON=canary",
        "       timeout 30s",
        '  3. notify  http: POST http://127.0.0.1:9/hook  {"text": "rolled back"}',
        "       timeout 10s",
        f"journal: no run yet (gate-report/rollback-{sha}.journal.jsonl)",
        "Nothing was run. Run again with --execute to carry out the plan.",
    ]
    assert not Path("log").exists() and journal() == []


def test_dry_run_of_an_empty_plan_says_so_and_execute_refuses() -> None:
    plan = write_plan([])
    r = gate(str(plan))
    assert r.exit_code == 0 and "the plan has no steps" in r.output
    r = gate(str(plan), "--execute")
    assert r.exit_code == 2 and "nothing can be rolled back" in r.output


# --- executing ----------------------------------------------------------------


def test_execute_runs_steps_in_order_and_journals_them() -> None:
    plan = write_plan([step("one"), step("two"), step("three")])
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0, r.output
    assert markers() == ["one", "two", "three"]
    assert "Rollback complete: fraud-detector 2.4.0 -> 2.3.1" in r.output
    kinds = [x["event"] for x in journal()]
    assert kinds == ["run"] + ["step-start", "attempt", "step-end"] * 3 + ["finish"]
    assert journal()[0]["plan_sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert all(e["outcome"] == "ok" for e in events("step-end"))
    # run again: every step is done, nothing repeats
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0 and r.output.count("done in an earlier run, skipped") == 3
    assert markers() == ["one", "two", "three"]
    dry = gate(str(plan))
    assert "journal: 3 of 3 steps completed" in dry.output
    assert dry.output.count("[done in an earlier run]") == 3


def test_a_failed_step_stops_the_run_and_a_rerun_resumes_there() -> None:
    plan = write_plan([step("one"), step("two", "echo two >> markers; test -e fixed"),
                       step("three")])
    r = gate(str(plan), "--execute")
    assert r.exit_code == 1
    assert "Rollback stopped at step 2 (two): failed" in r.output
    assert "attempt 1: exit 1" in r.output
    assert markers() == ["one", "two"]
    assert events("finish")[-1] == {**events("finish")[-1], "outcome": "failed", "failed_step": 1}
    Path("fixed").touch()
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0, r.output
    assert markers() == ["one", "two", "two", "three"]  # one is not repeated
    assert events("run")[-1]["resume_at"] == 1


def test_a_resumed_run_reads_the_journal_once_per_step_and_shows_only_its_own_attempts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan = write_plan([step("one"), step("two", "echo two >> markers; test -e fixed"),
                       step("three")])
    assert gate(str(plan), "--execute").exit_code == 1  # step two fails: attempt 1, exit 1
    Path("fixed").touch()
    reads: list[int] = []
    records = Journal.records

    def counted(self: Journal, steps: int | None = None) -> list[dict[str, Any]]:
        reads.append(1)
        return records(self, steps)

    monkeypatch.setattr(Journal, "records", counted)
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0, r.output
    assert len(reads) == 1 + 2  # the progress, then once after each of the two steps run
    assert "attempt 1: exit 1" not in r.output  # the earlier run's attempt is history
    assert r.output.count("attempt 1: exit 0") == 2, r.output


def test_retries_with_backoff_until_success() -> None:
    flaky = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ "$n" -ge 3 ]'
    plan = write_plan([step("flaky", flaky, retries=2, backoff_s=0.01)])
    assert gate(str(plan), "--execute").exit_code == 0
    attempts = events("attempt")
    assert [(a["attempt"], a["ok"]) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert events("step-end")[0]["attempts"] == 3


def test_retries_run_out() -> None:
    plan = write_plan([step("never", "exit 7", retries=1)])
    r = gate(str(plan), "--execute")
    assert r.exit_code == 1 and "failed after 2 attempts" in r.output
    assert [a["summary"] for a in events("attempt")] == ["exit 7", "exit 7"]


def test_verify_must_pass_before_a_step_counts() -> None:
    # attempt 1 "deploys" nothing; verify fails (twice), so the step is tried again
    act = 'echo $GATE_ROLLBACK_ATTEMPT >> attempts; [ "$GATE_ROLLBACK_ATTEMPT" = 2 ] && touch ok'
    plan = write_plan([step("deploy", f"{act}; true", retries=1,
                            verify={"run": "test -e ok", "retries": 1})])
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0, r.output
    assert Path("attempts").read_text("utf-8").split() == ["1", "2"]
    phases = [(a["phase"], a["attempt"], a["ok"]) for a in events("attempt")]
    assert phases == [("step", 1, True), ("verify", 1, False), ("verify", 1, False),
                      ("step", 2, True), ("verify", 2, True)]


def test_step_env_and_argv_without_shell() -> None:
    code = ("import os, sys; "
            "open('markers', 'a').write(os.environ['WHO'] + ' ' + sys.argv[1] + '\\n')")
    plan = write_plan([step("argv", [PY, "-c", code, "$HOME"], env={"WHO": "argv"}),
                       step("shell", 'echo "$WHO $GATE_ROLLBACK_STEP" >> markers',
                            env={"WHO": "shell"})])
    assert gate(str(plan), "--execute").exit_code == 0
    assert Path("markers").read_text("utf-8").splitlines() == ["argv $HOME", "shell shell"]


@pytest.mark.slow  # waits out a timeout
def test_timeout_fails_the_step() -> None:
    plan = write_plan([step("hang", "sleep 300", timeout_s=0.3)])
    r = gate(str(plan), "--execute")
    assert r.exit_code == 1
    assert "timed out after 0.3s; its process group was killed" in r.output
    assert events("attempt")[0]["timed_out"] is True


def test_restart_runs_everything_again_and_keeps_history() -> None:
    plan = write_plan([step("one"), step("two")])
    assert gate(str(plan), "--execute").exit_code == 0
    assert gate(str(plan), "--execute", "--restart").exit_code == 0
    assert markers() == ["one", "two", "one", "two"]
    assert [r["event"] for r in journal()].count("restart") == 1
    assert len(events("step-end")) == 4  # the history before the restart is kept
    assert gate(str(plan), "--restart").exit_code == 2  # --restart needs --execute


def test_a_new_plan_gets_a_journal_of_its_own() -> None:
    """The journal is keyed by the plan's digest: an earlier plan's journal never blocks."""
    plan = write_plan([step("one")])
    first = journal_file()
    assert gate(str(plan), "--execute").exit_code == 0
    write_plan([step("one"), step("two")])
    assert journal_file() != first and "journal: no run yet" in gate(str(plan)).output
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0, r.output
    assert markers() == ["one", "one", "two"]
    assert first.exists()  # the first plan's history is kept


def test_a_journal_that_records_another_plan_is_refused_without_restart() -> None:
    plan = write_plan([step("one")])
    assert gate(str(plan), "--execute").exit_code == 0
    old = journal_file()
    write_plan([step("one"), step("two")])
    old.rename(journal_file())  # a journal moved by hand under another plan's name
    r = gate(str(plan), "--execute")
    assert r.exit_code == 2
    assert journal_file().name in r.output and "records a run of another plan" in r.output
    assert "--restart" in r.output
    assert "records a run of another plan" in gate(str(plan)).output  # the dry run says so too
    assert gate(str(plan), "--execute", "--restart").exit_code == 0
    assert markers() == ["one", "one", "two"]


def test_a_torn_last_record_is_cut_off() -> None:
    plan = write_plan([step("one"), step("two")])
    assert gate(str(plan), "--execute").exit_code == 0
    path = journal_file()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"at": "2026-11-25T12:00:00", "event": "step-st')  # a crash mid-write
    assert len(journal()) == 8  # the torn line does not count
    r = gate(str(plan), "--execute")
    assert r.exit_code == 0 and "cut off a record torn by an earlier crash" in r.output
    assert path.read_text("utf-8").endswith("}\n") and markers() == ["one", "two"]


def test_a_damaged_journal_is_an_error_naming_the_line() -> None:
    plan = write_plan([step("one")])
    journal_file().write_text('{"event": "restart", "at": "2026-11-25T12:00:00+00:00"}\n'
                              'not json\n')
    r = gate(str(plan), "--execute")
    assert r.exit_code == 2
    assert f"gate-report/{journal_file().name}:2" in r.output and "move" in r.output


def test_every_record_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    j = Journal(tmp_path / "j.jsonl")
    j.append({"event": "restart"})  # creates the file: the file and its folder are synced
    j.append({"event": "finish", "outcome": "ok", "failed_step": None})
    assert len(synced) == 3
    assert [r["event"] for r in j.records()] == ["restart", "finish"]


def test_progress_reads_the_session() -> None:
    records: list[dict[str, Any]] = [
        {"event": "run", "plan_sha256": "a"},
        {"event": "step-start", "step": 0}, {"event": "step-end", "step": 0, "outcome": "ok"},
        {"event": "restart"},
        {"event": "run", "plan_sha256": "b"},
        {"event": "step-start", "step": 0}, {"event": "step-end", "step": 0, "outcome": "ok"},
        {"event": "step-start", "step": 1}, {"event": "step-end", "step": 1, "outcome": "failed"},
        {"event": "step-start", "step": 2},
    ]
    p = Progress.of(records)
    assert (p.plan_sha256, set(p.completed), set(p.interrupted)) == ("b", {0}, {2})


# --- the plan is checked before anything runs ----------------------------------


def test_expect_sha256() -> None:
    plan = write_plan([step("one")])
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    r = gate(str(plan), "--execute", "--expect-sha256", "0" * 64)
    assert r.exit_code == 2 and f"the plan's sha256 is {sha}" in r.output
    assert "gate-report/rollback-plan.json" in r.output and markers() == []
    assert gate(str(plan), "--execute", "--expect-sha256", sha.upper()).exit_code == 0
    assert gate(str(plan), "--expect-sha256", "abc").exit_code == 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["steps"][0].pop("timeout_s"),
         "gate-report/rollback-plan.json at $.steps[0]: the rollback plan does not match its "
         "schema at $.steps[0]: 'timeout_s' is a required property"),
        (lambda d: d["steps"][0].update(kind="ssh"),
         "gate-report/rollback-plan.json at $.steps[0].kind: step 'one' has kind 'ssh'"),
        (lambda d: d["steps"][0].update(kind="http"),
         "at $.steps[0]: step 'one' of kind http has no 'http' settings"),
        (lambda d: d["steps"][0].update(run=[""]),
         "at $.steps[0].run[0]: the program name is empty"),
        (lambda d: d["steps"][0].update(verify={"http": {"url": "ftp://x/y"}}),
         "at $.steps[0].verify.http.url: 'ftp://x/y' is not an http(s) URL"),
        (lambda d: d["steps"][0].update(verify={"timeout_s": 3}),
         "at $.steps[0].verify: a verify block needs exactly one of: run, http"),
        (lambda d: d["steps"][0].update(verify={"run": "true", "retries": "2"}),
         "at $.steps[0].verify.retries: verify retries must be a whole number"),
        (lambda d: d["steps"][0].update(verify={"run": "true", "timeout_s": 0}),
         "at $.steps[0].verify.timeout_s: verify timeout_s must be a positive number"),
        (lambda d: d["steps"][0].update(verify={"run": "true", "retries": 21}),
         "at $.steps[0].verify.retries: verify retries must be a whole number from 0 to 20"),
        (lambda d: d["steps"][0].update(verify={"run": "true", "timeout_s": 86401}),
         "at $.steps[0].verify.timeout_s: verify timeout_s must be a positive number of "
         "seconds, at most 86400"),
        (lambda d: d.update(version=2), "at $.version"),
    ],
)
def test_a_bad_plan_exits_2_naming_file_and_path(mutate: Any, message: str) -> None:
    plan = write_plan([step("one")])
    doc = json.loads(plan.read_text("utf-8"))
    mutate(doc)
    plan.write_text(json.dumps(doc), "utf-8")
    for args in ([], ["--execute"]):
        r = gate(str(plan), *args)
        assert r.exit_code == 2
        assert message in r.output and "\n  -> " in r.output
    assert markers() == [] and journal() == []


def test_unreadable_plans() -> None:
    r = gate("gate-report/nope.json")
    assert r.exit_code == 2 and "gate-report/nope.json: rollback plan not found" in r.output
    Path("broken.json").write_text('{"kind": "gate.rollback-plan",\n  "steps": [}\n', "utf-8")
    r = gate("broken.json")
    assert r.exit_code == 2 and "broken.json:2:" in r.output and "not valid JSON" in r.output


# --- secrets from the deploy job's environment ----------------------------------


def test_env_placeholders_are_expanded_only_when_a_step_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    plan = write_plan([step("notify", [PY, "-c", "import sys; open('markers', 'a').write("
                                        "sys.argv[1] + '\\n')", "Bearer ${env.HOOK_TOKEN}"])])
    dry = gate(str(plan))
    assert dry.exit_code == 0 and "${env.HOOK_TOKEN}" in dry.output and "s3cret" not in dry.output
    assert gate(str(plan), "--execute").exit_code == 0
    assert Path("markers").read_text() == "Bearer s3cret\n"
    assert "s3cret" not in plan.read_text()


def test_a_missing_env_secret_fails_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    plan = write_plan([step("notify", ["echo", "${env.HOOK_TOKEN}"])])
    result = gate(str(plan), "--execute")
    assert result.exit_code == 1
    assert "the environment variable HOOK_TOKEN is not set" in result.output
