"""Regenerate the example model artifacts (deterministic; run from the repo root).

The examples ship a real safetensors file: a tiny logistic-regression fraud
scorer (8 features -> 1 logit), written by hand in the safetensors layout
(8-byte little-endian header length, JSON header, raw little-endian tensors),
so no ML framework is needed to build or read it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gate.commands.init import safetensors_bytes  # the same writer `gate init` uses

FEATURES = ["amount", "hour", "merchant_risk", "country_mismatch",
            "velocity_1h", "velocity_24h", "card_age_days", "device_new"]


def write_model(path: Path, version: str, weights: list[float], bias: float) -> str:
    data = safetensors_bytes(
        {"linear.weight": ([1, len(weights)], weights), "linear.bias": ([1], [bias])},
        {"model": "fraud-detector", "version": version, "features": ",".join(FEATURES)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    root = Path(__file__).parent
    good = write_model(root / "passing/artifacts/model.safetensors", "2.4.0",
                       [0.82, 0.11, 1.35, 0.97, 0.64, 0.28, -0.45, 0.73], -2.1)
    bad = write_model(root / "failing/artifacts/model.safetensors", "2.5.0",
                      [0.91, 0.02, 1.12, 0.41, 0.88, 0.05, -0.12, 0.31], -1.7)
    print(f"passing/artifacts/model.safetensors sha256 {good}")
    print(f"failing/artifacts/model.safetensors sha256 {bad}")


if __name__ == "__main__":
    main()
