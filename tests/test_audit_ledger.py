"""The audit ledger: a hash chain in SQLite and in the real PostgreSQL of `.ci/postgres.sh`.

Writers are real processes; "kill -9" is SIGKILL; records are tampered with
through the sqlite3 and psql command-line clients, as an insider would.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from audit_support import ENV, event, fill, gate, ledger_url, psql_url, writer
from click.testing import CliRunner

from gate.audit import AuditError
from gate.audit.chain import GENESIS, Head, Record, canonical, digest_text, seal, verify
from gate.audit.store import Filters, open_ledger
from gate.cli import cli

__all__ = ["ledger_url"]  # the fixture, from audit_support

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def audit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args], env=ENV)
    return result.exit_code, result.output


def test_append_seals_a_chain_and_reads_it_back(ledger_url: str) -> None:
    store = open_ledger(ledger_url)
    first = store.append([event(0)])
    rest = store.append([event(1, kind="rollback.step-start", model="other"),
                         event(2, kind="rollback.step-result")])
    assert [r.seq for r in first + rest] == [1, 2, 3]
    assert first[0].body["prev"] == GENESIS
    assert rest[0].body["prev"] == first[0].hash and rest[1].body["prev"] == rest[0].hash
    assert all(digest_text(r.text) == r.hash for r in first + rest)
    assert [r.seq for r in store.records()] == [1, 2, 3]
    assert [r.seq for r in store.find(Filters(kind="rollback."))] == [2, 3]
    assert [r.seq for r in store.find(Filters(model="other"))] == [2]
    assert [r.seq for r in store.find(Filters(version="1.2"))] == [3]
    assert [r.seq for r in store.find(Filters(since="2026-12-01T00:00:01", limit=1))] == [2]
    got = store.get(2)
    assert got is not None and got.body["event"] == {"n": 1}
    verdict = verify(store.records(), Head(3, rest[1].hash))
    assert verdict.ok and verdict.records == 3
    store.close()


@pytest.mark.slow  # several writer processes
def test_concurrent_writer_processes_never_fork_the_chain(ledger_url: str) -> None:
    procs = [writer(ledger_url, name, 150) for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    store = open_ledger(ledger_url)
    records = list(store.records())
    store.close()
    verdict = verify(records)
    assert verdict.ok, verdict.problem
    assert len(records) == 300 and [r.seq for r in records] == list(range(1, 301))
    for name in ("a", "b"):  # nothing lost: every event of every writer, once
        mine = sorted(r.body["event"]["i"] for r in records if r.body["event"]["writer"] == name)
        assert mine == list(range(150))
    assert len({r.body["prev"] for r in records}) == 300  # no two records share a parent


def test_kill_9_inside_an_append_leaves_a_ledger_that_verifies(ledger_url: str) -> None:
    fill(ledger_url, 5).close()
    proc = writer(ledger_url, "victim", 10, batch=10, mode="stall")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "mid"  # one record inserted, not committed
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    store = open_ledger(ledger_url)
    verdict = verify(store.records())
    assert verdict.ok and verdict.records == 5  # the half-done append left nothing
    store.append([event(99)])  # the lock died with the writer: the next append goes through
    assert verify(store.records()).records == 6
    store.close()


@pytest.mark.slow  # kills writer processes for seconds
def test_kill_9_at_random_moments_loses_no_acknowledged_append(ledger_url: str) -> None:
    rng = random.Random(13)
    acknowledged = 0
    for round_ in range(4):
        proc = writer(ledger_url, f"w{round_}", 5000, batch=25)
        time.sleep(rng.uniform(0.3, 0.9))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        lines = out.split()
        if lines:
            acknowledged = max(acknowledged, int(out.strip().splitlines()[-1].split()[0]))
        store = open_ledger(ledger_url)
        verdict = verify(store.records())
        store.close()
        assert verdict.ok, verdict.problem
        assert verdict.head is None or verdict.head.seq >= acknowledged
        assert verdict.records % 25 == 0  # whole transactions only
    assert acknowledged > 0


# --- tampering ---------------------------------------------------------------------


def _sqlite3(db: Path, sql: str) -> None:
    subprocess.run(["sqlite3", str(db), sql], check=True, capture_output=True, text=True)


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> tuple[str, Path, Head]:
    if shutil.which("sqlite3") is None:
        pytest.skip("needs the sqlite3 command-line client")
    db = tmp_path / "ledger.db"
    url = f"sqlite:///{db}"
    store = fill(url, 8)
    last = list(store.records())[-1]
    store.close()
    return url, db, Head(last.seq, last.hash)


def test_an_intact_ledger_verifies_against_its_published_head(
        sqlite_ledger: tuple[str, Path, Head]) -> None:
    url, _, head = sqlite_ledger
    code, out = audit("verify", "--ledger", url, "--expect-head", str(head))
    assert code == 0, out
    assert "intact, 8 record(s)" in out and f"head {head}" in out


@pytest.mark.parametrize(("sql", "seq", "what"), [
    # a record's content edited in place
    ("UPDATE gate_ledger SET record = replace(record, '\"n\":3', '\"n\":4') WHERE seq = 4",
     4, "edited"),
    # a column edited so that `gate audit log --model` would hide a record
    ("UPDATE gate_ledger SET model = 'someone-else' WHERE seq = 6", 6, "edited"),
    # one record deleted
    ("DELETE FROM gate_ledger WHERE seq = 3", 3, "removed"),
    # two records swapped (their places exchanged)
    ("UPDATE gate_ledger SET seq = -seq WHERE seq IN (5, 6); "
     "UPDATE gate_ledger SET seq = 11 + seq WHERE seq IN (-5, -6)", 5, "reordered"),
    # one record deleted and the later ones renumbered to close the gap
    ("DELETE FROM gate_ledger WHERE seq = 2; UPDATE gate_ledger SET seq = seq - 1 WHERE seq > 2",
     2, "reordered"),
])
def test_tampering_with_the_sqlite_cli_is_found(sqlite_ledger: tuple[str, Path, Head], sql: str,
                                                seq: int, what: str) -> None:
    url, db, _ = sqlite_ledger
    _sqlite3(db, sql)
    code, out = audit("verify", "--ledger", url)
    assert code == 1, out
    assert f"NOT INTACT at record {seq} ({what})" in out


def test_a_cut_off_tail_is_found_against_the_published_head(
        sqlite_ledger: tuple[str, Path, Head], tmp_path: Path) -> None:
    url, db, head = sqlite_ledger
    _sqlite3(db, "DELETE FROM gate_ledger WHERE seq > 6")
    code, out = audit("verify", "--ledger", url)  # the rest is a perfectly good chain
    assert code == 0 and "cannot be told" in out
    code, out = audit("verify", "--ledger", url, "--expect-head", str(head))
    assert code == 1
    assert "NOT INTACT at record 7 (truncated)" in out and "ends at record 6" in out
    # A forged tail re-sealed after the cut does not reach the published head either.
    store = open_ledger(url)
    store.append([event(100), event(101)])
    store.close()
    code, out = audit("verify", "--ledger", url, "--expect-head", str(head))
    assert code == 1 and "NOT INTACT at record 8 (rewritten)" in out


def test_an_export_is_jsonl_that_verifies_like_the_ledger(
        sqlite_ledger: tuple[str, Path, Head], tmp_path: Path) -> None:
    url, _, head = sqlite_ledger
    out_file = tmp_path / "audit.jsonl"
    code, out = audit("export", "--ledger", url, "-o", str(out_file))
    assert code == 0, out
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, 9))
    assert lines[-1]["hash"] == head.hash and lines[0]["record"]["prev"] == GENESIS
    code, out = audit("verify", "--file", str(out_file), "--expect-head", str(head))
    assert code == 0, out
    lines[2]["record"]["event"]["n"] = 77
    out_file.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, out = audit("verify", "--file", str(out_file))
    assert code == 1 and "record 3 (edited)" in out


def _chain(n: int) -> list[Record]:
    records, prev = [], GENESIS
    for i in range(n):
        records.append(seal(event(i), i + 1, prev))
        prev = records[-1].hash
    return records


def test_a_record_resealed_with_bad_text_or_columns_is_named() -> None:
    """Rows an insider rewrote together with their hash: what only the text can tell."""
    good = _chain(3)
    assert verify(good).ok
    # not JSON; a key given twice (readers disagree on which wins)
    for text in ("not json", good[1].text[:-1] + ',"kind":"other.kind"}'):
        broken = replace(good[1], text=text, hash=digest_text(text))
        verdict = verify([good[0], broken, good[2]])
        assert verdict.problem is not None and verdict.head == Head(1, good[0].hash)
        assert (verdict.problem.seq, verdict.problem.what) == (2, "malformed"), text
    columns: list[dict[str, Any]] = [{"kind": "other.kind"}, {"at": "2020-01-01"},
                                     {"version": "9"}]
    for column in columns:
        verdict = verify([good[0], replace(good[1], **column), good[2]])
        assert verdict.problem is not None
        assert (verdict.problem.seq, verdict.problem.what) == (2, "edited"), column
        assert "column says" in verdict.problem.message
    body = {**good[1].body, "seq": 3}  # sealed for another place, then moved here
    moved = replace(good[1], text=canonical(body), hash=digest_text(canonical(body)))
    verdict = verify([good[0], moved])
    assert verdict.problem is not None and verdict.problem.what == "reordered"
    assert "sealed as record 3" in verdict.problem.message


def test_an_export_that_is_not_jsonl_records_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "audit.jsonl"
    bad.write_text(json.dumps(_chain(1)[0].to_json()) + "\n{\"seq\": 2}\n")
    code, out = audit("verify", "--file", str(bad))
    assert code == 2 and "line 2 is not a record of `gate audit export`" in out
    code, out = audit("verify", "--file", str(tmp_path / "none.jsonl"))
    assert code == 2 and "cannot read the export" in out
    code, out = audit("verify", "--file", str(bad), "--expect-head-from",
                      str(tmp_path / "none.json"))
    assert code == 2 and "cannot read" in out


def test_log_and_show(sqlite_ledger: tuple[str, Path, Head]) -> None:
    url, _, head = sqlite_ledger
    code, out = audit("log", "--ledger", url, "--version", "1.2")
    assert code == 0 and len(out.splitlines()) == 1 and "test.event" in out
    code, out = audit("log", "--ledger", url, "--format", "json", "--limit", "2")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [1, 2]
    code, out = audit("show", "8", "--ledger", url)
    assert code == 0 and json.loads(out)["hash"] == head.hash
    code, out = audit("show", head.hash[:12], "--ledger", url)
    assert code == 0 and json.loads(out)["seq"] == 8
    code, out = audit("show", "99", "--ledger", url)
    assert code == 2 and "has no record '99'" in out


def test_bad_ledger_urls_and_heads_are_exit_2(tmp_path: Path) -> None:
    code, out = audit("verify", "--ledger", "mysql://h/db")
    assert code == 2 and "scheme 'mysql'" in out
    code, out = audit("verify", "--ledger", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2 and "the ledger does not exist" in out
    code, out = audit("verify", "--ledger", f"sqlite:///{tmp_path / 'x.db'}",
                      "--expect-head", "12:abc")
    assert code == 2 and "is not a ledger head" in out
    code, out = audit("log")
    assert code == 2 and "no ledger was named" in out
    code, out = audit("verify", "--ledger", "postgresql://gate:pw@127.0.0.1:1/db?table=x")
    assert code == 2 and "gate:***@127.0.0.1:1" in out and ":pw@" not in out


# --- PostgreSQL through psql ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(("sql", "seq", "what"), [
    ("UPDATE {t} SET record = replace(record, '\"n\":2', '\"n\":5') WHERE seq = 3", 3, "edited"),
    ("DELETE FROM {t} WHERE seq = 4", 4, "removed"),
    ("UPDATE {t} SET seq = -seq WHERE seq IN (2, 5); "
     "UPDATE {t} SET seq = 7 + seq WHERE seq IN (-2, -5)", 2, "reordered"),
])
def test_tampering_with_psql_is_found(sql: str, seq: int, what: str) -> None:
    from audit_support import drop_pg_table, pg_table_url

    if shutil.which("psql") is None:
        pytest.skip("needs the psql client")
    url = pg_table_url()
    try:
        fill(url, 6).close()
        table = url.rsplit("table=", 1)[1]
        subprocess.run(["psql", psql_url(url), "-v", "ON_ERROR_STOP=1", "-q", "-c",
                        sql.format(t=table)], check=True, capture_output=True, text=True)
        code, out = audit("verify", "--ledger", url)
        assert code == 1, out
        assert f"NOT INTACT at record {seq} ({what})" in out
    finally:
        drop_pg_table(url)


@pytest.mark.postgres
def test_a_cut_off_tail_in_postgresql_is_found_against_the_head() -> None:
    from audit_support import drop_pg_table, pg_table_url

    url = pg_table_url()
    try:
        store = fill(url, 6)
        last = list(store.records())[-1]
        store.close()
        table = url.rsplit("table=", 1)[1]
        subprocess.run(["psql", psql_url(url), "-q", "-c", f"DELETE FROM {table} WHERE seq = 6"],
                       check=True, capture_output=True)
        code, out = audit("verify", "--ledger", url, "--expect-head", f"6:{last.hash}")
        assert code == 1 and "(truncated)" in out
    finally:
        drop_pg_table(url)


def test_an_unreachable_postgresql_fails_closed() -> None:
    with pytest.raises(AuditError, match="cannot open the ledger") as e:
        open_ledger("postgresql://gate:secret@127.0.0.1:1/db")
    assert "secret" not in e.value.render()


# --- gate check with --ledger ------------------------------------------------------------


def test_gate_check_appends_its_decision_and_publishes_the_head(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "failing", bundle)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    gh_out, summary = tmp_path / "gh-output", tmp_path / "summary.md"
    result = CliRunner().invoke(cli, ["check", "--config", str(bundle / "gate.yaml"), "-o",
                                      str(tmp_path / "out")],
                                env={**ENV, "GATE_LEDGER": url, "GITHUB_OUTPUT": str(gh_out),
                                     "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1, result.output
    from gate.audit.events import decision_digest
    from gate.schemas import validate

    doc = json.loads((tmp_path / "out" / "decision.json").read_text())
    validate(doc, "decision", path="decision.json", what="decision.json")
    ledger = doc["ledger"]
    assert ledger["head"].startswith("1:") and ledger["records"] == [1]
    assert ledger["decision_sha256"] == decision_digest(doc)
    assert f"gate-ledger-head={ledger['head']}" in gh_out.read_text()
    assert ledger["head"] in summary.read_text()
    assert f"ledger: head {ledger['head']}" in result.output  # stderr, mixed in by CliRunner
    store = open_ledger(url)
    (rec,) = store.records()
    store.close()
    body = rec.body
    assert body["kind"] == "check.decision" and body["decision_sha256"] == decision_digest(doc)
    assert body["event"]["decision"] == "fail"
    assert body["event"]["plan_sha256"] == doc["rollback_plan"]["sha256"]
    assert {i["path"]: i["sha256"] for i in body["inputs"]} == {
        i["path"]: i["sha256"] for i in doc["inputs"] + doc["policies"]}
    assert body["engine"]["name"] == doc["engine"]["name"] and body["ci"] == doc["ci"]
    code, out = audit("verify", "--ledger", url, "--expect-head-from",
                      str(tmp_path / "out" / "decision.json"))
    assert code == 0, out

    result = CliRunner().invoke(cli, ["check", "--config", str(bundle / "gate.yaml"), "-o",
                                      str(tmp_path / "gl"), "--format", "gitlab"],
                                env={**ENV, "GATE_LEDGER": url})
    assert "GATE_LEDGER_HEAD=2:" in (tmp_path / "gl" / "gate.env").read_text()


def test_without_a_ledger_nothing_changes(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    result = CliRunner().invoke(cli, ["check", "--config", str(bundle / "gate.yaml"), "-o",
                                      str(tmp_path / "out")], env={**ENV, "GATE_LEDGER": ""})
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert "ledger" not in doc and "attestation" not in doc and "ledger:" not in result.output


def test_sign_offs_used_are_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_signoff import add_signature, freeze, make_keys, signoff_bundle

    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH")
    (tmp_path / "keys").mkdir()
    keys = make_keys(tmp_path / "keys")
    root = signoff_bundle(tmp_path / "bundle", keys)
    add_signature(root, keys, "alice")
    freeze(monkeypatch)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = CliRunner().invoke(cli, ["check", "--config", str(root / "gate.yaml"), "-o",
                                      str(tmp_path / "out"), "--ledger", url], env=ENV)
    assert result.exit_code == 1, result.output
    store = open_ledger(url)
    records = list(store.records())
    store.close()
    assert [r.kind for r in records] == ["check.decision", "signoff.used"]
    (signer,) = records[1].body["signers"]
    assert signer["role"] == "security" and signer["signer"] == "alice@example.com"
    assert signer["fingerprint"].startswith("SHA256:") and signer["rule"] == "GATE-EVAL-003"
    assert records[0].body["signers"] == [signer]
    assert verify(records).ok


# --- failing closed: a read-only or full ledger ---------------------------------------------

NS = ("unshare", "--mount", "--propagation", "private", "sh", "-ec")


def _in_namespace(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run gate in a mount namespace of its own after ``script`` set up the mounts."""
    cmd = [*NS, script + ' && exec "$@"', "sh", sys.executable, "-c",
           "from gate.cli import main; main()", *args]
    return subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **ENV})


def _namespaces_work(tmp_path: Path) -> bool:
    probe = subprocess.run([*NS, f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
                           check=False, capture_output=True)
    return shutil.which("unshare") is not None and probe.returncode == 0


@pytest.mark.parametrize("fault", ["read-only", "disk-full"])
@pytest.mark.slow  # runs gate in a mount namespace
def test_a_ledger_that_cannot_be_written_fails_closed(tmp_path: Path, fault: str) -> None:
    if not _namespaces_work(tmp_path):
        pytest.skip("needs unshare and mount (root in a mount namespace)")
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    led = tmp_path / "ledger"
    led.mkdir()
    fill(f"sqlite:///{led / 'ledger.db'}", 3).close()
    if fault == "read-only":
        setup = f"mount --bind {led} {led} && mount -o remount,ro,bind {led} {led}"
    else:  # a 256 KiB file system, filled to the last block around the ledger
        setup = (f"cp {led}/ledger.db {tmp_path}/copy.db && mount -t tmpfs -o size=256k tmpfs "
                 f"{led} && cp {tmp_path}/copy.db {led}/ledger.db && "
                 f"(dd if=/dev/zero of={led}/filler bs=4k 2>/dev/null || true)")
    out = tmp_path / "out"
    proc = _in_namespace(setup, "check", "--config", str(bundle / "gate.yaml"), "-o", str(out),
                         "--ledger", f"sqlite:///{led / 'ledger.db'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    why = "readonly" if fault == "read-only" else "full"
    assert "gate: audit error in sqlite:///" in proc.stderr and why in proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads((out / "decision.json").read_text())  # the decision is still written
    assert doc["decision"] == "pass" and why in doc["ledger"]["error"]
    assert "head" not in doc["ledger"]
    if fault == "read-only":  # nothing reached the ledger, and it still verifies
        store = open_ledger(f"sqlite:///{led / 'ledger.db'}")
        assert verify(store.records()).records == 3
        store.close()


def test_an_error_run_is_recorded_too(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "passing", bundle)
    (bundle / "gate.yaml").write_text((bundle / "gate.yaml").read_text() + "bogus: 1\n")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    proc = gate("check", "--config", str(bundle / "gate.yaml"), "-o", str(tmp_path / "out"),
                "--ledger", url, cwd=tmp_path)
    assert proc.returncode == 2
    store = open_ledger(url)
    (rec,) = store.records()
    store.close()
    assert rec.body["event"]["decision"] == "error" and rec.body["event"]["error"]


def test_sqlite_ledger_is_a_plain_sqlite_database(sqlite_ledger: tuple[str, Path, Head]) -> None:
    _, db, head = sqlite_ledger
    with sqlite3.connect(db) as c:
        (count,) = c.execute("SELECT count(*) FROM gate_ledger").fetchone()
    assert count == head.seq
