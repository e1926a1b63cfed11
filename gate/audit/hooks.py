"""The audit trail's hooks into `gate check`, `gate rollout` and `gate rollback`.

Each hook is opt-in: without ``--ledger`` (or ``$GATE_LEDGER``) and
``--attest-key`` (or ``$GATE_ATTEST_KEY``) nothing here runs and nothing is
imported. With a ledger, an append that fails fails the run closed (exit 2)
after the command's own outputs are written, so the CI job still has its
decision.json, which then says why under ``ledger.error``.

The head digest (``SEQ:SHA256`` of the last record appended) is published
outside the ledger: a line on stderr, ``ledger.head`` in decision.json, the
``gate-ledger-head`` step output and a step-summary line on GitHub Actions
(``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``), and ``GATE_LEDGER_HEAD`` in
the gitlab format's dotenv report. `gate audit verify --expect-head` checks a
ledger against it, which is how a truncated tail is caught.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from gate.audit import LEDGER_ENV, AuditError
from gate.errors import GateError

if TYPE_CHECKING:
    from gate.audit.store import LedgerStore
    from gate.decision import CheckReport

F = TypeVar("F", bound=Callable[..., Any])
META = "gate.audit"


@dataclass(frozen=True)
class AuditSettings:
    """What the audit options asked for."""

    ledger: str | None = None
    attest_key: str | None = None
    attestation: str | None = None  # gate rollback --require-attestation
    trusted_keys: tuple[str, ...] = ()


def _remember(**changes: Any) -> None:
    """Keep what an audit option asked for in the click context, beside the others'."""
    ctx = click.get_current_context()
    ctx.meta[META] = replace(settings(), **changes)


def ledger_option(f: F) -> F:
    """``--ledger URL`` [env GATE_LEDGER], kept in the click context (not a parameter of f)."""

    @functools.wraps(f)
    def wrapper(*args: Any, ledger: str | None = None, **kwargs: Any) -> Any:
        _remember(ledger=ledger or None)
        return f(*args, **kwargs)

    return click.option(
        "--ledger", metavar="URL", envvar=LEDGER_ENV,
        help="Append this run to the audit ledger: sqlite:///path/ledger.db or "
        "postgresql://user@host/db (default: off). A failed append is exit 2. "
        f"[env: {LEDGER_ENV}]")(wrapper)  # type: ignore[return-value]


def audit_options(f: F) -> F:
    """``--ledger`` and ``--attest-key`` for `gate check`."""
    from gate.audit.attest import KEY_ENV

    @functools.wraps(f)
    def wrapper(*args: Any, attest_key: str | None = None, **kwargs: Any) -> Any:
        _remember(attest_key=attest_key or None)
        return f(*args, **kwargs)

    opt = click.option(
        "--attest-key", metavar="PATH", envvar=KEY_ENV, show_envvar=False,
        help="Sign the decision as an in-toto statement in a DSSE envelope "
        "(decision.intoto.json) with this private key (Ed25519 recommended; PEM or OpenSSH). "
        f"[env: {KEY_ENV}, a path or the key's text]")
    return cast(F, ledger_option(opt(wrapper)))


def attestation_options(f: F) -> F:
    """``--require-attestation FILE`` and ``--trusted-key PUBKEY`` for `gate rollback`."""

    @functools.wraps(f)
    def wrapper(*args: Any, require_attestation: str | None = None,
                trusted_keys: tuple[str, ...] = (), **kwargs: Any) -> Any:
        _remember(attestation=require_attestation or None, trusted_keys=tuple(trusted_keys))
        return f(*args, **kwargs)

    keys = click.option(
        "--trusted-key", "trusted_keys", multiple=True, metavar="PUBKEY",
        help="A public key the gate signs decisions with (PEM or an OpenSSH line); repeatable.")
    need = click.option(
        "--require-attestation", metavar="ATTESTATION",
        help="Refuse the plan unless this attestation (decision.intoto.json from gate check "
        "--attest-key), signed by a --trusted-key, names the plan's sha256.")
    return cast(F, need(keys(wrapper)))


def require_plan_attestation(plan_sha256: str, plan_shown: str) -> None:
    """Refuse the plan (exit 2) unless the attestation asked for covers it; no-op otherwise."""
    opts = settings()
    if opts.attestation is None:
        if opts.trusted_keys:
            raise AuditError("--trusted-key needs --require-attestation",
                             hint="name the attestation the plan must be covered by")
        return
    from gate.audit.attest import check_plan, load_trusted_keys, verify_envelope

    keys = load_trusted_keys(opts.trusted_keys)
    verified = verify_envelope(Path(opts.attestation), opts.attestation, keys)
    check_plan(verified, plan_sha256, opts.attestation, plan_shown)
    click.echo(f"attestation: the plan is the one the gate decided on (decision "
               f"{verified.predicate.get('decision')}, key {verified.key_id[:16]}...)", err=True)


def settings() -> AuditSettings:
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(META) if ctx is not None else None
    return found if isinstance(found, AuditSettings) else AuditSettings()


def publish_head(head: str, url: str, env: Mapping[str, str]) -> None:
    """The head digest, outside the ledger: stderr, and GitHub's output and summary;
    ``url`` is shown with its password masked."""
    from gate.audit.store import mask

    click.echo(f"ledger: head {head} ({mask(url)}); keep it to check the ledger with "
               f"`gate audit verify --expect-head {head}`", err=True)
    for name, line in (("GITHUB_OUTPUT", f"gate-ledger-head={head}\n"),
                       ("GITHUB_STEP_SUMMARY", f"\nAudit ledger head: `{head}`\n")):
        target = env.get(name)
        if target:
            try:
                with open(target, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError as e:
                raise AuditError(f"cannot publish the ledger head: {e.strerror}",
                                 path=target, hint=f"check ${name}") from e


def _open(url: str, cwd: Path) -> LedgerStore:
    from gate.audit.store import open_ledger

    return open_ledger(url, cwd=cwd)


class CheckAudit:
    """`gate check`'s hook: sign, append, and say so in decision.json (called before it is
    written); ``finish`` fails the run closed if any of it went wrong."""

    def __init__(self, opts: AuditSettings, *, cwd: Path, out_dir: Path, output_dir: str,
                 env: Mapping[str, str]) -> None:
        self.opts, self.cwd, self.out_dir, self.env = opts, cwd, out_dir, env
        self.output_dir = output_dir
        self.failure: AuditError | None = None
        self.head: str | None = None
        self.url = opts.ledger or ""

    def __call__(self, report: CheckReport) -> CheckReport:
        doc = report.to_json()
        attestation = None
        if self.opts.attest_key:
            try:
                attestation = self._attest(doc, report)
            except AuditError as e:
                self.failure = e
                attestation = {"error": e.message}
        ledger = None
        if self.opts.ledger:
            ledger = self._append(doc, attestation)
        return replace(report, audit={k: v for k, v in (("ledger", ledger),
                                                         ("attestation", attestation)) if v})

    def _attest(self, doc: Mapping[str, Any], report: CheckReport) -> dict[str, Any]:
        from gate.audit.attest import (
            ATTESTATION_FILE,
            KEY_PASSWORD_ENV,
            attest_decision,
            key_id,
            load_private_key,
        )
        from gate.fsutil import write_json

        key = load_private_key(str(self.opts.attest_key), password=self.env.get(KEY_PASSWORD_ENV))
        plan = report.rollback_plan
        envelope = attest_decision(doc, plan_sha256=plan["sha256"] if plan else None,
                                   private_key=key)
        path = self.out_dir / ATTESTATION_FILE
        shown = str(Path(self.output_dir) / ATTESTATION_FILE)
        try:
            digest = write_json(path, envelope)
        except GateError as e:  # write_json reports an OSError as a GateError
            raise AuditError(f"cannot write the attestation: {e.message}", path=shown) from e
        return {"path": shown, "sha256": digest,
                "key_id": key_id(key.public_key()), "predicate_type": "urn:gate:decision:v1"}

    def _append(self, doc: Mapping[str, Any],
                attestation: Mapping[str, Any] | None) -> dict[str, Any]:
        from gate.audit.events import check_events
        from gate.audit.store import mask

        shown = mask(self.url)
        events = check_events(doc, attestation=attestation)
        try:
            store = _open(self.url, self.cwd)
            try:
                records = store.append(events)
            finally:
                store.close()
        except AuditError as e:
            self.failure = self.failure or e
            return {"url": shown, "error": e.message}
        self.head = str(records[-1].head)
        return {"url": shown, "head": self.head, "records": [r.seq for r in records],
                "decision_sha256": events[0]["decision_sha256"]}

    def finish(self) -> None:
        """Publish the head; raise the first failure (exit 2) once the outputs are written."""
        if self.head is not None:
            publish_head(self.head, self.url, self.env)
        if self.failure is not None:
            raise self.failure


def check_hook(*, cwd: Path, out_dir: Path, output_dir: str,
               env: Mapping[str, str]) -> CheckAudit | None:
    """The hook `gate check` passes to write_outputs, or None when auditing is off."""
    opts = settings()
    if not (opts.ledger or opts.attest_key):
        return None
    return CheckAudit(opts, cwd=cwd, out_dir=out_dir, output_dir=output_dir, env=env)


def append_event(url: str, event: Mapping[str, Any], *, cwd: Path) -> str:
    """Append one event; its head (``SEQ:SHA256``). AuditError when it cannot."""
    store = _open(url, cwd)
    try:
        rec = store.append([event])[-1]
    finally:
        store.close()
    return str(rec.head)


def rollout_hook(doc: Mapping[str, Any], decision_sha256: str,
                 inputs: list[Mapping[str, Any]], *, cwd: Path,
                 env: Mapping[str, str]) -> None:
    """After `gate rollout` wrote rollout-decision.json: append its judgement (if asked)."""
    url = settings().ledger
    if not url:
        return
    from gate.audit.events import rollout_event

    head = append_event(url, rollout_event(doc, decision_sha256, inputs), cwd=cwd)
    publish_head(head, url, env)


class StepAudit:
    """`gate rollback --execute`'s hook: a record at each step's start and with its result."""

    def __init__(self, url: str, plan: Mapping[str, Any], plan_sha256: str, *, cwd: Path,
                 env: Mapping[str, str]) -> None:
        from gate import ci as ci_mod

        self.url, self.plan, self.sha, self.cwd, self.env = url, plan, plan_sha256, cwd, env
        self.ci = ci_mod.detect(env)
        self.head: str | None = None

    def __call__(self, kind: str, step: int, detail: Mapping[str, Any]) -> None:
        from gate.audit.events import rollback_event

        self.head = append_event(self.url, rollback_event(
            f"rollback.{kind}", self.plan, self.sha, step, detail, self.ci), cwd=self.cwd)

    def finish(self) -> None:
        if self.head is not None:
            publish_head(self.head, self.url, self.env)


def rollback_hook(plan: Mapping[str, Any], plan_sha256: str, *, cwd: Path,
                  env: Mapping[str, str]) -> StepAudit | None:
    url = settings().ledger
    return StepAudit(url, plan, plan_sha256, cwd=cwd, env=env) if url else None
