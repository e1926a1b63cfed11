"""`gate check` end to end: manifest -> bundle -> input document -> engines -> decision.

Data flows one way. ``run_check`` never lets a GateError escape: it returns a
CheckReport carrying the error (with whatever was known by then), so the
caller can still write decision.json before failing closed with exit 2.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from gate import ci as ci_mod
from gate.decision import CheckReport, Decision, Finding, RuleResult
from gate.documents import FileRecord
from gate.engines import EngineChoice, EngineOptions, PolicyEngine, choose_engine, get_engine
from gate.engines.results import RuleSite, findings_from, rule_kind, rule_sites
from gate.errors import DocumentError, GateError, UsageError
from gate.governance.trusted import (
    GitRef,
    Governance,
    PinnedTree,
    TrustedSource,
    resolve_governance,
)
from gate.manifest import Manifest, find_manifest, load_manifest
from gate.policy.selection import load_policies
from gate.policy.source import Module
from gate.schemas import validate
from gate.waivers import apply_enforcement, apply_waivers, load_signoff, load_waivers


@dataclass(frozen=True)
class CheckOptions:
    """Everything `gate check` was asked to do, parsed once by the CLI."""

    config: str | None = None
    policy_paths: tuple[str, ...] = ()  # replace the manifest's policies (relative to cwd)
    data_paths: tuple[str, ...] = ()  # add to the manifest's data (relative to cwd)
    namespaces: tuple[str, ...] = ()
    output_dir: str = "gate-report"
    fail_on_warn: bool = False
    engine: str | None = None  # None: the manifest's `engine:`, else the best one installed
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    cwd: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict)
    today: date | None = None  # waiver expiry is judged against this UTC day (tests freeze it)
    # Governance from where the change cannot write (gate.governance.trusted).
    trusted_ref: str | None = None
    trusted_bundle: str | None = None
    trusted_sha256: str | None = None


@dataclass(frozen=True)
class PolicyRun:
    """What the policies said about one input document."""

    findings: list[Finding]
    sites: list[RuleSite]
    modules: list[Module]
    engine: dict[str, str]


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = (time.perf_counter() - start) * 1000


def build_input(
    manifest: Manifest,
    *,
    ci: Mapping[str, Any],
    validations: Sequence[Mapping[str, Any]] = (),
    bundle: Mapping[str, Any] | None = None,
    drift: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The input document (`gate schema input`), validated against input.schema.json.

    ``drift`` (gate.drift) becomes ``input.drift``, present only when the manifest has checks.
    """
    if bundle is None:
        from gate.bundle import load_bundle  # keeps this module light to import

        bundle = load_bundle(manifest)
    doc: dict[str, Any] = {
        **bundle,
        "validations": [dict(v) for v in validations],
        "rollout": manifest.rollout,
        "rollback": manifest.raw.get("rollback"),
        "sources": sources(manifest),
        "ci": dict(ci),
    }
    if drift:  # --- drift hook (gate.drift): one key, only for manifests with drift checks
        doc["drift"] = [dict(d) for d in drift]
    validate(doc, "input", path=manifest.path.name, what="the input document built from the bundle",
             error=DocumentError)
    return doc


def sources(manifest: Manifest) -> dict[str, str | None]:
    """``input.sources``: the file gate.yaml names for each source, for finding locations."""
    return {
        "manifest": manifest.path.name,
        "card": manifest.card,
        "lineage": manifest.lineage,
        "report": manifest.report,
        "baseline": manifest.baseline,
        "exceptions": manifest.exceptions,
    }


def evaluate_policies(
    manifest: Manifest,
    input_doc: Mapping[str, Any],
    *,
    policy_paths_cli: Sequence[str] = (),
    data_paths_cli: Sequence[str] = (),
    namespaces: Sequence[str] = (),
    engine: EngineChoice | None = None,
    engine_options: EngineOptions | None = None,
    cwd: Path | None = None,
) -> PolicyRun:
    """Compile the run's policies and data, evaluate every rule the output contract reads.

    Enforcement levels from the manifest are settled before any Rego exception
    rule waives a finding.
    """
    choice = engine or choose_engine(manifest.engine)
    modules, data = load_policies(manifest, policy_paths_cli=policy_paths_cli,
                                  data_paths_cli=data_paths_cli, cwd=cwd)
    sites = rule_sites(modules, namespaces=namespaces)
    runner = PREPARED.engine(choice.name, engine_options or EngineOptions(), modules, data)
    done = False
    try:
        values = runner.evaluate([s.ref for s in sites], input_doc)
        info = engine_info(choice, runner.version())
        done = True
    finally:
        PREPARED.release(runner, failed=not done)

    def enforce(findings: list[Finding]) -> list[Finding]:
        return apply_enforcement(findings, manifest.enforcement, manifest.path.name)

    return PolicyRun(findings_from(sites, values, enforce), sites, modules, info)


class PreparedEngines:
    """Compiled policies, reused: a run over many bundles that share a policy set compiles
    it once. In-process engines only (a server engine's uploads are cleaned up at once),
    and a few at a time; an engine that failed is never reused."""

    REUSABLE = frozenset({"opa-go", "regorus", "differential"})

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._engines: dict[tuple[Any, ...], PolicyEngine] = {}

    @staticmethod
    def _key(name: str, options: EngineOptions, modules: Sequence[Module],
             data: Mapping[str, Any]) -> tuple[Any, ...]:
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
        return (name, options.eval_timeout_s, tuple((m.path, m.sha256) for m in modules),
                digest.hexdigest())

    @staticmethod
    def _fresh(name: str, options: EngineOptions, modules: Sequence[Module],
               data: Mapping[str, Any]) -> PolicyEngine:
        runner = get_engine(name, options)
        try:
            runner.prepare(modules, data)
        except BaseException:
            runner.close()
            raise
        return runner

    def engine(self, name: str, options: EngineOptions, modules: Sequence[Module],
               data: Mapping[str, Any]) -> PolicyEngine:
        if name not in self.REUSABLE:
            return self._fresh(name, options, modules, data)
        key = self._key(name, options, modules, data)
        cached = self._engines.pop(key, None)
        runner = cached if cached is not None else self._fresh(name, options, modules, data)
        self._engines[key] = runner  # most recently used last
        while len(self._engines) > self.size:
            oldest = next(iter(self._engines))
            self._engines.pop(oldest).close()
        return runner

    def release(self, runner: PolicyEngine, *, failed: bool = False) -> None:
        """Done with ``runner``: a server engine is closed now, a cached one kept."""
        if runner.name not in self.REUSABLE or failed:
            for key, cached in list(self._engines.items()):
                if cached is runner:
                    del self._engines[key]
            runner.close()

    def clear(self) -> None:
        for runner in self._engines.values():
            runner.close()
        self._engines.clear()


PREPARED = PreparedEngines()


def engine_info(choice: EngineChoice, version: str) -> dict[str, str]:
    """decision.json's ``engine``: which engine ran, its version, and why it was chosen."""
    info = {"name": choice.name, "version": version, "requested": choice.requested}
    if choice.fallback:
        info["fallback"] = choice.fallback
    return info


def _rule_results(sites: Sequence[RuleSite], findings: Sequence[Finding]) -> list[RuleResult]:
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    return [
        RuleResult(s.id, s.rule, kind, s.title, s.file, s.line, tuple(by_rule.get(s.rule, ())),
                   description=s.description, remediation=s.remediation)
        for s in sites
        if (kind := rule_kind(s.name)) is not None
    ]


def run_check(opts: CheckOptions) -> CheckReport:
    """Run the whole gate; errors come back inside the report (never raised)."""
    timer = _Timer()
    started = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ci = ci_mod.detect(opts.env)
    report = CheckReport(model={}, decision=None, ci=ci, created_at=created,
                         output_dir=opts.output_dir)
    manifest: Manifest | None = None
    gov: Governance | None = None
    try:
        with timer.stage("manifest"):
            manifest = load_manifest(find_manifest(opts.config, opts.cwd))
            gov = resolve_governance(manifest, trusted_source(opts, manifest))
        report = replace(report, manifest=str(manifest.path.name), root=str(manifest.root),
                         model={"name": manifest.model_name, "version": manifest.model_version})
        # Every run builds the plan, passing or not (nothing runs, no secret is read): a
        # broken rollback section fails the run that introduced it, not the day it is needed.
        _plan(manifest, [], ci)
        validations: list[dict[str, Any]] = []
        gx_findings: list[Finding] = []
        if manifest.validations:
            with timer.stage("validations"):
                from gate.validations import run_validations  # lazy: GX is heavy

                validations, gx_findings = run_validations(manifest)
        with timer.stage("bundle"):  # drift hook (gate.drift): input.drift, timed on its own too
            input_doc = build_input(manifest, ci=ci, validations=validations,
                                    drift=_drift(manifest, timer))
        governing = gov.manifest  # policies, data, waivers: trusted when a source is given
        with timer.stage("policies"):
            run = evaluate_policies(
                governing, input_doc, policy_paths_cli=opts.policy_paths,
                data_paths_cli=opts.data_paths, namespaces=opts.namespaces,
                engine=choose_engine(opts.engine or governing.engine),
                engine_options=opts.engine_options, cwd=opts.cwd,
            )
        if not run.modules and not manifest.validations:
            raise UsageError(
                "no Rego policies were found, so nothing was checked",
                path=manifest.path.name,
                hint="add policies (default folder: policies/ next to gate.yaml) or name "
                "them with `policies:` / --policy; a gate with no rules never passes",
            )
        with timer.stage("waivers"):
            # The policies' findings were enforced before their Rego exceptions were applied
            # (evaluate_policies); applying the levels twice would judge a raised level as
            # one the manifest lowers.
            findings = run.findings + apply_enforcement(gx_findings + gov.findings,
                                                        governing.enforcement,
                                                        manifest.path.name)
            findings, waiver_notes = apply_waivers(
                findings, load_waivers(governing), signoff=load_signoff(governing),
                model=manifest.model_name,
                version=manifest.model_version,
                today=opts.today or datetime.now(timezone.utc).date(),
            )
        decision = Decision.of(findings, fail_on_warn=opts.fail_on_warn)
        plan = None
        if decision.blocks:
            plan = _plan(manifest, decision.blocking, ci)
        timer.ms["total"] = (time.perf_counter() - started) * 1000
        return replace(
            report,
            decision=decision,
            rollback_plan={"plan": plan} if plan else None,
            notes=[*waiver_notes, *_notes(manifest, plan)],
            rules=_rule_results(run.sites, findings),
            validations=validations,
            inputs=_inputs(manifest, gov),
            engine=run.engine,
            timings_ms=timer.ms,
            governance=gov.to_json(),
        )
    except GateError as e:
        timer.ms["total"] = (time.perf_counter() - started) * 1000
        inputs = _inputs(manifest, gov) if manifest else []
        plan = None
        if manifest is not None:
            # Fail closed: an error blocks the deploy like a failure, so the deploy
            # job still gets a plan. The plan itself may be what is broken.
            reason = Finding(id="gate.error", kind="failure", rule="gate.error",
                             message=e.render().splitlines()[0], severity="critical")
            try:
                plan = _plan(manifest, [reason], ci)
            except GateError:
                plan = None
        return replace(report, error=e, inputs=inputs, timings_ms=timer.ms,
                       rollback_plan={"plan": plan} if plan else None,
                       governance=gov.to_json() if gov else {})
    finally:
        if gov is not None:
            gov.close()


def _drift(manifest: Manifest, timer: _Timer) -> list[dict[str, Any]]:
    """--- drift hook: ``input.drift`` when gate.yaml has drift checks (gate.drift), timed."""
    if not manifest.drift:
        return []
    with timer.stage("drift"):
        from gate.drift import run_drift  # lazy: numpy and the engines

        return run_drift(manifest)


def trusted_source(opts: CheckOptions, manifest: Manifest) -> TrustedSource | None:
    """The trusted source the options name, if any (a git ref, or a pinned bundle)."""
    if opts.trusted_ref and opts.trusted_bundle:
        raise UsageError("--trusted-ref and --trusted-bundle name two trusted sources",
                         hint="choose one")
    if opts.trusted_ref:
        return GitRef(manifest.root, opts.trusted_ref)
    if opts.trusted_bundle:
        if not opts.trusted_sha256:
            raise UsageError("--trusted-bundle needs --trusted-sha256",
                             hint="pin the bundle's digest in the CI configuration")
        return PinnedTree((opts.cwd / opts.trusted_bundle).resolve(), opts.trusted_sha256)
    return None


def _inputs(manifest: Manifest, gov: Governance | None) -> list[FileRecord]:
    """Every file read: the change's, then the trusted ones (named ``trusted:<path>``)."""
    records = list(manifest.files.records.values())
    if gov is not None and gov.manifest is not manifest:
        records += [replace(r, path=f"trusted:{r.path}")
                    for r in gov.manifest.files.records.values()]
    return records


def _plan(manifest: Manifest, reasons: Sequence[Finding], ci: Mapping[str, Any]) -> dict[str, Any]:
    from gate.rollback.plan import build_plan

    return build_plan(model_name=manifest.model_name, model_version=manifest.model_version,
                      rollback=manifest.rollback, reasons=reasons, trigger="check", ci=ci,
                      source=manifest.path)


def _notes(manifest: Manifest, plan: Mapping[str, Any] | None) -> list[str]:
    notes = []
    if plan is not None and "target" not in manifest.rollback:
        notes.append("gate.yaml has no rollback.target: the rollback plan cannot name the "
                     "version to return to; add `rollback: {target: {version: ...}}`")
    if plan is not None and not plan["steps"]:
        notes.append("gate.yaml has no rollback.steps: the rollback plan has nothing to run")
    return notes
