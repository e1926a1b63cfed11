"""A repository of many models: one `gate check --all` beside one process per bundle.

Generates a git repository of N bundles (varied metrics, about 10 % failing,
two policy sets: the library with one set of thresholds, and the library plus
a custom policy with another), then measures, side by side in one run:

* `gate check --all` (worker processes: the number of cores), wall time and the
  peak RSS of the largest process;
* the same bundles judged by one `gate check` process each, two at a time;
* `gate check --all --changed-since HEAD` after a change to 3 bundles, beside one
  single-bundle check (medians of 5 after a warm-up run).

Usage: .venv/bin/python benchmarks/many_bundles.py [--bundles 1000] [--separate 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from check_cold import compile_gate

ROOT = Path(__file__).resolve().parent.parent
GATE = str(Path(sys.executable).with_name("gate"))
CUSTOM = """package team

import rego.v1

# METADATA
# title: Latency budget
# custom:
#   id: TEAM-001
#   severity: medium
deny contains msg if {
	input.evaluation.metrics.latency_p95_ms > data.team.max_latency_ms
	latency := input.evaluation.metrics.latency_p95_ms
	msg := sprintf("p95 latency %v ms over %v", [latency, data.team.max_latency_ms])
}
"""


def generate(root: Path, count: int) -> None:
    rng = random.Random(20261201)
    for i in range(count):
        bundle = root / "models" / f"m{i:04d}"
        shutil.copytree(ROOT / "examples" / "passing", bundle)
        report = json.loads((bundle / "reports" / "eval.json").read_text())
        failing = rng.random() < 0.1
        report["metrics"]["roc_auc"] = round(
            rng.uniform(0.85, 0.92) if failing else rng.uniform(0.945, 0.99), 4)
        report["metrics"]["latency_p95_ms"] = round(rng.uniform(5, 14), 1)
        (bundle / "reports" / "eval.json").write_text(json.dumps(report))
        if i % 2:  # the second policy set: a team policy beside the library
            (bundle / "policies" / "team.rego").write_text(CUSTOM)
            (bundle / "policies" / "data" / "team.yaml").write_text(
                "team: {max_latency_ms: 13.5}\n")
    (root / ".gitignore").write_text("gate-report/\nout*/\n")
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@x"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bundles"], cwd=root, check=True)


def timed(cmd: list[str], cwd: Path) -> tuple[float, int, int]:
    """Wall seconds, exit code, and peak RSS (KiB) of the largest process it started."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "NO_COLOR": "1"})
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, proc.returncode, max(peak, before)


def median_of(cmd: list[str], cwd: Path, runs: int = 5) -> float:
    timed(cmd, cwd)
    return statistics.median(timed(cmd, cwd)[0] for _ in range(runs))


def run_all(root: Path, out: str) -> tuple[float, int]:
    seconds, _, peak = timed([GATE, "check", "--all", "-o", out], root)
    return seconds, peak


def run_separately(root: Path, count: int) -> float:
    bundles = sorted((root / "models").iterdir())[:count]
    start = time.perf_counter()

    def one(bundle: Path) -> tuple[int, str]:
        proc = subprocess.run([GATE, "check", str(bundle), "-o", f"out-sep/{bundle.name}"],
                              cwd=root, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, bundles))
    errors = [err for code, err in results if code not in (0, 1)]
    if errors:
        sys.exit(f"{len(errors)} separate checks failed to run: {errors[0][-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--separate", type=int, default=1000,
                        help="how many bundles to judge one process each (the baseline)")
    args = parser.parse_args()
    compile_gate()
    with tempfile.TemporaryDirectory(prefix="gate-many-") as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        generate(small, 100)
        generate(large, args.bundles)
        s_small, rss_small = run_all(small, "out-all")
        s_large, rss_large = run_all(large, "out-all")
        index = json.loads((large / "out-all" / "index.json").read_text())
        failing = sum(1 for b in index["bundles"] if b["decision"] == "fail")
        s_sep = run_separately(large, args.separate)
        for i in (3, 333, 666):
            card = large / "models" / f"m{i:04d}" / "model_card.md"
            card.write_text(card.read_text() + "\nA note.\n")
        # Both after one warm-up run, medians of 5 (the first git call after the files
        # changed also refreshes git's index; the warm-up pays that for both sides).
        s_changed = median_of([GATE, "check", "--all", "--changed-since", "HEAD", "-o",
                               "out-changed"], large)
        changed = json.loads((large / "out-changed" / "index.json").read_text())["bundles"]
        s_one = median_of([GATE, "check", "models/m0003", "-o", "out-one"], large)
    per = s_sep / args.separate
    print(f"bundles: {args.bundles} ({failing} failing), two policy sets, {os.cpu_count()} cores")
    print(f"gate check --all, 100 bundles        {s_small:8.2f} s   peak RSS "
          f"{rss_small / 1024:6.1f} MiB")
    print(f"gate check --all, {args.bundles} bundles      {s_large:8.2f} s   peak RSS "
          f"{rss_large / 1024:6.1f} MiB   (target <= 15 s)")
    print(f"one process per bundle, 2 at a time  {s_sep:8.2f} s for {args.separate} "
          f"({per * 1000:.0f} ms each; {per * args.bundles:.0f} s for {args.bundles})")
    print(f"speed-up                             {per * args.bundles / s_large:8.1f}x")
    print(f"--changed-since, 3 bundles changed   {s_changed:8.2f} s   ({len(changed)} judged)")
    print(f"one single-bundle check              {s_one:8.2f} s   ratio "
          f"{s_changed / s_one:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
