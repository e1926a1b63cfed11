"""Cold `gate check` on the passing example vs a bare engine process (run on demand).

Measures wall time of whole processes, as CI pays it:
  * gate:  `gate check --config examples/passing/gate.yaml` (new process each run)
  * bare:  a Python process that only imports regorus, loads the same policies,
           data and input document, and evaluates the same rules.
Prints medians and the ratio; the README quotes the figures. gate's modules are
byte-compiled first, as `pip install` of the wheel does (an editable install
under PYTHONDONTWRITEBYTECODE would otherwise compile them on every run).
Usage: .venv/bin/python benchmarks/check_cold.py [--runs 21]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "examples" / "passing"
BIN = Path(sys.executable).parent

BARE = r"""
import json, sys, regorus
spec = json.load(open(sys.argv[1]))
e = regorus.Engine()
for path, text in spec["modules"]:
    e.add_policy(path, text)
e.add_data_json(json.dumps(spec["data"]))
e.set_input_json(json.dumps(spec["input"]))
for ref in spec["refs"]:
    e.eval_query_as_json(ref)
"""


def compile_gate() -> None:
    """Byte-compile gate's modules, as installing the wheel does."""
    import gate

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(gate.__file__).parent)],
                   check=True, capture_output=True)


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        out.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            sys.exit(f"{cmd[0]} failed: {proc.stderr.decode()}")
    return out


def bare_spec(work: Path) -> Path:
    """The same modules, data, input and rule refs gate evaluates, for the bare process."""
    sys.path.insert(0, str(ROOT))
    from gate.ci import detect
    from gate.engines.results import rule_sites
    from gate.manifest import load_manifest
    from gate.pipeline import build_input
    from gate.policy.selection import load_policies

    manifest = load_manifest(BUNDLE / "gate.yaml")
    modules, data = load_policies(manifest, cwd=ROOT)
    spec = {
        "modules": [(m.path, m.text) for m in modules],
        "data": data,
        "input": build_input(manifest, ci=detect({})),
        "refs": [s.ref for s in rule_sites(modules)],
    }
    path = work / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gate_cmd = [str(BIN / "gate"), "check", "--config", str(BUNDLE / "gate.yaml"),
                    "--output-dir", str(work / "out"), "--format", "json=" + str(work / "d.json")]
        bare_cmd = [sys.executable, "-c", BARE, str(bare_spec(work))]
        compile_gate()
        timed(gate_cmd, 2)  # warm the page cache, not the process
        gate_t = timed(gate_cmd, args.runs)
        bare_t = timed(bare_cmd, args.runs)
        start = [sys.executable, "-c", "pass"]
        empty_t = timed(start, args.runs)
    g, b, e = (statistics.median(x) * 1000 for x in (gate_t, bare_t, empty_t))
    print(f"runs: {args.runs} each")
    print(f"python -c pass          median {e:7.1f} ms")
    print(f"bare regorus process    median {b:7.1f} ms")
    print(f"gate check (cold)       median {g:7.1f} ms   (target <= 400 ms)")
    print(f"ratio gate / bare       {g / b:.2f}x   (target <= 2.5x)")


if __name__ == "__main__":
    main()
