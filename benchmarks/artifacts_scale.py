"""Artifact folders at scale: `gate check` wall time for 100 .. 100,000 small files.

A model folder is often many files: a sharded checkpoint, a tokenizer tree, a
folder per quantisation. Each bundle here ships one folder `model/` of N small
files spread over sub-folders of 100 files each, so every file name repeats in
every sub-folder (the case where matching lineage outputs to artifacts by file
name is hardest), with the built-in library enabled and a lineage that records
every file as an output with its sha256 (what a careful training pipeline
writes). The gate hashes every file, builds the input, and the library's
artifact rules match every output to every artifact.

Prints, per size, the wall time of `gate check` in a fresh process and the
stages gate itself timed (decision.json `timings_ms`). Run on demand:
  .venv/bin/python benchmarks/artifacts_scale.py [--sizes 100,1000,10000,100000]
      [--lineage each|one|none] [--engine auto|opa-go|regorus] [--timeout 600]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def gate_command() -> list[str]:
    exe = Path(sys.executable).with_name("gate")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from gate.cli import main; main()"]


def make_bundle(root: Path, n: int, lineage: str) -> None:
    model = root / "model"
    outputs = []
    for i in range(n):
        folder = model / f"part-{i // 100:04d}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        rel = f"model/part-{i // 100:04d}/shard-{i % 100:03d}.bin"
        data = f"shard {i}\n".encode()
        (root / rel).write_bytes(data)
        if lineage == "each" or (lineage == "one" and i == 0):
            outputs.append({"name": rel, "sha256": hashlib.sha256(data).hexdigest()})
    run = {
        "run": {"id": "bench"},
        "code": {"commit": "0123456789abcdef0123456789abcdef01234567"},
        "datasets": [{"name": "train", "role": "train", "uri": "s3://d/train",
                      "sha256": "a" * 64}],
        "outputs": outputs,
    }
    (root / "lineage.json").write_text(json.dumps(run), encoding="utf-8")
    (root / "eval.json").write_text(json.dumps({"metrics": {"auc": 0.9}}), encoding="utf-8")
    (root / "gate.yaml").write_text(
        "version: 1\n"
        "model: {name: bench, version: 1.0.0, artifacts: [model/]}\n"
        "lineage: lineage.json\n"
        "evaluation: {report: eval.json}\n"
        "library: [artifacts, lineage]\n",
        encoding="utf-8",
    )


def run_check(root: Path, timeout: float, engine: str) -> tuple[float, int | None,
                                                                 dict[str, float]]:
    start = time.perf_counter()
    try:
        proc = subprocess.run([*gate_command(), "check", "--output-dir", "out",
                               "--engine", engine], cwd=root,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None, {}
    wall = time.perf_counter() - start
    timings: dict[str, float] = {}
    decision = root / "out" / "decision.json"
    if decision.is_file():
        timings = json.loads(decision.read_text("utf-8")).get("timings_ms") or {}
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
    return wall, proc.returncode, timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000")
    parser.add_argument("--lineage", choices=("each", "one", "none"), default="each")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--engine", default="auto", help="auto, opa-go or regorus")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"gate check --engine {args.engine}, library [artifacts, lineage], lineage records: "
          f"{args.lineage}; {os.cpu_count()} CPUs")
    print(f"{'files':>8}  {'wall s':>7}  {'exit':>4}  {'bundle s':>8}  {'policies s':>10}")
    worst = 0
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="gate-artifacts-") as tmp:
            root = Path(tmp)
            make_bundle(root, n, args.lineage)
            wall, code, timings = run_check(root, args.timeout, args.engine)
        stage = {k: v / 1000 for k, v in timings.items()}
        shown = "timeout" if code is None else str(code)
        print(f"{n:>8,}  {wall:7.2f}  {shown:>4}  {stage.get('bundle', 0):8.2f}  "
              f"{stage.get('policies', 0):10.2f}", flush=True)
        if code not in (0, 1):
            worst = 1
    return worst


if __name__ == "__main__":
    sys.exit(main())
