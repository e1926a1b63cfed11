"""The rollback step kinds, one attempt at a time: `run` commands and `http` requests."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gate.cli import cli
from gate.rollback.steps import STEP_KINDS, kind_of
from gate.rollback.steps.http import HttpStep
from gate.rollback.steps.run import RunStep

ENV = dict(os.environ)
run, http = RunStep(), HttpStep()


@pytest.fixture(autouse=True)
def _not_in_ci(not_in_ci: None) -> None:
    """The CI job running this suite must not decide whether --execute runs."""


def pid_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text("utf-8")
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_registry() -> None:
    assert set(STEP_KINDS) == {"run", "http"}
    assert all(k.name == name for name, k in STEP_KINDS.items())
    assert kind_of({"run": ["true"], "timeout_s": 1}) == "run"
    assert kind_of({"run": ["true"], "http": {"url": "x"}}) is None
    assert kind_of({}) is None


# --- run ---------------------------------------------------------------------


def test_argv_runs_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = "import sys; open(sys.argv[1], 'w').write(sys.argv[2]); print('said', sys.argv[2])"
    a = run.attempt([sys.executable, "-c", code, str(out), "$HOME; rm -rf /"],
                    timeout_s=30, env=ENV)
    assert (a.ok, a.summary, a.exit_code) == (True, "exit 0", 0)
    assert out.read_text("utf-8") == "$HOME; rm -rf /"  # no expansion, no second command
    assert a.output == "said $HOME; rm -rf /\n"


def test_a_string_runs_through_the_shell_with_the_step_env(tmp_path: Path) -> None:
    a = run.attempt(f'echo "$GREETING" > {tmp_path}/out; echo err >&2; exit 3', timeout_s=30,
                    env={**ENV, "GREETING": "hello"})
    assert (a.ok, a.summary, a.exit_code) == (False, "exit 3", 3)
    assert (tmp_path / "out").read_text("utf-8") == "hello\n"
    assert a.output == "err\n"  # stderr is captured with stdout


def test_commands_that_cannot_start_name_where_they_were_looked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a = run.attempt(["./no-such-tool"], timeout_s=5, env=ENV)
    assert (a.ok, a.final) == (False, True)
    assert a.summary == f"command not found: ./no-such-tool (looked in {tmp_path}); not retried"
    b = run.attempt(["no-such-tool"], timeout_s=5, env={**ENV, "PATH": "/opt/tools/bin"})
    assert b.summary == ("command not found: no-such-tool (looked in PATH=/opt/tools/bin); "
                         "not retried")
    script = tmp_path / "deploy.sh"
    script.write_text("#!/bin/sh\necho hi\n", "utf-8")
    c = run.attempt([str(script)], timeout_s=5, env=ENV)
    assert not c.ok and c.final and c.summary.startswith("not executable:")
    failing = run.attempt(["false"], timeout_s=5, env=ENV)
    assert not failing.ok and not failing.final  # an ordinary failure is retried


@pytest.mark.slow  # waits out timeouts
def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    a = run.attempt(f"sleep 300 & echo $! > {pidfile}; echo started; wait", timeout_s=0.5,
                    env=ENV)
    assert (a.ok, a.timed_out) == (False, True)
    assert a.summary == "timed out after 0.5s; its process group was killed"
    assert a.output == "started\n"
    assert pid_gone(int(pidfile.read_text("utf-8")))  # the grandchild went with it


def test_leftovers_in_the_group_are_ended_when_the_step_ends(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    a = run.attempt(f"sleep 300 > /dev/null 2>&1 & echo $! > {pidfile}", timeout_s=30, env=ENV)
    assert a.ok
    assert pid_gone(int(pidfile.read_text("utf-8")))


def test_killed_by_a_signal() -> None:
    a = run.attempt("kill -9 $$", timeout_s=30, env=ENV)
    assert (a.ok, a.summary) == (False, "killed by signal SIGKILL")


def test_output_tail_is_bounded() -> None:
    a = run.attempt("head -c 100000 /dev/zero | tr '\\0' x; echo END", timeout_s=30, env=ENV)
    assert a.ok and len(a.to_json()["output_tail"]) == 4000
    assert a.to_json()["output_tail"].endswith("xEND\n")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [(["true"], None), ("echo hi", None), ([], ""), ("  ", ""), ([""], "[0]"), ([1], ""),
     ({"cmd": "x"}, "")],
)
def test_run_problems(spec: Any, problem: str | None) -> None:
    found = run.problem(spec)
    assert (found[0] if found else None) == problem


def test_run_describe() -> None:
    assert run.describe(["./deploy.sh", "route", "a b"]) == "./deploy.sh route 'a b'"
    assert run.describe("echo $X >> log") == "sh -c 'echo $X >> log'"


# --- http, against a server on 127.0.0.1 -------------------------------------


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]
    flaky: dict[str, int]
    release: threading.Event

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8") if length else ""
        self.seen.append({"method": self.command, "path": self.path, "body": body,
                          "headers": dict(self.headers)})
        if self.path == "/slow":
            self.release.wait(10)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        status = {"/ok": 204, "/fail": 500, "/json": 200}.get(self.path, 404)
        if self.path == "/flaky":
            self.flaky["n"] += 1
            status = 503 if self.flaky["n"] < 3 else 200
        payload = b'{"ok": true}' if status == 200 else b"" if status == 204 else b"nope"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer  # http.server dispatches on these names

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[Recorder]]]:
    handler = type("H", (Recorder,), {"seen": [], "flaky": {"n": 0},
                                      "release": threading.Event()})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    finally:
        release: threading.Event = getattr(handler, "release")  # noqa: B009 (a class built above)
        release.set()
        srv.shutdown()
        srv.server_close()


def test_post_json_body(server: tuple[str, type[Recorder]]) -> None:
    base, h = server
    spec = {"url": f"{base}/ok", "body": {"text": "rolled back m 2 -> 1"},
            "headers": {"X-Token": "t"}}
    a = http.attempt(spec, timeout_s=10, env=ENV)
    assert (a.ok, a.summary, a.status) == (True, "HTTP 204", 204)
    seen = h.seen[0]
    assert (seen["method"], seen["path"]) == ("POST", "/ok")
    assert json.loads(seen["body"]) == {"text": "rolled back m 2 -> 1"}
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["X-Token"] == "t"
    assert seen["headers"]["User-Agent"].startswith("gate/")


def test_status_decides(server: tuple[str, type[Recorder]]) -> None:
    base, h = server
    fail = http.attempt({"url": f"{base}/fail"}, timeout_s=10, env=ENV)
    assert (fail.ok, fail.summary, fail.output) == (False, "HTTP 500", "nope")
    assert h.seen[0]["method"] == "GET"
    assert http.attempt({"url": f"{base}/fail", "expect_status": [500]}, timeout_s=10,
                        env=ENV).ok
    got = http.attempt({"url": f"{base}/json", "method": "PUT", "body": "raw",
                        "expect_status": 204}, timeout_s=10, env=ENV)
    assert (got.ok, got.output) == (False, '{"ok": true}')
    assert h.seen[-1]["body"] == "raw"


def test_redirects_are_not_followed(server: tuple[str, type[Recorder]]) -> None:
    base, h = server
    a = http.attempt({"url": f"{base}/redirect"}, timeout_s=10, env=ENV)
    assert (a.ok, a.status) == (False, 302)
    assert [s["path"] for s in h.seen] == ["/redirect"]


@pytest.mark.slow  # waits out timeouts
def test_timeout_and_unreachable(server: tuple[str, type[Recorder]]) -> None:
    base, _ = server
    slow = http.attempt({"url": f"{base}/slow"}, timeout_s=0.3, env=ENV)
    assert (slow.ok, slow.timed_out, slow.summary) == (False, True, "timed out after 0.3s")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there now
    down = http.attempt({"url": f"http://127.0.0.1:{port}/ok"}, timeout_s=5, env=ENV)
    assert not down.ok and down.summary.startswith(f"cannot reach http://127.0.0.1:{port}/ok")


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"url": "http://127.0.0.1:8/x"}, None),
        ({"url": "ftp://example.org/x"}, ".url"),
        ({"url": "file:///etc/passwd"}, ".url"),
        ({"url": "http://127.0.0.1/x", "method": "BREW"}, ".method"),
        ({"url": "http://127.0.0.1/x", "headers": {"A": 1}}, ".headers"),
        ({"url": "http://127.0.0.1/x", "expect_status": [99]}, ".expect_status"),
        ({"method": "GET"}, ""),
    ],
)
def test_http_problems(spec: Any, where: str | None) -> None:
    found = http.problem(spec)
    assert (found[0] if found else None) == where


def test_http_describe() -> None:
    assert http.describe({"url": "http://h/x", "body": {"a": 1}, "expect_status": [200, 204]}) \
        == 'POST http://h/x  {"a": 1}  (expect 200, 204)'
    assert http.describe({"url": "http://h/x", "method": "delete"}) == "DELETE http://h/x"


def _execute_one_step_plan(step: dict[str, Any]) -> Result:
    """Write a rollback plan of this one step to ./plan.json and `gate rollback --execute` it."""
    plan = {"kind": "gate.rollback-plan", "version": 1, "created_at": "2026-11-25T12:00:00Z",
            "model": {"name": "m", "candidate_version": "2"}, "target": {"version": "1"},
            "reasons": [], "steps": [step]}
    Path("plan.json").write_text(json.dumps(plan), "utf-8")
    return CliRunner().invoke(cli, ["rollback", "plan.json", "--execute"])


def test_executor_runs_http_steps_with_retries_and_verify(
        server: tuple[str, type[Recorder]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    base, h = server
    monkeypatch.chdir(tmp_path)
    step = {"name": "notify", "kind": "http", "timeout_s": 10, "retries": 2, "backoff_s": 0.01,
            "http": {"url": f"{base}/flaky", "method": "PUT", "body": {"text": "rolled back"}},
            "verify": {"http": {"url": f"{base}/ok", "expect_status": 204}, "timeout_s": 5}}
    r = _execute_one_step_plan(step)
    assert r.exit_code == 0, r.output
    assert [(s["method"], s["path"]) for s in h.seen] == [
        ("PUT", "/flaky"), ("PUT", "/flaky"), ("PUT", "/flaky"), ("GET", "/ok")]
    assert "attempt 1: HTTP 503" in r.output and "attempt 3: HTTP 200" in r.output
    assert "verify: HTTP 204" in r.output


def test_a_step_that_cannot_start_is_not_retried(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """retries are for failures another try may fix; a missing program is not one of them:
    one attempt, the folder it was looked for in named, exit 1, the journal says so."""
    monkeypatch.chdir(tmp_path)
    step = {"name": "shift-traffic", "kind": "run", "timeout_s": 10, "retries": 3,
            "backoff_s": 5, "run": ["./deploy.sh", "route"]}
    r = _execute_one_step_plan(step)
    assert r.exit_code == 1, r.output
    assert f"command not found: ./deploy.sh (looked in {tmp_path}); not retried" in r.output
    assert "attempt 2" not in r.output
    (journal,) = tmp_path.rglob("*.journal.jsonl")
    events = [json.loads(line) for line in journal.read_text("utf-8").splitlines()]
    assert [e.get("final") for e in events if e["event"] == "attempt"] == [True]
    assert [e["attempts"] for e in events if e["event"] == "step-end"] == [1]


def test_the_schemas_name_exactly_the_registered_step_kinds() -> None:
    """A new step kind is one module and one line in STEP_KINDS, and the schemas follow:
    the manifest's step and verify each require exactly one registered kind, and every
    plan schema gives each kind a property."""
    from gate.schemas import load_schema

    step = load_schema("manifest")["$defs"]["step"]
    for block in (step, step["properties"]["verify"]):
        assert sorted(r["required"][0] for r in block["oneOf"]) == sorted(STEP_KINDS)
        assert set(STEP_KINDS) <= set(block["properties"])
    plan_step = load_schema("rollback-plan")["properties"]["steps"]["items"]
    assert set(STEP_KINDS) <= set(plan_step["properties"])


def test_every_kind_lists_the_strings_its_runner_expands() -> None:
    run = STEP_KINDS["run"].strings(["sh", "-c", "echo ${env.X}", "a"], "$.run")
    assert run == [("$.run[0]", "sh", False), ("$.run[1]", "-c", False),
                   ("$.run[2]", "echo ${env.X}", True), ("$.run[3]", "a", False)]
    assert STEP_KINDS["run"].strings("deploy ${env.X}", "$.run") == [
        ("$.run", "deploy ${env.X}", True)]
    http = STEP_KINDS["http"].strings(
        {"url": "https://x", "headers": {"X-Key": "${env.K}"}}, "$.http")
    assert http == [("$.http.url", "https://x", False),
                    ("$.http.headers[\"X-Key\"]", "${env.K}", False)]
