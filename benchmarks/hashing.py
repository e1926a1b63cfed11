"""Artifact hashing: gate's streaming sha256 vs `sha256sum`, and peak memory vs size.

Writes a 1 GiB file of random bytes (and a 64 MiB one) in a temporary folder,
hashes each with `sha256sum` and with gate.bundle.artifacts.sha256_file in a
fresh process, and reports throughput and the child's peak RSS. Run on demand:
  .venv/bin/python benchmarks/hashing.py [--gib 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HASH = (
    "import sys, resource\n"
    "from pathlib import Path\n"
    "from gate.bundle.artifacts import sha256_file\n"
    "digest, _ = sha256_file(Path(sys.argv[1]))\n"
    "print(digest, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def make_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as fh:
        for _ in range(size >> 20):
            fh.write(block)


def run(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = int(args.gib * (1 << 30))
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.bin", Path(tmp) / "small.bin"
        make_file(big, size)
        make_file(small, 64 << 20)
        with big.open("rb") as fh:  # both tools then read from the page cache
            while fh.read(1 << 24):
                pass
        sums, gates, rss = [], [], {}
        for _ in range(args.runs):
            t, out_sum = run(["sha256sum", str(big)])
            sums.append(t)
            t, out_gate = run([sys.executable, "-c", HASH, str(big)])
            gates.append(t)
            assert out_sum.split()[0] == out_gate.split()[0], "digests differ"
            rss["1 GiB" if args.gib == 1 else f"{args.gib} GiB"] = int(out_gate.split()[1])
        _, out_small = run([sys.executable, "-c", HASH, str(small)])
        rss["64 MiB"] = int(out_small.split()[1])
    mib = size / (1 << 20)
    best_sum, best_gate = min(sums), min(gates)
    print(f"file: {mib:.0f} MiB, best of {args.runs}")
    print(f"sha256sum            {best_sum:6.2f} s  {mib / best_sum:7.0f} MiB/s")
    print(f"gate sha256_file     {best_gate:6.2f} s  {mib / best_gate:7.0f} MiB/s "
          f"(incl. Python start-up)")
    print(f"ratio gate/sha256sum throughput: {best_sum / best_gate:.2f}x (target >= 0.9x)")
    for label, kib in rss.items():
        print(f"peak RSS hashing {label:>7}: {kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
