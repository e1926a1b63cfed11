"""The OPA server engine: against the local OPA protocol fixture, and a real OPA when given.

The fixture (tests/opa_protocol_fixture.py) speaks OPA's REST API but is not
OPA; ``test_real_opa_*`` run the same comparisons against a real server when
``GATE_TEST_OPA_URL`` names one (e.g. ``docker run -p 8181:8181
openpolicyagent/opa run --server``), with ``GATE_TEST_OPA_TOKEN`` if it wants one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from gx_support import free_port
from opa_protocol_fixture import OpaProtocolFixture, Seen

from gate.cli import cli
from gate.engines import EngineOptions, get_engine
from gate.errors import EngineError
from gate.policy.source import parse_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CASE = Path(__file__).parent / "cases" / "pass"
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}
REAL_OPA = os.environ.get("GATE_TEST_OPA_URL")
FAST = ["--opa-retries", "0", "--opa-timeout", "5"]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture is on loopback: never send it through a proxy from the environment."""
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, ",".join(filter(None, [os.environ.get(var), "127.0.0.1"])))


@pytest.fixture
def opa() -> Iterator[OpaProtocolFixture]:
    with OpaProtocolFixture() as server:
        yield server


def copy(src: Path, tmp_path: Path, name: str = "bundle") -> Path:
    dest = tmp_path / name
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("expected.json"))
    return dest


def check(bundle: Path, *args: str, env: dict[str, str] | None = None,
          out: str = "out") -> Result:
    return CliRunner().invoke(
        cli, ["check", "--config", str(bundle / "gate.yaml"),
              "--output-dir", str(bundle.parent / out), *args],
        env={**ENV, **(env or {})},
    )


def decision(bundle: Path, out: str = "out") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((bundle.parent / out / "decision.json").read_text())
    return doc


def findings(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    keys = ("id", "kind", "effect", "message", "rule", "file", "line", "severity")
    return sorted(tuple(json.dumps(f.get(k), sort_keys=True) for k in (*keys, "details"))
                  for f in doc["findings"])


def leftovers(server: OpaProtocolFixture) -> tuple[dict[str, str], dict[str, Any]]:
    """What a run left on the fixture; an emptied claims object is all that may stay."""
    data = {k: v for k, v in server.data.items() if not (k == "gate_claims" and v == {})}
    return dict(server.policies), data


# --- the same verdict as the embedded engine -------------------------------------------------


@pytest.mark.parametrize("example", ["passing", "failing"])
@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_same_findings_as_the_embedded_engine(
    opa: OpaProtocolFixture, tmp_path: Path, example: str
) -> None:
    bundle = copy(EXAMPLES / example, tmp_path)
    embedded = check(bundle, "--engine", "regorus", out="regorus")  # the fixture's engine
    remote = check(bundle, "--engine", "opa", "--opa-url", opa.url, out="opa")
    assert remote.exit_code == embedded.exit_code, remote.output
    assert embedded.exit_code == (0 if example == "passing" else 1)
    ours, theirs = decision(bundle, "regorus"), decision(bundle, "opa")
    assert theirs["engine"]["name"] == "opa"
    assert theirs["engine"]["version"] == "0.0.0-protocol-fixture (upload mode)"
    assert (theirs["decision"], theirs["summary"]) == (ours["decision"], ours["summary"])
    assert findings(theirs) == findings(ours)
    assert leftovers(opa) == ({}, {})
    # Every module went up exactly as written, under this run's own id prefix.
    puts = opa.calls("PUT", "/v1/policies/")
    assert puts and len({p.path.split("/")[4] for p in puts}) == 1
    assert all(p.path.startswith("/v1/policies/gate/") for p in puts)
    assert len(opa.calls("DELETE", "/v1/policies/")) == len(puts)


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_server_mode_only_queries(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    bundle = copy(EXAMPLES / "failing", tmp_path)
    loaded: dict[str, Any] = {}

    def snapshot(server: OpaProtocolFixture, seen: Seen) -> None:
        if seen.method == "POST" and not loaded:  # the uploaded state, as a bundle would be
            loaded.update(policies=dict(server.policies), data=json.loads(json.dumps(
                {k: v for k, v in server.data.items() if k != "gate_claims"})))

    opa.on_request = snapshot
    assert check(bundle, "--engine", "opa", "--opa-url", opa.url, out="upload").exit_code == 1
    opa.on_request = None
    opa.policies = {f"bundle/{i}.rego": text for i, text in enumerate(loaded["policies"].values())}
    opa.data = loaded["data"]
    opa.seen.clear()
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url, "--opa-mode", "server",
                   out="server")
    assert result.exit_code == 1, result.output
    assert findings(decision(bundle, "server")) == findings(decision(bundle, "upload"))
    assert decision(bundle, "server")["engine"]["version"].endswith("(server mode)")
    assert {s.method for s in opa.seen} == {"GET", "POST"}  # nothing written, nothing deleted


def test_server_mode_without_the_policies_fails_closed(
    opa: OpaProtocolFixture, tmp_path: Path
) -> None:
    bundle = copy(CASE, tmp_path)
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url, "--opa-mode", "server")
    assert result.exit_code == 2
    assert f"OPA at {opa.url}: data.release is undefined" in result.stderr
    assert "POST /v1/data/release" in result.stderr
    assert decision(bundle)["decision"] == "error"


# --- clean-up, retries, failures --------------------------------------------------------------


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_cleanup_after_a_failed_evaluation(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    bundle = copy(CASE, tmp_path)
    opa.fail("POST", "/v1/data/release/deny_accuracy", 500, times=10)
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url, "--opa-retries", "2")
    assert result.exit_code == 2
    err = result.stderr
    assert f"OPA at {opa.url} refused POST /v1/data/release/deny_accuracy" in err
    assert "HTTP 500 internal_error" in err and "after 2 retries" in err
    assert len(opa.calls("POST", "/v1/data/release/deny_accuracy")) == 3  # 1 + 2 retries
    assert leftovers(opa) == ({}, {})
    assert opa.calls("DELETE", "/v1/policies/") and opa.calls("DELETE", "/v1/data/floors")


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_5xx_is_retried_then_succeeds(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    bundle = copy(CASE, tmp_path)
    opa.fail("PUT", "/v1/policies/", 503, times=2)
    opa.fail("POST", "/v1/data/release/", 502, times=1)
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url, "--opa-retries", "2")
    assert result.exit_code == 0, result.output
    assert len(opa.calls("PUT", "/v1/policies/")) == 3
    assert leftovers(opa) == ({}, {})


def test_unreachable_server(tmp_path: Path) -> None:
    bundle = copy(CASE, tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    result = check(bundle, "--engine", "opa", "--opa-url", url, *FAST)
    assert result.exit_code == 2
    assert f"OPA at {url} is unreachable: GET /v1/data/gate_claims?provenance=true" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert decision(bundle)["decision"] == "error"


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_timeout(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    bundle = copy(CASE, tmp_path)
    opa.fail("GET", "/v1/data/gate_claims", 0, delay_s=1.5)
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url, "--opa-retries", "0",
                   "--opa-timeout", "0.2")
    assert result.exit_code == 2
    assert f"OPA at {opa.url} did not answer GET /v1/data/gate_claims" in result.stderr
    assert "within 0.2 s" in result.stderr


@pytest.mark.slow  # starts an OPA server of its own
def test_bearer_token(tmp_path: Path) -> None:
    bundle = copy(CASE, tmp_path)
    with OpaProtocolFixture(token="s3cret") as server:
        ok = check(bundle, "--engine", "opa", "--opa-url", server.url, "--opa-token-env",
                   "OPA_TOKEN", env={"OPA_TOKEN": "s3cret"})
        assert ok.exit_code == 0, ok.output
        assert server.seen and all(s.headers.get("Authorization") == "Bearer s3cret"
                                   for s in server.seen)
        refused = check(bundle, "--engine", "opa", "--opa-url", server.url, *FAST)
        assert refused.exit_code == 2
        assert "HTTP 401 unauthorized" in refused.stderr and "--opa-token-env" in refused.stderr
        assert "s3cret" not in refused.stderr + refused.output


def test_bad_url_is_a_usage_error(tmp_path: Path) -> None:
    result = check(copy(CASE, tmp_path), "--engine", "opa", "--opa-url", "opa.local:8181")
    assert result.exit_code == 2 and "is not an http(s) URL" in result.stderr


# --- compile errors: reported with OPA's place, never rewritten --------------------------------

# OPA parses template strings (so gate's own parse, done with OPA's parser, accepts
# the module); the fixture's regorus does not, so the server refuses it at upload.
V0_POLICY = 'package release\n\n# a template string\ndeny contains $"v0 {input.x}" if true\n'
OLD_V0 = 'package release\n\n# an old-style rule\ndeny[msg] {\n\tmsg := "v0"\n}\n'


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_compile_error_names_file_and_line_and_is_not_retried(
    opa: OpaProtocolFixture, tmp_path: Path
) -> None:
    pytest.importorskip("opa_bindings")
    bundle = copy(CASE, tmp_path)
    (bundle / "policies" / "old.rego").write_text(V0_POLICY)
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url)
    assert result.exit_code == 2
    assert "policy error in policies/old.rego:4:" in result.stderr
    assert "invalid character" in result.stderr
    assert f"OPA at {opa.url} refused to compile the policy (PUT /v1/policies/gate/" \
        in result.stderr
    old = [p for p in opa.calls("PUT", "/v1/policies/") if p.path.endswith("/old.rego")]
    assert len(old) == 1 and old[0].body == V0_POLICY.encode()  # once, and as written
    texts = {p.read_bytes() for p in (bundle / "policies").glob("*.rego")}
    assert all(p.body in texts for p in opa.calls("PUT", "/v1/policies/"))
    assert leftovers(opa) == ({}, {})


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_an_evaluation_error_names_the_policy_line(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    bundle = copy(CASE, tmp_path)
    (bundle / "policies" / "clash.rego").write_text(
        'package clash\nimport rego.v1\nx := 1 if input.model\nx := 2 if input.model\n'
        'deny contains "clash" if x\n')
    result = check(bundle, "--engine", "opa", "--opa-url", opa.url, *FAST)
    assert result.exit_code == 2
    assert "policy error in policies/clash.rego:4:1" in result.stderr
    assert "could not evaluate the policy (POST /v1/data/clash/deny)" in result.stderr
    assert leftovers(opa) == ({}, {})


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_the_stock_client_would_rewrite_and_the_strict_one_does_not(
    opa: OpaProtocolFixture,
) -> None:
    """Proves the test above can see a rewrite: opa-python-client's default does one."""
    from opa_client import OpaClient
    from opa_client.errors import RegoParseError

    from gate.engines.opa_http import StrictClient as _StrictClient

    port = int(opa.url.rsplit(":", 1)[1])
    stock = OpaClient(host="127.0.0.1", port=port)
    assert stock.update_policy_from_string(OLD_V0, "stock")  # accepted... rewritten
    assert opa.policies["stock"] != OLD_V0 and "contains msg if" in opa.policies["stock"]
    strict = _StrictClient(opa.url, backoff=0, host="127.0.0.1", port=port)
    with pytest.raises(RegoParseError):
        strict.update_policy_from_string(OLD_V0, "strict", rego_compat=True)
    assert "strict" not in opa.policies
    assert [p.body for p in opa.calls("PUT", "/v1/policies/strict")] == [OLD_V0.encode()]
    assert strict._prepare_policy_for_upload(OLD_V0, {"errors": [
        {"message": "`if` keyword is required before rule body"}]}, True) == []


def engine(opa: OpaProtocolFixture, **extra: Any) -> Any:
    return get_engine("opa", EngineOptions(opa_url=opa.url, retries=0, timeout_s=5,
                                           extra=extra))


def run_once_and_clean_up(opa: OpaProtocolFixture, eng: Any) -> None:
    """One package t (x := 1) uploaded, evaluated, and nothing left on the server."""
    try:
        eng.prepare([parse_module("package t\nx := 1\n", "t.rego")], {})
        assert eng.evaluate(["data.t.x"], {}) == {"data.t.x": 1}
    finally:
        eng.close()
    assert leftovers(opa) == ({}, {})


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_modules_naming_each_other_upload_in_order(opa: OpaProtocolFixture) -> None:
    main = parse_module("package lib\nimport rego.v1\ndeny contains m if { m := helper(1) }\n",
                        "a_main.rego")
    helper = parse_module("package lib\nimport rego.v1\nhelper(x) := sprintf(\"h%v\", [x])\n",
                          "b_helper.rego")
    eng = engine(opa)
    try:
        eng.prepare([main, helper], {})
        assert eng.evaluate(["data.lib.deny"], {}) == {"data.lib.deny": ["h1"]}
        puts = [p.path.rsplit("/", 1)[1] for p in opa.calls("PUT", "/v1/policies/")]
        assert puts == ["b_helper.rego", "a_main.rego"]  # the helper first, each once
    finally:
        eng.close()
    assert leftovers(opa) == ({}, {})


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_any_data_value_and_key_goes_up_and_comes_down(opa: OpaProtocolFixture) -> None:
    policy = parse_module('package t\nimport rego.v1\nv := [data.limit, data["a b"].c]\n',
                          "t.rego")
    eng = engine(opa)
    try:
        eng.prepare([policy], {"limit": 3, "a b": {"c": [1]}})
        assert opa.data["limit"] == 3 and opa.data["a b"] == {"c": [1]}
        assert eng.evaluate(["data.t.v"], {}) == {"data.t.v": [3, [1]]}
    finally:
        eng.close()
    assert leftovers(opa) == ({}, {})


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_evaluate_without_input_reads_with_get(opa: OpaProtocolFixture) -> None:
    eng = engine(opa)
    try:
        eng.prepare([parse_module("package t\nimport rego.v1\nx := 1\ny if input.z\n", "t.rego")],
                    {})
        assert eng.evaluate(["data.t.x", "data.t.y"], None) == {"data.t.x": 1}
        assert not opa.calls("POST")
    finally:
        eng.close()


# --- concurrent runs: claims ---------------------------------------------------------------


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_a_name_used_by_someone_else_is_refused(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    opa.data["floors"] = {"accuracy": 0.1}  # not a gate run's: nobody claims it
    result = check(copy(CASE, tmp_path), "--engine", "opa", "--opa-url", opa.url, *FAST)
    assert result.exit_code == 2
    assert "already has data.floors" in result.stderr and "--opa-mode server" in result.stderr
    assert opa.data["floors"] == {"accuracy": 0.1}  # untouched
    assert opa.policies == {}


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_a_busy_name_waits_then_fails_closed(opa: OpaProtocolFixture) -> None:
    opa.data["gate_claims"] = {"t": {"run": "other", "expires": time.time() + 600,
                                      "policies": [], "data": False}}
    eng = engine(opa, wait_s=0.3, poll_s=0.05)
    try:
        with pytest.raises(EngineError, match="held by gate run other"):
            eng.prepare([parse_module("package t\nx := 1\n", "t.rego")], {})
    finally:
        eng.close()
    assert opa.data["gate_claims"]["t"]["run"] == "other" and opa.policies == {}


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_a_claim_released_meanwhile_is_taken(opa: OpaProtocolFixture) -> None:
    opa.data["gate_claims"] = {"t": {"run": "other", "expires": time.time() + 600,
                                      "policies": [], "data": False}}

    def release(server: OpaProtocolFixture, seen: Seen) -> None:
        claims = server.data["gate_claims"]
        if seen.method == "GET" and claims.get("t", {}).get("run") == "other":
            del claims["t"]  # the other run finishes

    opa.on_request = release
    run_once_and_clean_up(opa, engine(opa, wait_s=5, poll_s=0.05))


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_an_expired_claim_is_cleared_and_taken_over(opa: OpaProtocolFixture) -> None:
    opa.policies["gate/dead/000/t.rego"] = "package t\nx := 99\n"
    opa.data["t"] = {"left": True}
    opa.data["gate_claims"] = {"t": {"run": "dead", "expires": time.time() - 1,
                                      "policies": ["gate/dead/000/t.rego"], "data": True}}
    run_once_and_clean_up(opa, engine(opa))


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_a_claim_lost_during_the_run_fails_closed(opa: OpaProtocolFixture) -> None:
    def steal(server: OpaProtocolFixture, seen: Seen) -> None:
        if seen.method == "POST":
            server.data["gate_claims"]["t"]["run"] = "thief"

    eng = engine(opa)
    try:
        eng.prepare([parse_module("package t\nx := 1\n", "t.rego")], {})
        opa.on_request = steal
        with pytest.raises(EngineError, match=r"claim on data\.t was taken over"):
            eng.evaluate(["data.t.x"], {})
    finally:
        opa.on_request = None
        eng.close()
    assert not opa.policies


@pytest.mark.slow  # talks HTTP to the OPA protocol fixture (its own server thread)
def test_two_runs_over_the_same_names_take_turns(opa: OpaProtocolFixture, tmp_path: Path) -> None:
    bundles = [copy(CASE, tmp_path, f"b{i}") for i in range(2)]
    procs = [subprocess.Popen(
        [str(Path(sys.executable).parent / "gate"), "check", "--config", str(b / "gate.yaml"),
         "--output-dir", str(b / "out"), "--engine", "opa", "--opa-url", opa.url],
        cwd=ROOT, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for b in bundles]
    codes = [p.wait(timeout=60) for p in procs]
    assert codes == [0, 0], [p.stderr.read() for p in procs if p.stderr]
    assert leftovers(opa) == ({}, {})
    # The claims serialised them: one run's uploads all come before the other's.
    runs = [s.path.split("/")[4] for s in opa.calls("PUT", "/v1/policies/")]
    assert runs == sorted(runs, key=runs.index) and len(set(runs)) == 2
    first = [i for i, r in enumerate(runs) if r == runs[0]]
    assert first == list(range(len(first)))


# --- lazy import --------------------------------------------------------------------------------


@pytest.mark.slow  # runs a fresh interpreter
def test_opa_client_is_imported_only_with_the_opa_engine() -> None:
    code = ("import sys\nfrom gate.engines import get_engine, EngineOptions\n"
            "assert 'opa_client' not in sys.modules\n"
            "get_engine('opa', EngineOptions(opa_url='http://127.0.0.1:1'))\n"
            "assert 'opa_client' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- a real OPA ------------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_OPA, reason="set GATE_TEST_OPA_URL to the URL of a real OPA "
                    "server (e.g. http://localhost:8181) to run this test")
@pytest.mark.parametrize("example", ["passing", "failing"])
@pytest.mark.slow  # needs a real OPA server
def test_real_opa_same_findings(tmp_path: Path, example: str) -> None:
    assert REAL_OPA is not None
    bundle = copy(EXAMPLES / example, tmp_path)
    token = os.environ.get("GATE_TEST_OPA_TOKEN")
    extra = ["--opa-token-env", "GATE_TEST_OPA_TOKEN"] if token else []
    embedded = check(bundle, "--engine", "regorus", out="regorus")  # the fixture's engine
    remote = check(bundle, "--engine", "opa", "--opa-url", REAL_OPA, *extra, out="opa",
                   env={"GATE_TEST_OPA_TOKEN": token or ""})
    assert remote.exit_code == embedded.exit_code, remote.stderr
    assert findings(decision(bundle, "opa")) == findings(decision(bundle, "regorus"))


@pytest.mark.skipif(not REAL_OPA, reason="set GATE_TEST_OPA_URL to the URL of a real OPA "
                    "server (e.g. http://localhost:8181) to run this test")
@pytest.mark.slow  # needs a real OPA server
def test_real_opa_compile_error_is_reported(tmp_path: Path) -> None:
    assert REAL_OPA is not None
    bundle = copy(CASE, tmp_path)
    (bundle / "policies" / "old.rego").write_text(V0_POLICY)
    token = os.environ.get("GATE_TEST_OPA_TOKEN")
    extra = ["--opa-token-env", "GATE_TEST_OPA_TOKEN"] if token else []
    result = check(bundle, "--engine", "opa", "--opa-url", REAL_OPA, *extra,
                   env={"GATE_TEST_OPA_TOKEN": token or ""})
    assert result.exit_code == 2
    assert "policies/old.rego:4" in result.stderr
