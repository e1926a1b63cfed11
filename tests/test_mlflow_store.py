"""MLflow as its users have it: runs and registered versions in a tracking store.

One real ``mlflow server`` (SQLite backend, 127.0.0.1, a free port) is started
for the session; every run, model version, alias and metric in it is written
by MLflow's own API (``mlflow.log_metric``, ``mlflow.sklearn.log_model``,
``mlflow.models.evaluate``). gate reads them through ``runs:/`` and
``models:/`` references, from the server and straight from its SQLite file,
and reads the same metric sequence from a file-store run folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from gx_support import free_port
from mlflow_support import (
    EXPECTED,
    MlflowServer,
    log_sequence,
    mlflow_server,
    register_version,
    sha256_tree,
)

from gate.bundle import load_report
from gate.cli import cli
from gate.documents import InputFiles

pytestmark = pytest.mark.slow

ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": "", "MLFLOW_TRACKING_URI": ""}


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The session's MLflow server, with two registered versions and one metric run."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        champion = register_version(server.url, "fraud", features=["a"], tag="2.3.1",
                                    alias="champion")
        candidate = register_version(server.url, "fraud", features=["a", "b"], tag="2.4.0",
                                     alias="candidate")
        sequence = log_sequence(server.url, "sequence")
        yield {"server": server, "champion": champion, "candidate": candidate,
               "sequence": sequence}


def bundle(tmp_path: Path, evaluation: dict[str, str], thresholds: dict[str, Any]) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir(parents=True)
    manifest = {
        "version": 1,
        "model": {"name": "fraud", "version": "2.4.0"},
        "evaluation": evaluation,
        "library": ["evaluation"],
        "data": ["thresholds.json"],
        "rollback": {"target": {"version": "2.3.1"},
                     "steps": [{"name": "route", "run": ["true"]}]},
    }
    (folder / "gate.yaml").write_text(json.dumps(manifest))
    (folder / "thresholds.json").write_text(json.dumps({"gate": {"evaluation": thresholds}}))
    return folder


def gate(folder: Path, *args: str, uri: str | None, **env: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(folder / "gate.yaml")],
                              env={**ENV, "MLFLOW_TRACKING_URI": uri or "", **env})


def input_doc(folder: Path, uri: str) -> dict[str, Any]:
    result = gate(folder, "input", uri=uri)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def stored_versions(server: MlflowServer) -> list[dict[str, str]]:
    """sha256 of the files of every logged model, read from the server's artifact folder."""
    return [sha256_tree(folder) for folder in sorted(server.artifacts.glob("*/models/*/artifacts"))]


def test_baseline_from_the_registry_alias_and_candidate_version(
    tmp_path: Path, registry: dict[str, Any]
) -> None:
    server, champion, candidate = registry["server"], registry["champion"], registry["candidate"]
    folder = bundle(tmp_path, {"report": f"models:/fraud/{candidate['version']}",
                               "baseline": "models:/fraud@champion"},
                    {"floors": {"roc_auc": 0.7},
                     "thresholds": {"roc_auc": {"min_relative_change": 0.01,
                                                "greater_is_better": True}}})
    doc = input_doc(folder, server.url)["evaluation"]
    assert doc["metrics"] == candidate["metrics"]
    assert doc["model_version"] == "2.4.0"
    assert doc["baseline"]["metrics"] == champion["metrics"]
    assert doc["baseline"]["model_version"] == "2.3.1"  # the version's model_version tag
    assert doc["baseline"]["source"] == {
        "kind": "mlflow", "uri": "models:/fraud@champion", "run_id": champion["run_id"],
        "model": "fraud", "version": champion["version"], "alias": "champion",
        "model_id": doc["baseline"]["source"]["model_id"], "run_status": "FINISHED"}
    # The digests are those of the files MLflow stored for each version, nothing more.
    baseline_files = {a["path"]: a["sha256"] for a in doc["baseline"]["artifacts"]}
    candidate_files = {a["path"]: a["sha256"] for a in doc["artifacts"]}
    stored = stored_versions(server)
    assert baseline_files in stored and candidate_files in stored
    assert baseline_files != candidate_files and "MLmodel" in baseline_files
    roc = doc["comparison"]["roc_auc"]
    assert roc["candidate"] > roc["baseline"]

    passing = gate(folder, "check", "-o", str(tmp_path / "out"), uri=server.url)
    assert passing.exit_code == 0, passing.output

    # A stricter threshold: the same registry, judged against the champion, fails.
    strict = bundle(tmp_path / "strict", {"report": "models:/fraud@candidate",
                                          "baseline": "models:/fraud@champion"},
                    {"thresholds": {"roc_auc": {"min_relative_change": 0.5,
                                                "greater_is_better": True}}})
    failing = gate(strict, "check", "-o", str(tmp_path / "out2"), uri=server.url)
    assert failing.exit_code == 1, failing.output
    assert "GATE-EVAL-006" in failing.output and "(2.3.1)" in failing.output


def test_run_folder_sqlite_and_server_read_alike(
    tmp_path: Path, registry: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's tie rule and every line format: the folder reads as MLflow's SQL store does."""
    server = registry["server"]
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    run_id = log_sequence(store.as_uri(), "sequence")
    run_folder = next(store.glob(f"*/{run_id}"))
    lines = (run_folder / "metrics" / "stepped").read_text().split("\n")
    assert [len(line.split()) for line in lines if line] == [5, 5]  # MLflow 3's dataset form
    files = InputFiles(tmp_path)
    from_folder = load_report(files, run_folder.relative_to(tmp_path).as_posix(),
                              "evaluation report")
    assert from_folder["metrics"] == EXPECTED
    assert from_folder["model_version"] == "0.0.1"
    for uri in (server.url, server.sqlite_uri):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        got = load_report(files, f"runs:/{registry['sequence']}", "evaluation report")
        assert got["metrics"] == EXPECTED, uri
        assert got["model_version"] == "0.0.1"


def test_run_artifact_path_is_hashed(tmp_path: Path, registry: dict[str, Any]) -> None:
    server, run_id = registry["server"], registry["champion"]["run_id"]
    folder = bundle(tmp_path, {"report": f"runs:/{run_id}/confusion_matrix.png"}, {})
    doc = input_doc(folder, server.url)["evaluation"]
    stored = next(server.artifacts.glob(f"*/{run_id}/artifacts/confusion_matrix.png"))
    assert doc["artifacts"] == [{"path": "confusion_matrix.png",
                                 "sha256": sha256_tree(stored.parent)["confusion_matrix.png"],
                                 "size_bytes": stored.stat().st_size, "format": "unknown"}]
    assert doc["metrics"] == registry["champion"]["metrics"]


@pytest.mark.parametrize(("report", "uri", "message"), [
    ("runs:/0123456789abcdef0123456789abcdef", "server", "does not exist"),
    ("models:/fraud@retired", "server", "does not exist"),
    ("models:/fraud/99", "sqlite", "does not exist"),
    ("models:/nobody@champion", "server", "does not exist"),
    ("models:/fraud/Production", "server", "stages such as Production are deprecated"),
    ("models:/fraud", "server", "needs a version or an alias"),
    ("runs:/", "server", "no run id"),
    ("runs:/abc", None, "MLFLOW_TRACKING_URI is not set"),
    ("runs:/abc", "missing-sqlite", "which does not exist (MLflow would create it empty)"),
    ("runs:/abc", "closed-port", "cannot read the run"),
])
def test_unreadable_references_are_exit_2_naming_gate_yaml(
    tmp_path: Path, registry: dict[str, Any], report: str, uri: str | None, message: str
) -> None:
    server = registry["server"]
    uris = {"server": server.url, "sqlite": server.sqlite_uri, None: None,
            "missing-sqlite": f"sqlite:///{tmp_path / 'none.db'}",
            "closed-port": f"http://127.0.0.1:{free_port()}"}
    folder = bundle(tmp_path, {"report": report}, {})
    result = gate(folder, "check", "-o", str(tmp_path / "out"), uri=uris[uri],
                  MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="5")
    assert result.exit_code == 2, result.output
    assert "bundle error in gate.yaml: evaluation report: " in result.output, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "none.db").exists()  # nothing created behind the user's back
