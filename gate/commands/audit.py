"""`gate audit log|show|export|verify` and `gate attest verify`.

``gate audit verify`` exits 0 when the chain is whole, 1 when it is not (the
first record edited, removed, reordered or cut off is named), 2 when the
ledger cannot be read. ``gate attest verify`` exits 0 when the attestation is
valid and covers what it was given, 2 when it is refused.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gate.audit import LEDGER_ENV, AuditError
from gate.commands.common import debug_option
from gate.documents import load_file, parse_json
from gate.errors import DocumentError, UsageError

if TYPE_CHECKING:
    from gate.audit.chain import Record
    from gate.audit.store import LedgerStore


def _ledger_option(f: Any) -> Any:
    return click.option("--ledger", "url", metavar="URL", envvar=LEDGER_ENV,
                        help="The ledger: sqlite:///path/ledger.db or postgresql://user@host/db. "
                        f"[env: {LEDGER_ENV}]")(f)


def _store(url: str | None) -> LedgerStore:
    """The ledger ``url`` names, which must exist: reading never creates one."""
    from gate.audit.store import open_ledger

    if not url:
        raise UsageError("no ledger was named",
                         hint=f"pass --ledger URL or set ${LEDGER_ENV}")
    return open_ledger(url, cwd=Path.cwd(), create=False)


@click.group()
def audit() -> None:
    """Read and check the audit ledger that --ledger appends to."""


def _line(rec: Record) -> str:
    body = rec.body
    event = body.get("event") or {}
    what = {
        "check.decision": lambda: f"decision {event.get('decision')}",
        "signoff.used": lambda: "sign-off " + ", ".join(
            f"{s.get('role')}={s.get('signer')}" for s in body.get("signers", [])),
        "rollout.judgement": lambda: f"stage {event.get('stage')}: {event.get('decision')}",
        "rollback.step-start": lambda: f"step {event.get('step', 0) + 1} {event.get('name')} "
        "started",
        "rollback.step-result": lambda: f"step {event.get('step', 0) + 1} {event.get('name')}: "
        f"{event.get('outcome')}",
    }.get(rec.kind, lambda: "")()
    model = f"{rec.model or '-'} {rec.version or '-'}"
    return f"{rec.seq:>6}  {rec.at[:19]}Z  {rec.kind:<20}  {model:<28}  {what}"


@audit.command("log")
@_ledger_option
@click.option("--model", metavar="NAME", help="Only this model.")
@click.option("--version", "version", metavar="VERSION", help="Only this model version.")
@click.option("--kind", metavar="KIND", help="check.decision, signoff.used, rollout.judgement, "
              "rollback.step-start, rollback.step-result; or a prefix ending in '.' (rollback.).")
@click.option("--since", metavar="TIME", help="Records at or after this UTC time (ISO-8601).")
@click.option("--until", metavar="TIME", help="Records at or before this UTC time (ISO-8601).")
@click.option("--limit", type=click.IntRange(1), metavar="N", help="At most N records.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@debug_option
def log(url: str | None, model: str | None, version: str | None, kind: str | None,
        since: str | None, until: str | None, limit: int | None, fmt: str) -> None:
    """List records, oldest first."""
    from gate.audit.store import Filters

    filters = Filters(model=model, version=version, kind=kind, since=_time(since, "--since"),
                      until=_time(until, "--until", end=True), limit=limit)
    store = _store(url)
    try:
        found = store.find(filters)
    finally:
        store.close()
    if fmt == "json":
        for rec in found:
            click.echo(json.dumps(rec.to_json(), sort_keys=True))
        return
    if not found:
        click.echo("no records match", err=True)
    for rec in found:
        click.echo(_line(rec))


def _time(value: str | None, option: str, *, end: bool = False) -> str | None:
    """An ISO-8601 time as the records write it (UTC); a bare day covers the whole day."""
    if value is None:
        return None
    from datetime import timezone

    from gate.durations import iso_time

    text = value.strip()
    try:
        t = iso_time(text)
    except ValueError as e:
        raise UsageError(f"{option} '{value}' is not an ISO-8601 time",
                         hint="write e.g. 2026-11-25 or 2026-11-25T14:00:00Z") from e
    if len(text) == 10 and end:
        t = t.replace(hour=23, minute=59, second=59, microsecond=999999)
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")


@audit.command("show")
@click.argument("record_id", metavar="ID")
@_ledger_option
@debug_option
def show(record_id: str, url: str | None) -> None:
    """Show one record (by its number, or a prefix of its hash) as JSON."""
    store = _store(url)
    try:
        rec = None
        if record_id.isdigit():
            rec = store.get(int(record_id))
        elif len(record_id) >= 8:
            want = record_id.lower()
            matches = [r for r in store.records() if r.hash.startswith(want)]
            if len(matches) > 1:
                raise UsageError(f"'{record_id}' is the start of {len(matches)} record hashes",
                                 hint="give more hex digits, or the record's number")
            rec = matches[0] if matches else None
    finally:
        store.close()
    if rec is None:
        raise UsageError(f"the ledger has no record '{record_id}'",
                         hint="give a record number from `gate audit log`, or 8+ hex digits "
                         "of its hash")
    click.echo(json.dumps(rec.to_json(), indent=2, sort_keys=True))


@audit.command("export")
@_ledger_option
@click.option("-o", "--output", metavar="FILE", default="-", show_default=True,
              help="Where the JSON lines go ('-': stdout).")
@debug_option
def export(url: str | None, output: str) -> None:
    """Write every record as JSON lines ({seq, hash, record}) for an auditor's archive.

    `gate audit verify --file FILE` checks an export as it checks the ledger.
    """
    store = _store(url)
    count, last = 0, None
    try:
        out = sys.stdout if output == "-" else None
        fh = out or open(output, "w", encoding="utf-8")  # noqa: SIM115  # closed below
        try:
            for rec in store.records():
                fh.write(json.dumps(rec.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
                count, last = count + 1, rec
            fh.flush()
            if out is None:
                os.fsync(fh.fileno())
        finally:
            if out is None:
                fh.close()
    except OSError as e:
        raise AuditError(f"cannot write the export: {e.strerror}", path=output,
                         hint="choose a writable file") from e
    finally:
        store.close()
    head = str(last.head) if last else "none"
    click.echo(f"exported {count} record(s); head {head}", err=True)


def _exported(path: str) -> Iterator[Record]:
    from gate.audit.chain import Record, canonical

    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115  # a generator: closed at its end
    except OSError as e:
        raise AuditError(f"cannot read the export: {e.strerror}", path=path,
                         hint="pass a file `gate audit export` wrote") from e
    with fh:
        for n, line in enumerate(fh, 1):
            try:
                row = parse_json(line)
                body = row["record"]
                model = body.get("model") or {}
                yield Record(seq=int(row["seq"]), hash=str(row["hash"]), text=canonical(body),
                             kind=str(body.get("kind")), model=model.get("name"),
                             version=model.get("version"), at=str(body.get("at")))
            except (DocumentError, ValueError, KeyError, TypeError, AttributeError) as e:
                raise AuditError(f"line {n} is not a record of `gate audit export`: {e}",
                                 path=path, line=n, hint="pass the export unedited") from e


@audit.command("verify")
@_ledger_option
@click.option("--file", "export_file", metavar="FILE",
              help="Check an export (`gate audit export`) instead of the ledger.")
@click.option("--expect-head", metavar="SEQ:SHA256",
              help="The head a run published (decision.json ledger.head, the gate-ledger-head "
              "output, GATE_LEDGER_HEAD): the chain must reach it, which catches a cut-off tail.")
@click.option("--expect-head-from", metavar="DECISION",
              help="Read the expected head from a decision.json's ledger.head.")
@debug_option
def verify(url: str | None, export_file: str | None, expect_head: str | None,
           expect_head_from: str | None) -> None:
    """Recompute the chain; name the first record edited, removed, reordered or cut off."""
    from gate.audit.chain import Head
    from gate.audit.chain import verify as verify_chain

    if expect_head and expect_head_from:
        raise UsageError("give --expect-head or --expect-head-from, not both")
    expect = None
    try:
        if expect_head:
            expect = Head.parse(expect_head)
        elif expect_head_from:
            expect = Head.parse(_head_from(expect_head_from))
    except ValueError as e:
        raise UsageError(str(e)) from e
    if export_file:
        verdict = verify_chain(_exported(export_file), expect)
        where = export_file
    else:
        store = _store(url)
        try:
            verdict = verify_chain(store.records(), expect)
        finally:
            store.close()
        where = store.shown
    ctx = click.get_current_context()
    if verdict.problem is not None:
        p = verdict.problem
        click.echo(f"gate audit: {where}: NOT INTACT at record {p.seq} ({p.what}): {p.message}")
        ok_up_to = f"records 1-{p.seq - 1} verify" if p.seq > 1 else "no record verifies"
        click.echo(f"  {ok_up_to}; everything from record {p.seq} on is suspect")
        ctx.exit(1)
    head = str(verdict.head) if verdict.head else "none (empty)"
    against = f", reaching the published head {expect.seq}" if expect else \
        " (no published head given: a cut-off tail cannot be told; pass --expect-head)"
    click.echo(f"gate audit: {where}: intact, {verdict.records} record(s), head {head}{against}")


def _head_from(path: str) -> str:
    try:
        doc = load_file(Path(path), path, default="json")
    except DocumentError as e:
        raise UsageError(f"cannot read {path}: {e.message}", path=path,
                         hint="pass the decision.json of a run made with --ledger") from e
    head = (doc.get("ledger") or {}).get("head") if isinstance(doc, dict) else None
    if not isinstance(head, str):
        raise UsageError("the decision has no ledger.head", path=path, pointer="$.ledger.head",
                         hint="pass the decision.json of a run made with --ledger")
    return head


# --- gate attest ------------------------------------------------------------------


@click.group()
def attest() -> None:
    """Check a signed decision (decision.intoto.json) before deploying or rolling back."""


def _artifact_digests(artifacts: tuple[str, ...], config: str | None) -> list[dict[str, str]]:
    from gate.fsutil import digest_file

    out = []
    for a in artifacts:
        path = Path(a)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            try:
                out.append({"name": str(f), "sha256": digest_file(f)[0]})
            except OSError as e:
                raise UsageError(f"cannot read the artifact: {e.strerror}", path=str(f)) from e
    if config:
        from gate.bundle.artifacts import load_artifacts
        from gate.manifest import find_manifest, load_manifest

        manifest = load_manifest(find_manifest(config, Path.cwd()))
        out += [{"name": r["path"], "sha256": r["sha256"]}
                for r in load_artifacts(manifest.files, manifest.artifacts)]
    return out


@attest.command("verify")
@click.argument("attestation", metavar="ATTESTATION", default="gate-report/decision.intoto.json")
@click.option("--trusted-key", "keys", multiple=True, metavar="PUBKEY", required=True,
              help="A public key the gate signs with (PEM or an OpenSSH line); repeatable.")
@click.option("--plan", metavar="PLAN", help="Refuse unless this is the plan the attested "
              "decision wrote (rollback-plan.json).")
@click.option("--artifact", "artifacts", multiple=True, metavar="PATH",
              help="A model file or folder about to be deployed; refused unless the "
              "attestation covers each file by digest (repeatable).")
@click.option("-c", "--config", metavar="GATE_YAML",
              help="Check the artifacts this manifest names (as --artifact does).")
@click.option("--decision", metavar="DECISION", help="Refuse unless this decision.json is the "
              "attested one.")
@click.option("--require-decision", type=click.Choice(["pass", "warn", "fail"]),
              multiple=True, help="Refuse unless the attested decision is one of these "
              "(repeatable; e.g. pass, for a deploy job).")
@debug_option
def attest_verify(attestation: str, keys: tuple[str, ...], plan: str | None,
                  artifacts: tuple[str, ...], config: str | None, decision: str | None,
                  require_decision: tuple[str, ...]) -> None:
    """Verify a decision's attestation: a trusted key signed it, and it covers what you deploy."""
    from gate.audit import attest as at

    verified = at.verify_envelope(Path(attestation), attestation, at.load_trusted_keys(keys))
    if plan is not None:
        from gate.fsutil import digest_file

        try:
            plan_sha256 = digest_file(plan)[0]
        except OSError as e:
            raise UsageError(f"cannot read the plan: {e.strerror}", path=plan) from e
        at.check_plan(verified, plan_sha256, attestation, plan)
    if artifacts or config:
        at.check_artifacts(verified, _artifact_digests(artifacts, config), attestation)
    if decision is not None:
        from gate.audit.events import decision_digest

        try:
            doc = load_file(Path(decision), decision, default="json")
        except DocumentError as e:
            raise UsageError(f"cannot read the decision: {e.message}", path=decision) from e
        at.check_decision(verified, decision_digest(doc), attestation, decision)
    outcome = verified.predicate.get("decision")
    if require_decision and outcome not in require_decision:
        raise AuditError(f"attestation refused: the attested decision is '{outcome}', not "
                         f"{' or '.join(require_decision)}", path=attestation,
                         hint="deploy only a model the gate passed")
    for line in at.describe(verified):
        click.echo(line)
    click.echo("attestation verified")
