"""Adversarial sweep: hostile variants of every input gate reads, each run for real.

For every input (gate.yaml, model card, lineage, evaluation report and
baseline, exceptions, policy data and policies, artifacts, a finding's _loc,
rollback plan, rollback journal, rollout samples and state) the sweep writes
hostile variants — duplicate keys, YAML 1.1 numbers, NaN/Infinity, huge
numbers, deep nesting, alias bombs, custom tags, invisible text, non-UTF-8,
named pipes, devices, symlink escapes, ``..``, absolute paths, empty and
oversized files — runs ``gate check`` / ``gate rollback`` (dry run and
--execute) / ``gate rollout`` on each in a fresh process with a timeout, and
counts:

* wrong passes: exit 0 where a refusal was expected (the base bundles pass,
  so a hostile input that is silently ignored shows up as a pass);
* escapes: a file or folder outside the case's bundle was opened (watched with
  inotify on a canary folder beside each bundle that hostile paths point to);
* hangs: no exit within the timeout;
* tracebacks: a Python traceback or "internal error" on stderr.

It exits 1 on any of them. "Mismatches" (exit 1 where exit 2 was expected:
the deploy is blocked, but by a finding rather than a refusal) are reported
and do not fail the sweep.

  .venv/bin/python benchmarks/adversarial_sweep.py [--jobs 3] [--timeout 20] [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROLLOUT_EXAMPLE = ROOT / "examples" / "rollout"

# --- inotify: did gate open anything outside the bundle? -------------------------------

_IN_ACCESS, _IN_OPEN = 0x1, 0x20
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, 0o2000000
_libc = ctypes.CDLL(None, use_errno=True)


class Watch:
    """Report whether anything under ``folder`` was opened or read while it was watched."""

    def __init__(self, folder: Path) -> None:
        self.fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for path in [folder, *[p for p in folder.rglob("*") if p.is_dir()
                               and not p.is_symlink()]]:
            if _libc.inotify_add_watch(self.fd, os.fsencode(path), _IN_OPEN | _IN_ACCESS) < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")

    def touched(self) -> bool:
        try:
            return bool(os.read(self.fd, 65536))
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


# --- cases ----------------------------------------------------------------------------------

Setup = Callable[["Ctx"], "list[str] | None"]


@dataclass
class Ctx:
    case: Path  # the case's folder
    bundle: Path  # the bundle folder (cwd of the command)
    outside: Path  # canary folder beside the bundle: hostile paths point here

    def write(self, rel: str, data: str | bytes) -> Path:
        path = self.bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if path.is_symlink() or path.exists():
            path.unlink()
        path.write_bytes(data)
        return path

    def replace(self, rel: str, old: str, new: str) -> None:
        path = self.bundle / rel
        text = path.read_text("utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1), "utf-8")

    def append(self, rel: str, text: str) -> None:
        with (self.bundle / rel).open("a", encoding="utf-8") as fh:
            fh.write(text)

    def fifo(self, rel: str) -> None:
        path = self.bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.mkfifo(path)

    def link(self, rel: str, target: str | Path) -> None:
        path = self.bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        path.symlink_to(target)

    def nest(self, rel: str, levels: int, leaf: str, data: bytes) -> None:
        here = os.getcwd()
        folder = self.bundle / rel
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            for _ in range(levels):  # relative steps: an absolute path this deep is too long
                os.mkdir("a", dir_fd=fd)
                new = os.open("a", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = new
            leaf_fd = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(leaf_fd, data)
            os.close(leaf_fd)
        finally:
            os.close(fd)
            os.chdir(here)


@dataclass
class Case:
    name: str
    command: str  # check | rollback | execute | rollout
    setup: Setup
    expect: str = "error"  # error: exit 2; block: exit 1 or 2 (never 0)
    result: dict[str, Any] = field(default_factory=dict)


SECRET_YAML = "a: 1\nb: 2\nfloors: {accuracy: 0.1}\npassword_hint: canary-7f3a\n"
SECRET_JSON = '{"metrics": {"accuracy": 0.99}, "password_hint": "canary-7f3a"}\n'
CANARY = "canary-7f3a"

GATE_YAML = """version: 1
model:
  name: tiny
  version: 1.1.0
  artifacts: [model/]
  card: card.yaml
lineage: lineage.json
evaluation:
  report: reports/eval.json
  baseline: reports/base.json
library: [model_card, lineage, evaluation]
policies: [policies/]
data: [policies/data/]
exceptions: exceptions.yaml
rollback:
  target: {version: 1.0.0}
  steps:
    - {name: route, run: ["true"], timeout: 10s}
"""

CARD = """license: apache-2.0
owners: [ml@example.com]
intended_use: Score transactions for review.
limitations: Trained on 2025 data only.
training_data: transactions 2025
"""

LINEAGE = {
    "run": {"id": "r1"},
    "code": {"commit": "1c9e4b7a2d3f5e6a8b0c1d2e3f4a5b6c7d8e9f01"},
    "datasets": [
        {"name": "train", "role": "train", "uri": "s3://d/train.parquet", "sha256": "a" * 64},
        {"name": "test", "role": "test", "uri": "s3://d/test.parquet", "sha256": "b" * 64},
    ],
    "outputs": [],
}

POLICY = """package release

import rego.v1

# METADATA
# title: Accuracy floor
# custom:
#   id: REL-001
#   severity: critical
deny_accuracy contains msg if {
	input.evaluation.metrics.accuracy < data.floors.accuracy
	msg := sprintf("accuracy below %v", [data.floors.accuracy])
}

# The data document must be read: without it there is no floor, and no pass.
deny_no_floor contains "no accuracy floor in the data" if not data.floors.accuracy
"""

LOC_POLICY = """package loc

import rego.v1

# METADATA
# title: Always points somewhere
# custom:
#   id: LOC-001
#   severity: high
deny_here contains {"msg": "look here", "_loc": data.loc} if true
"""

EXCEPTIONS = """exceptions:
  - rule: REL-001
    reason: accepted while the new data set is labelled (TICKET-1)
    approved_by: head-of-risk@example.com
    expires: 2099-12-31
"""


def make_check_bundle(ctx: Ctx) -> None:
    ctx.write("gate.yaml", GATE_YAML)
    ctx.write("card.yaml", CARD)
    ctx.write("lineage.json", json.dumps(LINEAGE, indent=1))
    ctx.write("reports/eval.json", '{\n  "metrics": {\n    "accuracy": 0.9\n  }\n}\n')
    ctx.write("reports/base.json", '{"model_version": "1.0.0", "metrics": {"accuracy": 0.89}}\n')
    ctx.write("policies/release.rego", POLICY)
    ctx.write("policies/data/floors.yaml", "floors:\n  accuracy: 0.8\n")
    ctx.write("exceptions.yaml", EXCEPTIONS)
    ctx.write("model/weights.bin", b"\x00\x01weights")
    ctx.write("model/tokenizer/vocab.txt", "a\nb\n")


PLAN_STEPS = [{"name": "route", "kind": "run", "run": ["true"], "timeout_s": 10, "retries": 0,
               "backoff_s": 1}]


def make_plan(ctx: Ctx) -> None:
    """A valid plan, as gate check writes it for a blocked run of the check bundle."""
    make_check_bundle(ctx)
    ctx.replace("policies/data/floors.yaml", "0.8", "0.95")
    ctx.replace("exceptions.yaml", "rule: REL-001", "rule: OTHER-001")  # let it block
    subprocess.run([*GATE, "check", "--output-dir", str(ctx.case / "plan-out")], cwd=ctx.bundle,
                   capture_output=True, env=ENV, timeout=60, check=False)
    plan = ctx.case / "plan-out" / "rollback-plan.json"
    shutil.copy(plan, ctx.bundle / "plan.json")


def make_rollout_bundle(ctx: Ctx) -> None:
    shutil.rmtree(ctx.bundle)
    shutil.copytree(ROLLOUT_EXAMPLE, ctx.bundle, ignore=shutil.ignore_patterns("gate-report"))
    shutil.copy(ctx.bundle / "monitoring" / "canary-5-35m.json", ctx.bundle / "samples.json")


# Values written into documents
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))
DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_YAML = "x: " + "[" * 5000 + "]" * 5000 + "\n"
INVISIBLE = ["\u200b\u200b", "\u3164", "\u2800", "\u0301", "\u2060\ufeff", "\u00a0\u3000"]


def _check_cases() -> list[Case]:  # noqa: PLR0915  # one list, read top to bottom
    cases: list[Case] = []

    def add(name: str, setup: Callable[[Ctx], Any], expect: str = "error") -> None:
        cases.append(Case(name, "check", setup, expect))

    # gate.yaml
    add("manifest: duplicate top-level key", lambda c: c.append("gate.yaml", "library: false\n"))
    add("manifest: duplicate nested key",
        lambda c: c.replace("gate.yaml", "  version: 1.1.0\n", "  version: 1.1.0\n  version: 2\n"))
    add("manifest: duplicate key after merge",
        lambda c: c.replace("gate.yaml", "rollback:\n", "x: &x {a: 1}\ny: {<<: *x, b: 1, b: 2}\n"
                            "rollback:\n"))
    add("manifest: '1' and 1 as keys", lambda c: c.append("gate.yaml", "1: a\n'1': b\n"))
    add("manifest: octal timeout",
        lambda c: c.replace("gate.yaml", "timeout: 10s", "timeout: 010"))
    add("manifest: sexagesimal version",
        lambda c: c.replace("gate.yaml", "version: 1.1.0", "version: 1:30"))
    add("manifest: 1_000 underscore number",
        lambda c: c.replace("gate.yaml", "timeout: 10s", "timeout: 1_000"))
    add("manifest: python tag",
        lambda c: c.append("gate.yaml", "x: !!python/object:os.system {}\n"))
    add("manifest: custom tag", lambda c: c.append("gate.yaml", "x: !vault secret\n"))
    add("manifest: binary tag", lambda c: c.append("gate.yaml", "x: !!binary aGVsbG8=\n"))
    add("manifest: set tag", lambda c: c.append("gate.yaml", "x: !!set {a, b}\n"))
    add("manifest: timestamp tag", lambda c: c.append("gate.yaml", "x: !!timestamp 2020-01-01\n"))
    add("manifest: alias bomb", lambda c: c.append("gate.yaml", BOMB))
    add("manifest: recursive alias", lambda c: c.append("gate.yaml", "x: &r [*r]\n"))
    add("manifest: deep nesting", lambda c: c.append("gate.yaml", DEEP_YAML))
    add("manifest: .nan", lambda c: c.append("gate.yaml", "x: .nan\n"))
    add("manifest: huge integer", lambda c: c.append("gate.yaml", "x: " + "9" * 5000 + "\n"))
    add("manifest: non-UTF-8", lambda c: c.write(
        "gate.yaml", (c.bundle / "gate.yaml").read_bytes() + b"x: \xff\n"))
    add("manifest: empty", lambda c: c.write("gate.yaml", ""))
    add("manifest: a named pipe", lambda c: c.fifo("gate.yaml"))
    add("manifest: oversized", lambda c: os.truncate(c.bundle / "gate.yaml", 65 << 20))
    add("manifest: bool as key 'yes'", lambda c: c.append("gate.yaml", "library: yes\n"))
    add("manifest: card absolute path",
        lambda c: c.replace("gate.yaml", "card: card.yaml", f"card: {c.outside / 'secret.yaml'}"))
    add("manifest: report ../ escape",
        lambda c: c.replace("gate.yaml", "report: reports/eval.json",
                            "report: ../outside/secret.json"))
    add("manifest: data folder absolute",
        lambda c: c.replace("gate.yaml", "data: [policies/data/]", f"data: [{c.outside}]"))
    add("manifest: policies ../ escape",
        lambda c: c.replace("gate.yaml", "policies: [policies/]", "policies: [../outside/]"))
    add("manifest: artifact /dev/zero",
        lambda c: c.replace("gate.yaml", "artifacts: [model/]", "artifacts: [/dev/zero]"))
    add("manifest: artifact NUL byte",
        lambda c: c.replace("gate.yaml", "artifacts: [model/]", 'artifacts: ["model\\0x"]'))

    # model card
    for name, text in [
        ("duplicate key", CARD + "license: mit\n"),
        ("octal value", CARD + "x: 012\n"),
        ("alias bomb", CARD + BOMB),
        ("deep nesting", CARD + DEEP_YAML),
        ("lone surrogate", CARD + 'x: "\\ud800"\n'),
        ("infinity", CARD + "x: -.inf\n"),
        ("custom tag", CARD + "x: !!python/name:os.system\n"),
    ]:
        add(f"card: {name}", lambda c, t=text: c.write("card.yaml", t))
    add("card: non-UTF-8", lambda c: c.write("card.yaml", CARD.encode() + b"x: \xfe\xff\n"))
    add("card: a named pipe", lambda c: c.fifo("card.yaml"))
    add("card: symlink out of the bundle", lambda c: c.link("card.yaml", c.outside / "secret.yaml"))
    add("card: symlink to /dev/zero", lambda c: c.link("card.yaml", "/dev/zero"))
    add("card: markdown front matter never closed",
        lambda c: (c.write("card.md", "---\n" + CARD),
                   c.replace("gate.yaml", "card: card.yaml", "card: card.md")))
    for i, text in enumerate(INVISIBLE):
        add(f"card: invisible license {i}",
            lambda c, t=text: c.replace("card.yaml", "license: apache-2.0",
                                        f"license: {json.dumps(t)}"), "block")

    # lineage
    lineage = json.dumps(LINEAGE, indent=1)
    for name, text in [
        ("duplicate key", lineage.replace('"run": {', '"code": {"commit": "x"},\n "run": {', 1)),
        ("NaN", lineage.replace('"outputs": []', '"outputs": [], "x": NaN')),
        ("Infinity", lineage.replace('"outputs": []', '"outputs": [], "x": -Infinity')),
        ("1e999", lineage.replace('"outputs": []', '"outputs": [], "x": 1e999')),
        ("huge integer", lineage.replace('"outputs": []', '"outputs": [], "x": ' + "9" * 400)),
        ("lone surrogate", lineage.replace('"r1"', '"\\udc00"')),
        ("deep nesting", DEEP_JSON),
        ("duplicate key via escape", lineage.replace('"run": {', '"\\u0072un": {}, "run": {', 1)),
        ("JSON lines with a duplicate", '{"eventType": "START", "eventType": "COMPLETE"}\n{}\n'),
    ]:
        add(f"lineage: {name}", lambda c, t=text: c.write("lineage.json", t))
    add("lineage: non-UTF-8", lambda c: c.write("lineage.json", b'{"run": "\xc3\x28"}'))
    add("lineage: a named pipe", lambda c: c.fifo("lineage.json"))
    add("lineage: oversized", lambda c: os.truncate(c.bundle / "lineage.json", 65 << 20))
    add("lineage: symlink out of the bundle",
        lambda c: c.link("lineage.json", c.outside / "secret.json"))
    for i, text in enumerate(INVISIBLE[:3]):
        add(f"lineage: invisible commit {i}",
            lambda c, t=text: c.replace("lineage.json", LINEAGE["code"]["commit"],
                                        json.dumps(t)[1:-1]), "block")
        add(f"lineage: invisible dataset uri {i}",
            lambda c, t=text: c.replace("lineage.json", "s3://d/train.parquet",
                                        json.dumps(t)[1:-1]), "block")

    # evaluation report and baseline
    for rel in ("reports/eval.json", "reports/base.json"):
        short = rel.split("/")[1]
        for name, text in [
            ("duplicate metric", '{"metrics": {"accuracy": 0.1, "accuracy": 0.95}}'),
            ("NaN", '{"metrics": {"accuracy": NaN}}'),
            ("Infinity", '{"metrics": {"accuracy": Infinity}}'),
            ("1e999", '{"metrics": {"accuracy": 1e999}}'),
            ("-1e999", '{"metrics": {"accuracy": -1e999}}'),
            ("huge integer", '{"metrics": {"accuracy": 1' + "0" * 400 + "}}"),
            ("string metric", '{"metrics": {"accuracy": "0.99"}}'),
            ("boolean metric", '{"metrics": {"accuracy": true}}'),
            ("lone surrogate", '{"metrics": {"\\ud800": 0.9}}'),
            ("deep nesting", DEEP_JSON),
            ("empty", ""),
        ]:
            add(f"{short}: {name}", lambda c, r=rel, t=text: c.write(r, t))
        add(f"{short}: a named pipe", lambda c, r=rel: c.fifo(r))
        add(f"{short}: symlink out", lambda c, r=rel: c.link(r, c.outside / "secret.json"))
        add(f"{short}: symlink to /dev/urandom", lambda c, r=rel: c.link(r, "/dev/urandom"))
        add(f"{short}: oversized", lambda c, r=rel: os.truncate(c.bundle / r, 65 << 20))
    add("eval.yaml: octal metric", lambda c: (
        c.write("reports/eval.yaml", "metrics:\n  accuracy: 012\n"),
        c.replace("gate.yaml", "report: reports/eval.json", "report: reports/eval.yaml")))
    add("eval.md: model-index 1e999", lambda c: (
        c.write("reports/card.md", "---\nmodel-index:\n- name: m\n  results:\n  - metrics:\n"
                "    - type: accuracy\n      value: 1e999\n---\n"),
        c.replace("gate.yaml", "report: reports/eval.json", "report: reports/card.md")))

    def mlflow(c: Ctx) -> None:
        c.write("run/metrics/accuracy", "1700000000000 0.9 0\n")
        c.replace("gate.yaml", "report: reports/eval.json", "report: run")

    add("mlflow: 1,100-level nested metrics", lambda c: (
        mlflow(c), c.nest("run/metrics", 1100, "auc", b"1700000000000 0.5 0\n")))
    add("mlflow: metric file is a named pipe", lambda c: (mlflow(c), c.fifo("run/metrics/auc")))
    add("mlflow: metric symlink out", lambda c: (
        mlflow(c), c.link("run/metrics/auc", c.outside / "metric")))
    add("mlflow: metric folder symlink out", lambda c: (
        mlflow(c), c.link("run/metrics/sub", c.outside)))
    add("mlflow: nan value", lambda c: (mlflow(c), c.write("run/metrics/auc", "1 nan 0\n")))
    add("mlflow: inf value", lambda c: (mlflow(c), c.write("run/metrics/auc", "1 inf 0\n")))
    add("mlflow: meta.yaml duplicate key", lambda c: (
        mlflow(c), c.write("run/meta.yaml", "run_id: a\nrun_id: b\n")))

    # exceptions
    for i, text in enumerate(INVISIBLE):
        add(f"exceptions: invisible reason {i}", lambda c, t=text: c.replace(
            "exceptions.yaml", "reason: accepted while the new data set is labelled (TICKET-1)",
            f"reason: {json.dumps(t)}"))
        add(f"exceptions: invisible approver {i}", lambda c, t=text: c.replace(
            "exceptions.yaml", "approved_by: head-of-risk@example.com",
            f"approved_by: {json.dumps(t)}"))
    add("exceptions: approver with a zero-width space", lambda c: c.replace(
        "exceptions.yaml", "head-of-risk@example.com", '"head-of-risk@exam\\u200bple.com"'))
    add("exceptions: approver with a bidi override", lambda c: c.replace(
        "exceptions.yaml", "head-of-risk@example.com", '"\\u202emoc.elpmaxe@ksir"'))
    add("exceptions: duplicate rule key", lambda c: c.replace(
        "exceptions.yaml", "  - rule: REL-001\n", "  - rule: REL-001\n    rule: '*'\n"))
    add("exceptions: expires not a date", lambda c: c.replace(
        "exceptions.yaml", "2099-12-31", "2099-02-30"))
    add("exceptions: a named pipe", lambda c: c.fifo("exceptions.yaml"))
    add("exceptions: symlink out", lambda c: c.link("exceptions.yaml", c.outside / "secret.yaml"))

    # policy data
    data = "policies/data"
    for name, text in [
        ("empty", ""), ("comments only", "# nothing\n"), ("null", "null\n"),
        ("duplicate key", "floors:\n  accuracy: 0.8\n  accuracy: 0.1\n"),
        ("octal floor", "floors:\n  accuracy: 012\n"),
        ("sexagesimal floor", "floors:\n  accuracy: 1:30\n"),
        ("underscore floor", "floors:\n  accuracy: 1_0\n"),
        ("nan floor", "floors:\n  accuracy: .nan\n"),
        ("inf floor", "floors:\n  accuracy: -.inf\n"),
        ("alias bomb", "floors: {accuracy: 0.8}\n" + BOMB),
        ("deep nesting", "floors: {accuracy: 0.8}\n" + DEEP_YAML),
        ("not a mapping", "- 1\n- 2\n"),
    ]:
        add(f"data: {name}", lambda c, t=text: c.write(f"{data}/floors.yaml", t))
    add("data: non-UTF-8", lambda c: c.write(f"{data}/floors.yaml", b"floors: \xff\n"))
    add("data: conflicting second document",
        lambda c: c.write(f"{data}/more.json", '{"floors": {"accuracy": 0.1}}'))
    add("data: a named pipe .yaml", lambda c: c.fifo(f"{data}/more.yaml"))
    add("data: the floors file is a named pipe", lambda c: c.fifo(f"{data}/floors.yaml"))
    add("data: dangling symlink", lambda c: c.link(f"{data}/more.yaml", "missing.yaml"))
    add("data: symlink loop", lambda c: c.link(f"{data}/loop.yaml", "loop.yaml"))
    add("data: symlink to an outside file",
        lambda c: c.link(f"{data}/floors.yaml", c.outside / "secret.yaml"))
    add("data: symlink to an outside folder", lambda c: c.link(f"{data}/sub", c.outside))
    add("data: symlink to /dev/zero", lambda c: c.link(f"{data}/zero.yaml", "/dev/zero"))
    add("data: the folder is a symlink out", lambda c: c.link(data, c.outside))
    add("data: oversized", lambda c: os.truncate(c.bundle / data / "floors.yaml", 65 << 20))

    # policies
    add("policies: a named pipe .rego", lambda c: c.fifo("policies/more.rego"))
    add("policies: dangling .rego symlink", lambda c: c.link("policies/more.rego", "gone.rego"))
    add("policies: .rego symlink out", lambda c: c.link("policies/more.rego",
                                                       c.outside / "allow.rego"))
    add("policies: subfolder symlink out", lambda c: c.link("policies/sub", c.outside))
    add("policies: empty .rego", lambda c: c.write("policies/more.rego", ""))
    add("policies: non-UTF-8 .rego", lambda c: c.write("policies/more.rego", b"package x\n#\xff\n"))
    add("policies: 40 nested folders", lambda c: c.nest("policies", 40, "x.rego",
                                                        b"package deep\n"))

    # artifacts
    add("artifacts: a named pipe", lambda c: c.fifo("model/pipe.bin"))
    add("artifacts: symlink to /dev/zero", lambda c: c.link("model/zero.bin", "/dev/zero"))
    add("artifacts: symlink out (file)", lambda c: c.link("model/x.bin", c.outside / "secret.json"))
    add("artifacts: symlink out (folder)", lambda c: c.link("model/ext", c.outside))
    add("artifacts: 100 nested folders", lambda c: c.nest("model", 100, "w.bin", b"w"))
    add("artifacts: a file name that is not UTF-8",
        lambda c: (c.bundle / "model" / os.fsdecode(b"w\xff.bin")).write_bytes(b"w"))

    # a finding's _loc: the run blocks (exit 1), never hangs, never reads outside
    def loc(target: Any) -> Callable[[Ctx], list[str]]:
        def setup(c: Ctx) -> list[str]:
            c.write("policies/loc.rego", LOC_POLICY)
            value = target(c) if callable(target) else target
            c.write(f"{data}/loc.json", json.dumps({"loc": value}))
            return ["--format", "sarif", "--format", "github", "--format", "gitlab"]
        return setup

    def fifo_loc(c: Ctx) -> dict[str, str]:
        c.fifo("fifo.json")
        return {"file": "fifo.json", "path": "$.a"}

    def link_loc(c: Ctx) -> dict[str, str]:
        c.link("inside-link.yaml", c.outside / "secret.yaml")
        return {"file": "inside-link.yaml", "path": "$.password_hint"}

    def dev_loc(c: Ctx) -> dict[str, str]:
        c.link("zero.json", "/dev/zero")
        return {"file": "zero.json", "path": "$.a"}

    for name, target in [
        ("a named pipe", fifo_loc),
        ("an absolute path", lambda c: {"file": str(c.outside / "secret.yaml"),
                                        "path": "$.password_hint"}),
        ("a ../ path", {"file": "../outside/secret.yaml", "path": "$.password_hint"}),
        ("a symlink out", link_loc),
        ("a symlink to /dev/zero", dev_loc),
        ("a string with a line", lambda c: f"{c.outside / 'secret.yaml'}:3"),
    ]:
        add(f"_loc: {name}", loc(target), "block")
    return cases


def _plan_cases() -> list[Case]:
    cases: list[Case] = []

    def plan(name: str, text: str | bytes | Callable[[Ctx], None], command: str = "rollback"
             ) -> None:
        def setup(c: Ctx) -> list[str]:
            make_plan(c)
            if callable(text):
                text(c)
            else:
                c.write("plan.json", text)
            return ["plan.json"]
        cases.append(Case(f"plan: {name}", command, setup))

    steps = json.dumps(PLAN_STEPS)
    head = '{"kind": "gate.rollback-plan", "version": 1'
    plan("two steps keys", f'{head},\n "steps": [],\n "steps": {steps}}}')
    plan("NaN timeout", f'{head}, "steps": '
         + steps.replace('"timeout_s": 10', '"timeout_s": NaN') + "}")
    plan("1e999 timeout", f'{head}, "steps": ' + steps.replace('"timeout_s": 10',
                                                                '"timeout_s": 1e999') + "}")
    plan("huge retries", f'{head}, "steps": ' + steps.replace('"retries": 0',
                                                               '"retries": ' + "9" * 400) + "}")
    plan("lone surrogate", f'{head}, "steps": ' + steps.replace('"route"', '"\\udfff"') + "}")
    plan("deep nesting", DEEP_JSON)
    plan("non-UTF-8", b'{"kind": "\xff"}')
    plan("empty", "")
    plan("a named pipe", lambda c: c.fifo("plan.json"))
    plan("symlink to /dev/zero", lambda c: c.link("plan.json", "/dev/zero"))
    plan("oversized", lambda c: os.truncate(c.bundle / "plan.json", 65 << 20))
    plan("duplicate key in a step", lambda c: c.replace(
        "plan.json", '"name": "route"', '"name": "route", "name": "other"'))

    def journal(name: str, content: bytes | None, fifo: bool = False) -> None:
        def setup(c: Ctx) -> list[str]:
            make_plan(c)
            sha = hashlib.sha256((c.bundle / "plan.json").read_bytes()).hexdigest()
            rel = f"rollback-{sha}.journal.jsonl"
            if fifo:
                c.fifo(rel)
            else:
                c.write(rel, content or b"")
            return ["plan.json", "--execute"]
        cases.append(Case(f"journal: {name}", "rollback", setup))

    journal("duplicate key", b'{"event": "start", "event": "done"}\n')
    journal("NaN", b'{"event": "start", "at": NaN}\n')
    journal("non-UTF-8", b'{"event": "\xff"}\n')
    journal("deep nesting", DEEP_JSON.encode() + b"\n")
    journal("lone surrogate", b'{"event": "\\ud800"}\n')
    journal("a named pipe", None, fifo=True)
    return cases


def _rollout_cases() -> list[Case]:
    cases: list[Case] = []

    def samples(name: str, edit: Callable[[Ctx], None]) -> None:
        def setup(c: Ctx) -> list[str]:
            make_rollout_bundle(c)
            edit(c)
            metrics = "samples.yaml" if (c.bundle / "samples.yaml").exists() else "samples.json"
            return ["--stage", "canary-5", "--metrics", metrics, "--elapsed", "35m", "-o", "out"]
        cases.append(Case(f"rollout: {name}", "rollout", setup))

    def sub(old: str, new: str) -> Callable[[Ctx], None]:
        return lambda c: c.replace("samples.json", old, new)

    samples("duplicate canary key", sub('"canary":{', '"canary":{"error_rate":[0],'))
    samples("duplicate top-level key", lambda c: c.write(
        "samples.json", (c.bundle / "samples.json").read_text()[:-1] + ', "canary": {}}'))
    samples("NaN sample", sub('"latency_ms":[', '"latency_ms":[NaN,'))
    samples("Infinity sample", sub('"latency_ms":[', '"latency_ms":[Infinity,'))
    samples("1e999 sample", sub('"latency_ms":[', '"latency_ms":[1e999,'))
    samples("huge integer sample", sub('"latency_ms":[', '"latency_ms":[' + "9" * 400 + ","))
    samples("string sample", sub('"latency_ms":[', '"latency_ms":["fast",'))
    samples("boolean sample", sub('"latency_ms":[', '"latency_ms":[true,'))
    samples("deep nesting", lambda c: c.write("samples.json", DEEP_JSON))
    samples("non-UTF-8", lambda c: c.write("samples.json", b'{"canary": "\xff"}'))
    samples("a named pipe", lambda c: c.fifo("samples.json"))
    samples("symlink to /dev/zero", lambda c: c.link("samples.json", "/dev/zero"))
    samples("oversized", lambda c: os.truncate(c.bundle / "samples.json", 65 << 20))
    samples("YAML octal sample", lambda c: c.write(
        "samples.yaml", "canary:\n  error_rate: [012]\nbaseline:\n  error_rate: [0]\n"))
    samples("reference to an outside file", sub('"latency_ms":[', '"latency_ms": "'
                                                + "../outside/secret.json" + '", "x":['))
    samples("absolute reference", lambda c: c.replace(
        "samples.json", '"latency_ms":[', f'"latency_ms": "{c.outside / "secret.json"}", "x":['))

    def state(name: str, content: bytes | None, fifo: bool = False) -> None:
        def setup(c: Ctx) -> list[str]:
            make_rollout_bundle(c)
            (c.bundle / "out").mkdir()
            if fifo:
                c.fifo("out/rollout-state.json")
            else:
                c.write("out/rollout-state.json", content or b"")
            return ["--stage", "canary-5", "--metrics", "samples.json", "--elapsed", "35m",
                    "-o", "out"]
        cases.append(Case(f"rollout state: {name}", "rollout", setup))

    state("duplicate key", b'{"kind": "gate.rollout-state", "kind": "x"}')
    state("NaN", b'{"kind": "gate.rollout-state", "version": NaN}')
    state("non-UTF-8", b'{"kind": "\xff"}')
    state("deep nesting", DEEP_JSON.encode())
    state("a named pipe", None, fifo=True)
    return cases


# --- running ------------------------------------------------------------------------------

GATE = [str(Path(sys.executable).with_name("gate"))]
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
       "LANG": "C.UTF-8", "NO_COLOR": "1", "RUST_BACKTRACE": "0"}


def _prepare(case: Case, folder: Path) -> tuple[Ctx, list[str]]:
    ctx = Ctx(folder, folder / "bundle", folder / "outside")
    ctx.bundle.mkdir(parents=True)
    ctx.outside.mkdir()
    (ctx.outside / "secret.yaml").write_text(SECRET_YAML)
    (ctx.outside / "secret.json").write_text(SECRET_JSON)
    (ctx.outside / "metric").write_text("1700000000000 0.99 0\n")
    (ctx.outside / "allow.rego").write_text("package outside\n")
    (ctx.outside / "floors.yaml").write_text("floors: {accuracy: 0.0}\n")
    if case.command == "check":
        make_check_bundle(ctx)
    made = case.setup(ctx)
    extra = made if isinstance(made, list) else []  # lambdas may return a tuple of Nones
    if case.command == "check":
        args = ["check", "--output-dir", str(folder / "out"), *extra]
    elif case.command == "rollout":
        args = ["rollout", *extra]
    else:
        args = ["rollback", *extra]
    return ctx, args


def run_case(case: Case, folder: Path, timeout: float) -> None:
    try:
        ctx, args = _prepare(case, folder)
    except Exception as e:  # noqa: BLE001  # a broken case is reported, not fatal
        case.result = {"setup_error": f"{type(e).__name__}: {e}"}
        return
    watch = Watch(ctx.outside)
    start = time.monotonic()
    proc = subprocess.Popen([*GATE, *args], cwd=ctx.bundle, env=ENV, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    elapsed = time.monotonic() - start
    touched = watch.touched()
    watch.close()
    text = (out + err).decode("utf-8", "replace")
    case.result = {
        "exit": code, "seconds": round(elapsed, 2), "escape": touched or CANARY in text,
        "traceback": "Traceback (most recent call last)" in text or "internal error" in text,
        "stderr": err.decode("utf-8", "replace").strip().splitlines()[:3],
    }


def verdict(case: Case) -> list[str]:
    r = case.result
    if "setup_error" in r:
        return ["setup"]
    problems = []
    if r["exit"] is None:
        problems.append("hang")
    if r["exit"] == 0:
        problems.append("wrong pass")
    if r["escape"]:
        problems.append("escape")
    if r["traceback"]:
        problems.append("traceback")
    if case.expect == "error" and r["exit"] not in (2, None, 0):
        problems.append("mismatch")
    return problems


def baselines(tmp: Path, timeout: float) -> list[str]:
    """The unmodified bundles must pass, or no wrong pass could be seen."""
    broken = []
    for n, (name, command, setup) in enumerate([
        ("check", "check", lambda c: None),
        ("rollback dry run", "rollback", lambda c: (make_plan(c), ["plan.json"])[1]),
        ("rollback --execute", "rollback",
         lambda c: (make_plan(c), ["plan.json", "--execute"])[1]),
        ("rollout", "rollout", lambda c: (make_rollout_bundle(c), [
            "--stage", "canary-5", "--metrics", "samples.json", "--elapsed", "35m", "-o",
            "out"])[1]),
    ]):
        case = Case(f"baseline {name}", command, setup)
        run_case(case, tmp / f"baseline-{n}", timeout)
        if case.result.get("exit") != 0:
            broken.append(f"{case.name}: {case.result}")
    # A control for the escape detector: --data may name a file outside the bundle,
    # and reading it must be seen, or "0 escapes" would prove nothing.
    control = Case("control: --data outside the bundle", "check",
                   lambda c: ["--data", str(c.outside / "floors.yaml")])
    run_case(control, tmp / "control", timeout)
    if not control.result.get("escape"):
        broken.append(f"{control.name} was not seen reading outside: {control.result}")
    return broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("-k", dest="keyword", default="")
    parser.add_argument("--keep", action="store_true", help="keep the case folders")
    args = parser.parse_args()
    cases = [c for c in _check_cases() + _plan_cases() + _rollout_cases()
             if args.keyword.lower() in c.name.lower()]
    tmp = Path(tempfile.mkdtemp(prefix="gate-sweep-"))
    started = time.monotonic()
    try:
        broken = baselines(tmp, args.timeout)
        if broken:
            print("the unmodified bundles do not pass, so the sweep would prove nothing:")
            print("\n".join(broken))
            return 1
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(lambda ic: run_case(ic[1], tmp / f"case-{ic[0]:03d}", args.timeout),
                          enumerate(cases)))
    finally:
        if not args.keep:  # rm: shutil.rmtree recurses, and one case nests 1,100 folders
            subprocess.run(["rm", "-rf", "--", str(tmp)], check=False)
    counts = {k: 0 for k in ("wrong pass", "escape", "hang", "traceback", "mismatch", "setup")}
    for case in cases:
        problems = verdict(case)
        for p in problems:
            counts[p] += 1
        if problems:
            print(f"{', '.join(problems):>24}  [{case.command}] {case.name}: "
                  f"exit {case.result.get('exit')} {case.result.get('stderr') or ''}"
                  f"{case.result.get('setup_error') or ''}")
    by_input: dict[str, int] = {}
    for case in cases:
        by_input[case.name.split(":")[0]] = by_input.get(case.name.split(":")[0], 0) + 1
    print(f"\ncases: {len(cases)} ({', '.join(f'{k} {v}' for k, v in by_input.items())})")
    print(f"wrong passes: {counts['wrong pass']}  escapes: {counts['escape']}  "
          f"hangs: {counts['hang']}  tracebacks: {counts['traceback']}  "
          f"(mismatches, exit 1 for an expected 2: {counts['mismatch']}; "
          f"broken cases: {counts['setup']})")
    print(f"time: {time.monotonic() - started:.1f} s with {args.jobs} jobs")
    fatal = counts["wrong pass"] + counts["escape"] + counts["hang"] + counts["traceback"]
    return 1 if fatal or counts["setup"] else 0


if __name__ == "__main__":
    sys.exit(main())
