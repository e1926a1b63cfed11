"""Both in-process engines side by side, in one run (docs/engines.md quotes the figures).

1. Cold `gate check` of examples/passing as a new process, with --engine regorus,
   opa-go and differential, beside a bare process per engine that only loads
   the same policies, data and input and evaluates the same rules.
2. Evaluation per bundle in one process: the library compiled once, then
   evaluated against N input documents with varied metrics (the shape of a
   repository-wide check), for each engine.

Usage: .venv/bin/python benchmarks/engines.py [--runs 11] [--bundles 300]
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from check_cold import BARE as BARE_REGORUS
from check_cold import BIN, BUNDLE, ROOT, bare_spec, compile_gate, timed

BARE = {
    "regorus": BARE_REGORUS,  # the same bare process check_cold.py measures
    "opa-go": r"""
import json, sys
from opa_bindings import OpaEngine
spec = json.load(open(sys.argv[1]))
e = OpaEngine()
for path, text in spec["modules"]:
    e.add_policy(path, text)
e.add_data(spec["data"])
e.eval_query("x := [" + ", ".join(f"[v | v := {r}]" for r in spec["refs"]) + "]",
             spec["input"])
""",
}


def cold(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = bare_spec(work)
        compile_gate()
        rows = []
        for engine in ("regorus", "opa-go", "differential"):
            cmd = [str(BIN / "gate"), "check", "--config", str(BUNDLE / "gate.yaml"),
                   "--output-dir", str(work / "out"), "--engine", engine]
            timed(cmd, 2)
            g = statistics.median(timed(cmd, runs)) * 1000
            bare = BARE.get(engine)
            b = statistics.median(timed([sys.executable, "-c", bare, str(spec)], runs)) * 1000 \
                if bare else None
            rows.append((engine, g, b))
    print(f"cold gate check of examples/passing, median of {runs} runs")
    print(f"  {'engine':<13} {'gate check':>11} {'bare engine':>12} {'ratio':>6}")
    for engine, g, b in rows:
        bare_text = f"{b:9.1f} ms" if b else f"{'-':>12}"
        ratio = f"{g / b:5.2f}x" if b else f"{'-':>6}"
        print(f"  {engine:<13} {g:8.1f} ms {bare_text} {ratio}")


def per_bundle(count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from gate.ci import detect
    from gate.engines import get_engine
    from gate.engines.results import findings_from, rule_sites
    from gate.manifest import load_manifest
    from gate.pipeline import build_input
    from gate.policy.selection import load_policies

    manifest = load_manifest(BUNDLE / "gate.yaml")
    modules, data = load_policies(manifest, cwd=ROOT)
    base = build_input(manifest, ci=detect({}))
    sites = rule_sites(modules)
    refs = [s.ref for s in sites]
    rng = random.Random(7)
    inputs = []
    for _ in range(count):
        doc = copy.deepcopy(base)
        for name in doc["evaluation"]["metrics"]:
            doc["evaluation"]["metrics"][name] = round(rng.uniform(0.5, 1.0), 4)
        inputs.append(doc)
    print(f"\nevaluation per bundle, policies compiled once, {count} input documents")
    print(f"  {'engine':<13} {'compile':>9} {'per bundle':>11} {'findings':>9}")
    for engine_name in ("regorus", "opa-go"):
        engine = get_engine(engine_name)
        start = time.perf_counter()
        engine.prepare(modules, data)
        # OPA compiles on the first query: "compile" is everything up to the first answer
        found = len(findings_from(sites, engine.evaluate(refs, inputs[0])))
        compiled = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        for doc in inputs[1:]:
            found += len(findings_from(sites, engine.evaluate(refs, doc)))
        each = (time.perf_counter() - start) * 1000 / (count - 1)
        engine.close()
        print(f"  {engine_name:<13} {compiled:6.1f} ms {each:8.2f} ms {found:9d}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--bundles", type=int, default=300)
    args = parser.parse_args()
    cold(args.runs)
    per_bundle(args.bundles)


if __name__ == "__main__":
    main()
