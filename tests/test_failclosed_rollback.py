"""Issue 17, part B: the rollback side fails closed.

* a broken ``rollback:`` section is an error on every run, passing or not;
* a value never becomes shell code, and a placeholder is expanded exactly once;
* an ``http`` step's timeout bounds the whole request, however slowly a server drips;
* a journal belongs to the plan's digest, outlives a copy of the plan, and is validated;
* ``--execute`` is refused on CI events that run unreviewed code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.errors import ManifestError
from gate.rollback.plan import build_plan
from gate.rollback.steps.http import MAX_BODY, HttpStep
from gate.rollback.trust import judge

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@pytest.fixture(autouse=True)
def _outside_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, not_in_ci: None) -> None:
    monkeypatch.chdir(tmp_path)


def gate(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def no_traceback(r: Result) -> None:
    assert "Traceback" not in r.output and "this is a bug" not in r.output, r.output


# --- 2. the rollback section is checked on every run ------------------------------------


def bundle_with(rollback: Any, example: str = "passing") -> Path:
    root = Path("bundle")
    shutil.copytree(ROOT / "examples" / example, root, ignore=shutil.ignore_patterns("gate-report"))
    manifest = root / "gate.yaml"
    doc = yaml.safe_load(manifest.read_text("utf-8"))
    doc["rollback"] = rollback
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return root


GOOD_STEP = {"name": "route", "run": ["./deploy.sh", "${model.name}", "${target.version}"]}


@pytest.mark.parametrize(("step", "where", "what"), [
    ({"name": "route", "run": ["./deploy.sh", "${target.verison}"]}, "$.rollback.steps[0].run",
     "unknown placeholder ${target.verison}"),
    ({**GOOD_STEP, "timeout": 0}, "$.rollback.steps[0].timeout", "must be more than 0"),
    ({**GOOD_STEP, "timeout": "0s"}, "$.rollback.steps[0].timeout", "must be more than 0"),
    ({**GOOD_STEP, "verify": {"run": "true", "timeout": "0ms"}},
     "$.rollback.steps[0].verify.timeout", "must be more than 0"),
    ({"name": "n", "http": {"url": "ftp://example.com/x"}}, "$.rollback.steps[0].http.url",
     "is not an http(s) URL"),
    ({"name": "n", "run": "echo ${model.name"}, "$.rollback.steps[0].run", "never closed"),
    ({"name": "n", "run": ["echo", "${env.}"]}, "$.rollback.steps[0].run",
     "does not name an environment variable"),
    ({"name": "n", "run": "echo $(cat ${model.name})"}, "$.rollback.steps[0].run",
     "command substitution"),
    ({**GOOD_STEP, "env": {"GATE_MODEL_NAME": "x"}}, "$.rollback.steps[0].env.GATE_MODEL_NAME",
     "cannot be set by a step"),
])
def test_a_passing_run_with_a_broken_rollback_section_is_exit_2(
        step: dict[str, Any], where: str, what: str) -> None:
    root = bundle_with({"target": {"version": "2.3.1"}, "steps": [GOOD_STEP, step][1:]})
    r = gate("check", "--config", str(root / "gate.yaml"), "--output-dir", "out")
    assert r.exit_code == 2, r.output
    no_traceback(r)
    line = _line(root, where)
    assert line is not None and f"gate.yaml:{line}" in r.output, r.output
    assert where in r.output and what in r.output, r.output
    doc = json.loads(Path("out/decision.json").read_text("utf-8"))
    assert doc["decision"] == "error" and doc["error"]["pointer"] == where
    assert doc["error"]["path"] == "gate.yaml" and doc["error"]["line"] is not None


def _line(root: Path, where: str) -> int | None:
    from gate.reports.lines import line_of

    return line_of((root / "gate.yaml").resolve(), where)  # line_of caches by path


def test_the_same_rollback_section_fixed_passes() -> None:
    root = bundle_with({"target": {"version": "2.3.1"}, "steps": [GOOD_STEP]})
    r = gate("check", "--config", str(root / "gate.yaml"), "--output-dir", "out")
    assert r.exit_code == 0, r.output
    assert not Path("out/rollback-plan.json").exists()  # checked, not written


def test_a_rollout_poll_checks_the_rollback_section_too(tmp_path: Path) -> None:
    root = Path("rollout")
    shutil.copytree(ROOT / "examples" / "rollout", root, ignore=shutil.ignore_patterns(
        "gate-report"))
    manifest = root / "gate.yaml"
    manifest.write_text(manifest.read_text("utf-8").replace("${target.version}",
                                                            "${target.verison}", 1), "utf-8")
    os.chdir(root)
    r = gate("rollout", "--stage", "canary-5", "--metrics", "monitoring/canary-5-10m.json",
             "--elapsed", "10m")  # a poll that would hold
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "gate.yaml" in r.output and "unknown placeholder ${target.verison}" in r.output


# --- 3, 4, 5. values never become code; one pass; env is expanded ---------------------------

HOSTILE = [
    'fd"; touch PWNED; "',
    "fd'; touch PWNED; '",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a\ntouch PWNED",
    "x; touch PWNED",
    "x | touch PWNED",
    "x && touch PWNED #",
    "*",
    "${env.SECRET}",
    "$${env.SECRET}",
    "\\\"; touch PWNED; \\\"",
    "x $SECRET y",
]


def _execute(plan: dict[str, Any], env: dict[str, str] | None = None) -> Result:
    Path("plan.json").write_text(json.dumps(plan), "utf-8")
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        return gate("rollback", "plan.json", "--execute")
    finally:
        os.environ.clear()
        os.environ.update(old)


DUMP = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"


@pytest.mark.parametrize("value", [  # one case in the inner loop; each runs eight commands
    HOSTILE[0], *(pytest.param(v, marks=pytest.mark.slow) for v in HOSTILE[1:])])
def test_a_hostile_value_reaches_every_command_as_data(value: str) -> None:
    steps = [
        {"name": "bare", "run": "printf '%s' ${model.name} > bare"},
        {"name": "double", "run": 'printf "%s" "v=${model.name}=${target.version}" > double'},
        {"name": "single", "run": "printf '%s' 'v=${model.name}' > single"},
        {"name": "glued", "run": 'printf "%s" "${model.name}_${target.version}" > glued'},
        {"name": "comment", "run": "printf '%s' ok > comment # ${model.name}"},
        {"name": "argv-shell", "run": ["sh", "-c", "printf '%s' ${model.name} > argvshell"]},
        {"name": "argv", "run": [PY, "-c", DUMP, "argv", "${model.name}"]},
        {"name": "env", "run": [PY, "-c", "import os, sys; open('envv', 'w').write("
                                "os.environ['V'])"], "env": {"V": "<${model.name}>"}},
    ]
    plan = build_plan(model_name=value, model_version="2", reasons=[],
                      rollback={"target": {"version": value}, "steps": steps})
    r = _execute(plan, {"SECRET": "s3cr3t"})
    assert r.exit_code == 0, r.output
    assert not Path("PWNED").exists(), r.output
    expect = {"bare": value, "double": f"v={value}={value}", "single": f"v={value}",
              "glued": f"{value}_{value}", "comment": "ok", "argvshell": value, "argv": value,
              "envv": f"<{value}>"}
    assert {name: Path(name).read_text("utf-8") for name in expect} == expect
    assert "s3cr3t" not in json.dumps(plan)


@pytest.mark.parametrize("script", [
    "echo `id` ${model.name}",
    "echo $(id) ${model.name}",
    "eval echo ${model.name}",
    'sh -c "echo ${model.name}"',
    'bash -c "echo ${model.name}"',
    "ssh host echo ${model.name}",
    "(( x = ${model.version} ))",
    "[[ ${model.version} -eq 1 ]]",
    "cat <<EOF\n${model.name}\nEOF",
    "echo $${HOME:-x} ${model.name}",
    "echo $'a ${model.name}'",
    "echo \\${model.name}",
    'echo "unterminated ${model.name}',
])
def test_a_shell_string_whose_quoting_cannot_be_told_takes_no_placeholder(script: str) -> None:
    with pytest.raises(ManifestError) as e:
        build_plan(model_name="fd", model_version="2", reasons=[],
                   rollback={"target": {"version": "1"}, "steps": [{"name": "s", "run": script}]})
    assert e.value.pointer == "$.rollback.steps[0].run"


@pytest.mark.slow  # runs three interpreters
def test_dollar_dollar_is_a_literal_and_a_target_value_is_never_expanded_again(
        tmp_path: Path) -> None:
    steps = [
        {"name": "escaped", "run": [PY, "-c", DUMP, "escaped", "$${env.SECRET}"]},
        {"name": "target", "run": [PY, "-c", DUMP, "target", "${target.note}"]},
        {"name": "secret", "run": [PY, "-c", DUMP, "secret", "${env.SECRET}"]},
    ]
    plan = build_plan(model_name="fd", model_version="2", reasons=[],
                      rollback={"target": {"version": "1", "note": "${env.SECRET}"},
                                "steps": steps})
    r = _execute(plan, {"SECRET": "s3cr3t"})
    assert r.exit_code == 0, r.output
    assert Path("escaped").read_text("utf-8") == "${env.SECRET}"
    assert Path("target").read_text("utf-8") == "${env.SECRET}"
    assert Path("secret").read_text("utf-8") == "s3cr3t"  # the one real placeholder
    assert "s3cr3t" not in json.dumps(plan) and "s3cr3t" not in r.output


def test_step_env_values_are_expanded_once_and_a_missing_one_fails_the_step() -> None:
    probe = "import os; open('env', 'w').write(os.environ['TOKEN'])"
    plan = build_plan(model_name="fd", model_version="2", reasons=[],
                      rollback={"target": {"version": "1"}, "steps": [
                          {"name": "token", "run": [PY, "-c", probe],
                           "env": {"TOKEN": "Bearer ${env.X}"}}]})
    r = _execute(plan, {"X": "t0k ${env.Y}", "Y": "no"})
    assert r.exit_code == 0, r.output
    assert Path("env").read_text("utf-8") == "Bearer t0k ${env.Y}"  # never the placeholder
    Path("plan.json").unlink()
    for p in Path().glob("rollback-*.journal.*"):
        p.unlink()
    os.environ.pop("X", None)
    r = _execute(plan)
    assert r.exit_code == 1
    assert "the environment variable X is not set" in r.output


def test_a_shell_string_reads_env_secrets_as_variables_and_checks_they_are_set() -> None:
    plan = build_plan(model_name="fd", model_version="2", reasons=[],
                      rollback={"target": {"version": "1"}, "steps": [
                          {"name": "s", "run": 'printf "%s" "${env.TOKEN}" > out'}]})
    step = plan["steps"][0]
    assert step["run"] == 'printf "%s" "$TOKEN" > out'
    assert step["env"] == {"TOKEN": "${env.TOKEN}"}
    r = _execute(plan, {"TOKEN": "a\"b'c$(id)"})
    assert r.exit_code == 0, r.output
    assert Path("out").read_text("utf-8") == "a\"b'c$(id)"


@pytest.mark.parametrize(("step", "message"), [
    ({"run": ["echo", "${model.name}"]}, "only ${env.NAME}"),
    ({"run": "echo ${env.TOKEN}"}, "in a shell script would paste a value into code"),
    ({"run": ["sh", "-c", "echo ${env.TOKEN}"]}, "in a shell script"),
    ({"run": ["echo", "${unclosed"]}, "never closed"),
    ({"run": ["echo"], "env": {"A": "${target.version}"}}, "only ${env.NAME}"),
])
def test_a_plan_with_a_placeholder_gate_would_not_write_is_refused(
        step: dict[str, Any], message: str) -> None:
    full = {"name": "s", "kind": "run", "timeout_s": 5, "retries": 0, "backoff_s": 0, **step}
    plan = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00Z",
            "model": {"name": "m", "candidate_version": "2"}, "target": {"version": "1"},
            "reasons": [], "steps": [full]}
    Path("plan.json").write_text(json.dumps(plan), "utf-8")
    r = gate("rollback", "plan.json")
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "plan.json at $.steps[0]" in r.output and message in r.output


def test_url_values_are_percent_encoded_and_headers_refuse_newlines() -> None:
    plan = build_plan(model_name="a b/../c?x=1#", model_version="2", reasons=[],
                      rollback={"target": {"version": "1"}, "steps": [{"name": "n", "http": {
                          "url": "https://hooks.example/m/${model.name}?v=${target.version}"}}]})
    assert plan["steps"][0]["http"]["url"] == "https://hooks.example/m/a%20b%2F..%2Fc%3Fx%3D1%23?v=1"
    with pytest.raises(ManifestError, match="control character"):
        build_plan(model_name="x\r\nX-Evil: 1", model_version="2", reasons=[],
                   rollback={"target": {"version": "1"}, "steps": [{"name": "n", "http": {
                       "url": "https://h/", "headers": {"X-Model": "${model.name}"}}}]})


# --- 6. the http timeout bounds the whole request -----------------------------------------


class Dripper:
    """A server on 127.0.0.1 that answers each connection as ``mode`` says, slowly."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
        try:
            conn.recv(65536)
            if self.mode == "headers":  # the status line, then header lines, a byte at a time
                data = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Drip-%d: 1\r\n" % i
                                                          for i in range(90))
                for i in range(300):  # bounded: 15 s at most
                    if self.stop.is_set():
                        break
                    conn.sendall(data[i:i + 1])
                    time.sleep(0.05)
            elif self.mode == "body":
                conn.sendall(head)
                for _ in range(200):  # bounded: 20 s at most
                    if self.stop.is_set():
                        break
                    conn.sendall(b"x")
                    time.sleep(0.1)
            elif self.mode == "silent":
                self.stop.wait(20)
            elif self.mode == "huge":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
                chunk = b"y" * 65536
                for _ in range(1600):  # 100 MiB at most
                    conn.sendall(chunk)
        except OSError:
            pass  # the client hung up: that is the point
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(2)


@pytest.fixture
def dripper(request: pytest.FixtureRequest) -> Iterator[Dripper]:
    server = Dripper(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("dripper", ["headers", "body", "silent"], indirect=True)
@pytest.mark.slow  # waits out 1 s timeouts
def test_a_dripping_server_is_cut_off_at_the_deadline(dripper: Dripper) -> None:
    started = time.monotonic()
    a = HttpStep().attempt({"url": f"http://127.0.0.1:{dripper.port}/hook"}, timeout_s=1.0,
                           env={})
    took = time.monotonic() - started
    assert (a.ok, a.summary, a.timed_out) == (False, "timed out after 1s", True)
    assert took < 2.0, f"the 1s timeout took {took:.1f}s"


@pytest.mark.parametrize("dripper", ["huge"], indirect=True)
@pytest.mark.slow  # reads a response up to the limit
def test_a_huge_response_is_read_only_up_to_the_limit(dripper: Dripper) -> None:
    started = time.monotonic()
    a = HttpStep().attempt({"url": f"http://127.0.0.1:{dripper.port}/"}, timeout_s=10, env={})
    assert a.ok and a.summary == "HTTP 200"
    assert len(a.output) <= MAX_BODY and time.monotonic() - started < 5


@pytest.mark.parametrize("dripper", ["body"], indirect=True)
@pytest.mark.slow  # waits out 1 s timeouts
def test_the_executor_reports_the_dripping_step_timed_out_in_time(dripper: Dripper) -> None:
    plan = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00Z",
            "model": {"name": "m", "candidate_version": "2"}, "target": {"version": "1"},
            "reasons": [], "steps": [{"name": "hook", "kind": "http", "timeout_s": 1,
                                      "retries": 1, "backoff_s": 0,
                                      "http": {"url": f"http://127.0.0.1:{dripper.port}/"}}]}
    started = time.monotonic()
    r = _execute(plan)
    assert r.exit_code == 1
    assert r.output.count("timed out after 1s") == 2
    assert time.monotonic() - started < 6  # two attempts of 1 s, plus gate's own start-up


# --- 8. the journal belongs to the plan's digest ------------------------------------------


def _plan_file(folder: str, name: str = "one", marker: str = "markers") -> Path:
    plan = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00Z",
            "model": {"name": "m", "candidate_version": "2"}, "target": {"version": "1"},
            "reasons": [], "steps": [{"name": name, "kind": "run", "timeout_s": 5, "retries": 0,
                                      "backoff_s": 0,
                                      "run": f"echo {name} >> {Path(marker).resolve()}"}]}
    path = Path(folder, "rollback-plan.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan), "utf-8")
    return path


def test_a_fresh_copy_of_the_plan_resumes_from_a_shared_journal_dir() -> None:
    first, second = _plan_file("job1/gate-report"), _plan_file("job2/gate-report")
    assert first.read_bytes() == second.read_bytes()
    assert gate("rollback", str(first), "--execute", "--journal-dir", "cache").exit_code == 0
    r = gate("rollback", str(second), "--execute", "--journal-dir", "cache")
    assert r.exit_code == 0 and "done in an earlier run, skipped" in r.output
    assert Path("markers").read_text("utf-8") == "one\n"
    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    assert [p.name for p in Path("cache").iterdir() if p.suffix == ".jsonl"] == [
        f"rollback-{sha}.journal.jsonl"]


def test_the_journal_dir_comes_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_JOURNAL_DIR", "cache")
    first, second = _plan_file("a"), _plan_file("b")
    assert gate("rollback", str(first), "--execute").exit_code == 0
    dry = gate("rollback", str(second))
    assert "journal: 1 of 1 steps completed (cache/rollback-" in dry.output
    assert gate("rollback", str(second), "--execute").exit_code == 0
    assert Path("markers").read_text("utf-8") == "one\n"


def test_a_new_plan_is_never_blocked_by_the_journal_of_another() -> None:
    _plan_file("out", "one")
    assert gate("rollback", "out/rollback-plan.json", "--execute").exit_code == 0
    _plan_file("out", "two")  # the next failing check: a new plan in the same place
    r = gate("rollback", "out/rollback-plan.json", "--execute")
    assert r.exit_code == 0, r.output
    assert Path("markers").read_text("utf-8") == "one\ntwo\n"


def test_a_journal_folder_that_cannot_be_created_is_exit_2_before_any_step() -> None:
    _plan_file("out", "one")
    Path("blocker").write_text("a file, not a folder", "utf-8")
    r = gate("rollback", "out/rollback-plan.json", "--execute", "--journal-dir",
             "blocker/journals")
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "blocker/journals" in r.output, r.output
    assert "cannot create the journal folder: Not a directory" in r.output, r.output
    assert "--journal-dir" in r.output  # the hint names the way out
    assert not Path("markers").exists()  # no step ran


@pytest.mark.parametrize(("record", "message"), [
    ({"event": "step-end", "step": 1.9, "name": "one", "outcome": "ok", "attempts": 1},
     "1.9 is not of type 'integer'"),
    ({"event": "step-end", "step": "0", "name": "one", "outcome": "ok", "attempts": 1},
     "is not of type 'integer'"),
    ({"event": "step-end", "step": 3, "name": "x", "outcome": "ok", "attempts": 1},
     "names step 3, and the plan has 1 steps"),
    ({"event": "step-end", "step": 0, "name": "one", "outcome": "done", "attempts": 1},
     "'done' is not one of"),
    ({"event": "launch"}, "'launch' is not one of"),
    ({"event": "restart", "at": "2026-11-25T12:00:00"}, "does not match"),
])
def test_a_journal_record_that_does_not_fit_its_schema_is_an_error(
        record: dict[str, Any], message: str) -> None:
    plan = _plan_file("out")
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    journal = Path("out", f"rollback-{sha}.journal.jsonl")
    journal.write_text(json.dumps({"at": "2026-11-25T12:00:00+00:00", **record}) + "\n",
                       "utf-8")
    for args in (["--execute"], []):
        r = gate("rollback", str(plan), *args)
        assert r.exit_code == 2, r.output
        no_traceback(r)
        assert f"{journal}:1" in r.output and message in r.output, r.output
    assert not Path("markers").exists()  # the step neither ran nor counted as complete


def test_a_journal_line_that_is_not_utf8_is_an_error() -> None:
    plan = _plan_file("out")
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    Path("out", f"rollback-{sha}.journal.jsonl").write_bytes(b'{"event": "\xff"}\n')
    r = gate("rollback", str(plan), "--execute")
    assert r.exit_code == 2 and "is not UTF-8" in r.output
    no_traceback(r)


# --- 1. --execute and the event that started the job -------------------------------------


def _github(event: str, ref: str = "refs/heads/main", payload: dict[str, Any] | None = None,
            **extra: str) -> dict[str, str]:
    path = Path("event.json")
    path.write_text(json.dumps(payload if payload is not None else
                               {"repository": {"default_branch": "main", "full_name": "o/r"}}))
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_REF": ref,
            "GITHUB_EVENT_PATH": str(path.resolve()), **extra}


@pytest.mark.parametrize(("env", "trusted"), [
    ({}, True),
    (dict(GITHUB_ACTIONS="true"), False),  # no event name: cannot tell
    ("push", True),
    ("workflow_dispatch", True),
    ("pull_request", False),
    ("pull_request_target", False),
    ("merge_group", False),
    ("issue_comment", False),
    (("push", "refs/heads/feature"), False),
    (("push", "refs/heads/release", {"GITHUB_REF_PROTECTED": "true"}), True),
    (("push", "refs/tags/v1"), False),
    (dict(GITLAB_CI="true", CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="main",
          CI_COMMIT_REF_NAME="main", CI_DEFAULT_BRANCH="main"), True),
    (dict(GITLAB_CI="true", CI_PIPELINE_SOURCE="merge_request_event",
          CI_MERGE_REQUEST_IID="7", CI_COMMIT_REF_PROTECTED="true"), False),
    (dict(GITLAB_CI="true", CI_PIPELINE_SOURCE="external_pull_request_event"), False),
    (dict(GITLAB_CI="true", CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="feature",
          CI_COMMIT_REF_NAME="feature", CI_DEFAULT_BRANCH="main"), False),
    (dict(GITLAB_CI="true", CI_PIPELINE_SOURCE="schedule", CI_COMMIT_REF_NAME="v1",
          CI_COMMIT_REF_PROTECTED="true"), True),
    (dict(GITLAB_CI="false", CI_PIPELINE_SOURCE="merge_request_event"), False),  # a look-alike
])
def test_which_ci_jobs_may_execute(env: Any, trusted: bool) -> None:
    if isinstance(env, str):
        env = _github(env)
    elif isinstance(env, tuple):
        env = _github(env[0], env[1], **(env[2] if len(env) > 2 else {}))
    assert judge(env).trusted is trusted, judge(env)


@pytest.mark.parametrize(("payload", "trusted"), [
    ({"event": "push", "head_branch": "main", "head_repository": {"full_name": "o/r"}}, True),
    ({"event": "pull_request", "head_branch": "main", "head_repository": {"full_name": "o/r"}},
     False),
    ({"event": "push", "head_branch": "main", "head_repository": {"full_name": "fork/r"}},
     False),
    ({"event": "push", "head_branch": "feature", "head_repository": {"full_name": "o/r"}},
     False),
])
def test_a_workflow_run_is_as_trusted_as_the_run_that_triggered_it(
        payload: dict[str, Any], trusted: bool) -> None:
    env = _github("workflow_run", payload={
        "workflow_run": payload, "repository": {"default_branch": "main", "full_name": "o/r"}})
    assert judge(env).trusted is trusted


def test_execute_on_a_pull_request_is_refused_unless_allowed_and_then_warned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan_file("out")
    for k, v in _github("pull_request", "refs/pull/7/merge",
                        {"pull_request": {"number": 7}}).items():
        monkeypatch.setenv(k, v)
    r = gate("rollback", str(plan), "--execute")
    assert r.exit_code == 2
    no_traceback(r)
    assert "refusing to execute a rollback plan in this job: a pull_request event" in r.output
    assert not Path("markers").exists()
    assert gate("rollback", str(plan)).exit_code == 0  # a dry run is always allowed
    r = gate("rollback", str(plan), "--execute", "--allow-untrusted-execute")
    assert r.exit_code == 0, r.output
    assert "::warning title=gate rollback on an untrusted event::" in r.output
    assert "WARNING" in r.output and Path("markers").read_text("utf-8") == "one\n"


def test_the_dry_run_shows_the_values_a_shell_script_reads() -> None:
    plan = build_plan(model_name="fd x", model_version="2", reasons=[],
                      rollback={"target": {"version": "1"}, "steps": [
                          {"name": "s", "run": 'echo "${model.name} -> ${target.version}"'}]})
    Path("plan.json").write_text(json.dumps(plan), "utf-8")
    r = gate("rollback", "plan.json")
    assert r.exit_code == 0
    assert """run: sh -c 'echo "$GATE_MODEL_NAME -> $GATE_TARGET_VERSION"'""" in r.output
    assert "gate sets: GATE_MODEL_NAME='fd x' GATE_TARGET_VERSION=1" in r.output


@pytest.mark.parametrize("swap", ["fifo", "edited", "missing"])
def test_the_step_runner_refuses_a_plan_that_is_not_the_one_checked(
        swap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The runner re-reads the plan the executor validated: a named pipe swapped in is
    refused (never waited on), other bytes or no file are exit 2 before any step runs."""
    import signal

    from gate.rollback import runner

    monkeypatch.setattr(signal, "signal", lambda *_: None)  # keep pytest's handlers
    plan = tmp_path / "plan.json"
    data = b'{"steps": [{"name": "x", "kind": "run", "run": ["true"]}]}'
    if swap == "fifo":
        os.mkfifo(plan)
    elif swap == "edited":
        plan.write_bytes(data + b" ")
    journal = tmp_path / "plan.journal.jsonl"
    sha = hashlib.sha256(data).hexdigest()
    assert runner.main([str(plan), journal.name, str(journal), "0", sha]) == 2
    err = capsys.readouterr().err
    assert ("changed while it was executing" if swap == "edited"
            else "cannot read the plan") in err
    assert not journal.exists()
