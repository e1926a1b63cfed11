"""`gate init`: scaffold a complete release bundle in a folder; never overwrites a file.

Writes gate.yaml (the built-in library on, thresholds in policies/data/), an
exceptions.yaml with one example waiver, policies/ with one example policy and
its test, and the evidence the library asks for: a small real model
(artifacts/model.safetensors), its model card, the training lineage (with the
model's digest) and an evaluation report. `gate check` passes on it as
written, and `gate verify policies` runs the example test; each file is then
replaced by the user's own. If any of these files exists, nothing is written
and the error names it (exit 2).
"""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import date, timedelta
from pathlib import Path

import click

from gate.commands.common import debug_option
from gate.errors import UsageError
from gate.fsutil import write_bytes, write_text

MANIFEST = """\
# Release manifest: what `gate check` judges and how. Paths are relative to
# this file and may not leave its folder. Schema: `gate schema manifest`.
version: 1
model:
  name: {name}
  version: 0.1.0                      # the candidate this gate judges
  artifacts: [artifacts/]             # model files or folders; each file is hashed
  card: model_card.md                 # YAML front matter: intended_use, limitations, ...
lineage: lineage/run.json             # gate-native JSON/YAML, or OpenLineage RunEvent(s)
evaluation:
  report: reports/eval.json           # {{metrics: {{name: number}}, slices: [...]}}
  baseline: reports/production.json   # the model in production, for change limits

# The built-in policy library (`gate doc --library` lists its rules and
# settings): true for all of it, or a list such as [model_card, lineage].
library: true
policies: [policies/]                 # your own Rego, beside the library
data: [policies/data/]                # thresholds: overrides of the library defaults
exceptions: exceptions.yaml           # waivers, with reason, approver and expiry

rollout:
  stages:
    - {{name: canary-5, weight: 5, bake: 30m, analysis: [{{metric: error_rate, max: 0.02}}]}}
    - {{name: half, weight: 50, bake: 1h, analysis: [{{metric: error_rate, max: 0.02}}]}}
    - {{name: full, weight: 100}}
rollback:
  target: {{version: 0.0.9}}            # the version in production today
  steps:
    - name: route-back
      run: ["./deploy.sh", "route", "${{model.name}}", "${{target.version}}"]
      timeout: 60s
      retries: 2
"""

EXCEPTIONS = """\
# Waivers: let a release pass although a rule fails, for a stated reason.
# Every entry needs a reason and an approver; `expires` is inclusive (UTC).
# An expired entry no longer waives and is reported. Rules whose enforcement
# is hard-mandatory (e.g. GATE-LIN-004, train/test leakage) cannot be waived.
exceptions:
  - rule: GATE-ART-003                # a finding id, or a glob such as GATE-EVAL-*
    reason: >-
      Legacy scikit-learn pipeline shipped as joblib; the ONNX export is
      tracked in ML-123.
    approved_by: jane.doe@example.com
    expires: {expires}
    scope: {{model: {name}, version: "0.1.*"}}
"""

DATA = """\
# Policy data, merged into `data` for every policy. Keys under `gate:`
# override the library defaults one by one (`gate doc --library` lists them).
gate:
  evaluation:
    floors: {accuracy: 0.80}          # the candidate's accuracy must reach 0.80
    thresholds:                       # after MLflow's MetricThreshold
      accuracy: {min_absolute_change: -0.01, greater_is_better: true}
release:
  max_latency_ms: 250
"""

POLICY = """\
# An example policy of your own, beside the built-in library.
# `gate verify` runs the tests in release_test.rego.
package release

import rego.v1

# METADATA
# title: Latency budget
# description: The candidate's p95 latency must stay within the serving budget.
# custom:
#   id: RELEASE-001
#   severity: medium
#   enforcement: soft-mandatory
#   remediation: Profile the model; quantise or distil it before the release.
deny_latency contains result if {
	latency := input.evaluation.metrics.latency_p95_ms
	latency > data.release.max_latency_ms
	result := {
		"msg": sprintf("p95 latency is %v ms; the budget is %v ms", [
			latency,
			data.release.max_latency_ms,
		]),
		"metric": "latency_p95_ms",
		"value": latency,
	}
}
"""

POLICY_TEST = """\
package release_test

import rego.v1

import data.release

latency(ms) := {"evaluation": {"metrics": {"latency_p95_ms": ms}}}

test_latency_over_budget_denied if {
	some result in release.deny_latency with input as latency(300)
	result.msg == "p95 latency is 300 ms; the budget is 250 ms"
}

test_latency_within_budget_passes if {
	count(release.deny_latency) == 0 with input as latency(120)
}
"""


CARD = """\
---
model_name: {name}
license: apache-2.0
owners: [ml-team@example.com]
intended_use: >-
  Replace with what the model is for and who may use it.
limitations: >-
  Replace with where the model is known to fail.
training_data: Replace with the data the model was trained on.
---

# {title}

The example model `gate init` wrote: replace this card with your model's.
"""

EVAL = {
    "model_version": "0.1.0",
    "metrics": {"accuracy": 0.91, "latency_p95_ms": 120},
    "slices": [],
}


BASELINE = {
    "model_version": "0.0.9",
    "metrics": {"accuracy": 0.905, "latency_p95_ms": 130},
    "slices": [],
}


def safetensors_bytes(tensors: dict[str, tuple[list[int], list[float]]],
                      metadata: dict[str, str]) -> bytes:
    """float32 tensors in the safetensors layout: 8-byte little-endian header length,
    the JSON header padded to 8 bytes, then the raw little-endian tensors."""
    header: dict[str, object] = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for tensor, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[tensor] = {"dtype": "F32", "shape": shape,
                          "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def scaffold(*, name: str, today: date) -> dict[str, str | bytes]:
    """The files `gate init` writes (relative path -> content); the waiver expires in 90 days."""
    quoted = json.dumps(name)  # a JSON string is a YAML string, whatever the name holds
    model = safetensors_bytes({"linear.weight": ([1, 2], [0.5, -0.25]),
                               "linear.bias": ([1], [0.1])}, {"model": name})
    lineage = {
        "run": {"id": "example-run-1", "started_at": f"{today.isoformat()}T00:00:00Z",
                "producer": "gate init"},
        "code": {"repository": "https://git.example.com/ml/model.git",
                 "commit": "0" * 40},
        "datasets": [
            {"name": "example-train", "uri": "s3://data/example/train.parquet",
             "sha256": "1" * 64, "role": "train"},
            {"name": "example-test", "uri": "s3://data/example/test.parquet",
             "sha256": "2" * 64, "role": "test"},
        ],
        "outputs": [{"name": "artifacts/model.safetensors",
                     "sha256": hashlib.sha256(model).hexdigest()}],
    }
    return {
        "gate.yaml": MANIFEST.format(name=quoted),
        "exceptions.yaml": EXCEPTIONS.format(
            name=quoted, expires=(today + timedelta(days=90)).isoformat()),
        "policies/data/thresholds.yaml": DATA,
        "policies/release.rego": POLICY,
        "policies/release_test.rego": POLICY_TEST,
        "artifacts/model.safetensors": model,
        "model_card.md": CARD.format(name=quoted, title=name),
        "lineage/run.json": json.dumps(lineage, indent=2) + "\n",
        "reports/eval.json": json.dumps(EVAL, indent=2) + "\n",
        "reports/production.json": json.dumps(BASELINE, indent=2) + "\n",
    }


def write_scaffold(root: Path, files: dict[str, str | bytes]) -> list[str]:
    """Write ``files`` under ``root`` unless one of them exists (then write none)."""
    for rel in files:
        if (root / rel).exists() or (root / rel).is_symlink():
            raise UsageError(
                f"{rel} already exists; gate init never overwrites a file",
                path=rel,
                hint="run gate init in an empty folder (--dir), or move the file away",
            )
    for rel, content in files.items():
        if isinstance(content, bytes):
            write_bytes(root / rel, content)
        else:
            write_text(root / rel, content)
    return list(files)


@click.command()
@click.option("--dir", "directory", default=".", show_default=True, metavar="DIR",
              help="The folder to scaffold (created if missing).")
@click.option("--name", metavar="NAME", help="The model's name (default: the folder's name).")
@debug_option
def init(directory: str, name: str | None) -> None:
    """Scaffold gate.yaml, exceptions.yaml and policies/ (an example policy and its test).

    Refuses to overwrite any existing file (exit 2, naming it).
    """
    root = Path.cwd() / directory
    model = name or root.resolve().name or "my-model"
    files = scaffold(name=model, today=date.today())
    for rel in write_scaffold(root, files):
        click.echo(f"wrote {Path(directory) / rel}")
    where = "" if directory == "." else f" {directory}"
    click.echo(f"next: `gate check{where}` passes on this example bundle and `gate verify "
               f"{Path(directory) / 'policies'}` runs its policy test; then replace each file "
               "with your model's own")
