"""Regenerate the monitoring files of the rollout walk-through (deterministic).

Run from this folder: ``python make_monitoring.py``. Latency is lognormal
(median 120 ms, shape 0.45, p99 about 340 ms); errors are per-request 0/1
with a 0.6% rate. Each file holds every sample since its stage began, as
`gate rollout` expects: a later file of a stage extends the earlier one.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

HERE = Path(__file__).parent / "monitoring"


def requests(rng: random.Random, n: int, *, slowdown: float = 1.0,
             error_rate: float = 0.006) -> dict[str, list[float]]:
    latency = [round(math.exp(rng.gauss(math.log(120 * slowdown), 0.45)), 1) for _ in range(n)]
    errors = [1 if rng.random() < error_rate else 0 for _ in range(n)]
    return {"latency_ms": latency, "error_rate": errors}


def extend(a: dict[str, list[float]], b: dict[str, list[float]]) -> dict[str, list[float]]:
    return {k: a[k] + b[k] for k in a}


def write(name: str, canary: dict[str, list[float]], baseline: dict[str, list[float]],
          source: str) -> None:
    doc = {"source": source, "canary": canary, "baseline": baseline}
    (HERE / name).write_text(json.dumps(doc, separators=(",", ":")) + "\n", "utf-8")


def prometheus_matrix(rng: random.Random, pods: int, minutes: int,
                      rate: float) -> dict[str, object]:
    start = 1795000000
    result = []
    for pod in range(pods):
        values = [[start + 60 * i, f"{max(0.0, rng.gauss(rate, rate / 3)):.5f}"]
                  for i in range(minutes)]
        values[7][1] = "NaN"  # a minute without requests: Prometheus says NaN (0/0)
        result.append({"metric": {"app": "fraud-detector", "track": "canary",
                                  "pod": f"fraud-detector-7d9c-{pod}"}, "values": values})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    (HERE / "prometheus").mkdir(exist_ok=True)
    rng = random.Random(20261192)
    # canary-5: a poll after 10 minutes (too early), and one after 35 minutes.
    c, b = requests(rng, 150), requests(rng, 150)
    write("canary-5-10m.json", c, b, "canary-5, 10 minutes in")
    write("canary-5-35m.json", extend(c, requests(rng, 300)), extend(b, requests(rng, 300)),
          "canary-5, 35 minutes in")
    write("canary-25-40m.json", requests(rng, 700), requests(rng, 700), "canary-25, 40 minutes in")
    write("canary-50-1h.json", requests(rng, 1200), requests(rng, 1200), "canary-50, 1 hour in")
    # A bad candidate: 30% slower. Its canary-25 stage must roll back.
    write("canary-25-bad.json", requests(rng, 700, slowdown=1.3), requests(rng, 700),
          "canary-25 of a candidate 30% slower")
    # At 100% there is no baseline left: Prometheus per-minute error ratios of three pods.
    matrix = prometheus_matrix(rng, 3, 60, 0.006)
    (HERE / "prometheus" / "full-error-rate.json").write_text(json.dumps(matrix) + "\n", "utf-8")
    (HERE / "full-1h.json").write_text(json.dumps({
        "source": "Prometheus: sum by (pod) (rate(errors_total[1m])) / "
                  "sum by (pod) (rate(requests_total[1m])), 1 hour at 100%",
        "canary": {"error_rate": "prometheus/full-error-rate.json"},
    }, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
