"""A rollout poll with a 1 GiB artifact beside one without: digests kept between polls.

Each poll of `gate rollout` needs the input document, which names every
artifact's sha256; the rollout state keeps each digest with the file's device,
inode, size and modification time, so only the first poll reads the file.

Usage: .venv/bin/python benchmarks/rollout_poll.py [--gib 1] [--polls 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATE = str(Path(sys.executable).with_name("gate"))


def bundle(where: Path, size: int) -> Path:
    shutil.copytree(ROOT / "examples" / "rollout", where,
                    ignore=shutil.ignore_patterns("gate-report"))
    (where / "artifacts").mkdir()
    with (where / "artifacts" / "weights.bin").open("wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(max(1, size >> 20)):
            f.write(block)
    manifest = where / "gate.yaml"
    manifest.write_text(manifest.read_text().replace(
        "model:\n", "model:\n  artifacts: [artifacts/weights.bin]\n", 1))
    return where


def poll(where: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([GATE, "rollout", "--stage", "canary-5", "--metrics",
                           "monitoring/canary-5-10m.json", "--elapsed", "10m"], cwd=where,
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1, 3):
        sys.exit(proc.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--polls", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-poll-") as tmp:
        small = bundle(Path(tmp) / "small", 1 << 20)
        large = bundle(Path(tmp) / "large", int(args.gib * (1 << 30)))
        rows = []
        for name, where in (("1 MiB artifact", small), (f"{args.gib:g} GiB artifact", large)):
            first = poll(where)
            later = [poll(where) for _ in range(args.polls)]
            rows.append((name, first, statistics.median(later)))
    print(f"gate rollout polls, median of {args.polls} after the first")
    for name, first, later in rows:
        print(f"  {name:<16} first poll {first:6.2f} s   later polls {later:6.2f} s")
    print(f"  later polls, large / small: {rows[1][2] / rows[0][2]:.2f}x")


if __name__ == "__main__":
    main()
