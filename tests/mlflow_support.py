"""A real MLflow tracking server for the tests, and runs logged with MLflow's own API.

``MlflowServer`` starts ``mlflow server`` with a SQLite backend and a local
artifact destination on 127.0.0.1 and a free port, and stops it (its whole
process group) on exit. Everything the tests read through gate is written
by MLflow itself: ``mlflow.log_metric`` (with explicit steps and timestamps,
to pin MLflow's tie rule), ``mlflow.models.evaluate`` and
``mlflow.sklearn.log_model`` with model registration and aliases.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gx_support import free_port

# One metric sequence, logged the same way to every store: (key, value, step, timestamp,
# with_dataset). "tie" is logged twice at one step and timestamp (MLflow keeps the larger
# value); "stepped" uses five-field lines in a file store, whose last step is not its last line.
SEQUENCE = [
    ("tie", 0.3, 5, 1_700_000_000_000, False),
    ("tie", 0.8, 5, 1_700_000_000_000, False),
    ("tie", 0.1, 4, 1_700_000_009_000, False),
    ("stepped", 0.5, 2, 1_700_000_000_000, True),
    ("stepped", 0.9, 1, 1_700_000_000_000, True),
    ("plain", 0.25, 0, 1_700_000_000_000, False),
]
EXPECTED = {"tie": 0.8, "stepped": 0.5, "plain": 0.25}


@dataclass
class MlflowServer:
    """A running ``mlflow server``: its URL, its SQLite database and artifact folder."""

    url: str
    database: Path
    artifacts: Path

    @property
    def sqlite_uri(self) -> str:
        return f"sqlite:///{self.database}"


@contextlib.contextmanager
def mlflow_server(folder: Path, timeout: float = 120.0) -> Iterator[MlflowServer]:
    """Start ``mlflow server`` (SQLite backend) on 127.0.0.1 and stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    database, artifacts = folder / "mlflow.db", folder / "artifacts"
    port = free_port()
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "", "MLFLOW_TRACKING_URI": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server",
         "--backend-store-uri", f"sqlite:///{database}",
         "--artifacts-destination", str(artifacts),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {proc.returncode}: "
                                   f"{(folder / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer on {url} in {timeout} s")
            time.sleep(0.5)
        yield MlflowServer(url, database, artifacts)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def log_sequence(tracking_uri: str, experiment: str) -> str:
    """Log ``SEQUENCE`` with ``mlflow.log_metric`` into a new run; its run id."""
    import mlflow
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    data = from_pandas(pd.DataFrame({"x": [1, 2]}), name="holdout")
    with mlflow.start_run() as run:
        for key, value, step, ts, with_dataset in SEQUENCE:
            mlflow.log_metric(key, value, step=step, timestamp=ts,
                              dataset=data if with_dataset else None)
        mlflow.set_tag("model_version", "0.0.1")
    return str(run.info.run_id)


def training_data(seed: int, n: int = 200) -> Any:
    """A small, deterministic binary classification table (pandas)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=n) > 0).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": y})


def register_version(
    tracking_uri: str, model: str, *, features: list[str], tag: str, alias: str
) -> dict[str, Any]:
    """Train, log, register and evaluate (``mlflow.models.evaluate``) one model version.

    Returns the run id, the registry version, the metrics MLflow logged, and the
    sha256 of every file MLflow stored for the version (read from MLflow's own
    download, for the test to compare with what gate reports).
    """
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(f"{model}-training")
    train, test = training_data(1), training_data(2)
    clf = LogisticRegression().fit(train[features], train["label"])
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(clf, name="model", registered_model_name=model,
                                        input_example=train[features].head(2))
        evaluation = from_pandas(test[[*features, "label"]], targets="label", name="holdout")
        mlflow.models.evaluate(  # type: ignore[no-untyped-call]
            info.model_uri, evaluation, model_type="classifier", evaluators=["default"])
    version = str(info.registered_model_version)
    client.set_model_version_tag(model, version, "model_version", tag)
    client.set_registered_model_alias(model, alias, version)
    metrics = client.get_run(run.info.run_id).data.metrics
    return {"run_id": run.info.run_id, "version": version, "metrics": dict(metrics)}


def sha256_tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
