"""gate reads what ML libraries write without importing those libraries.

A bundle whose card was rendered by huggingface_hub, whose lineage was
emitted by openlineage-python, whose report is an MLflow file-store run and
whose artifacts were saved by numpy is judged in a fresh interpreter, which
must not import mlflow, huggingface_hub, openlineage, numpy or torch: only a
``runs:/``/``models:/`` reference loads MLflow's client.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from mlflow_support import log_sequence
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.uuid import generate_new_uuid

HEAVY = ("mlflow", "huggingface_hub", "openlineage", "numpy", "torch", "pandas")
PROBE = """
import json, sys
from gate.cli import cli
try:
    cli.main(["check", "-c", sys.argv[1], "-o", sys.argv[2]], standalone_mode=False)
except SystemExit:
    pass
heavy = {heavy!r}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
"""


@pytest.mark.slow  # a fresh interpreter per bundle
def test_reading_library_outputs_imports_no_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bundle"
    (folder / "models").mkdir(parents=True)
    np.save(folder / "models" / "weights.npy", np.ones(3))
    data = ModelCardData(license="mit", model_name="m", eval_results=[EvalResult(
        task_type="text-classification", dataset_type="imdb", dataset_name="IMDb",
        metric_type="accuracy", metric_value=0.9)])
    ModelCard.from_template(data).save(folder / "README.md")
    ol = OpenLineageClient(transport=FileTransport(FileConfig(
        log_file_path=str(folder / "lineage" / "events"))))
    (folder / "lineage").mkdir()
    ol.emit(RunEvent(eventType=RunState.COMPLETE, eventTime="2026-01-01T00:00:00Z",
                     run=Run(runId=str(generate_new_uuid())),
                     job=Job(namespace="ml", name="train"), producer="https://example.com"))
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_id = log_sequence((tmp_path / "mlruns").as_uri(), "lazy")
    run = next((tmp_path / "mlruns").glob(f"*/{run_id}"))
    run.rename(folder / "run")
    manifest = {"version": 1,
                "model": {"name": "m", "version": "1", "card": "README.md",
                          "artifacts": ["models"]},
                "lineage": "lineage", "evaluation": {"report": "run", "baseline": "README.md"},
                "library": True,
                "rollback": {"target": {"version": "0"},
                             "steps": [{"name": "route", "run": ["true"]}]}}
    (folder / "gate.yaml").write_text(json.dumps(manifest))
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), str(folder / "gate.yaml"),
         str(tmp_path / "out")], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    decision = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert decision["decision"] in ("pass", "warn", "fail"), decision.get("error")
