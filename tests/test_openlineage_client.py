"""OpenLineage as integrations emit it: events written by openlineage-python itself.

Every event here is emitted through ``OpenLineageClient`` with its
``FileTransport``: one file per event (the default), JSON lines in one file
(``append``), or indented JSON (``debug_mode``). No facet gate defines is
used except where a test shows the ``gate_role`` override.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    RunFacet,
    dataset_type_dataset,
    dataset_version_dataset,
    job_type_job,
    parent_run,
    source_code_location_job,
    tags_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.uuid import generate_new_uuid

from gate.bundle import load_lineage
from gate.cli import cli
from gate.documents import InputFiles
from gate.errors import BundleError, DocumentError

MODEL_BYTES = b"model weights written by the training task"
MODEL_SHA = hashlib.sha256(MODEL_BYTES).hexdigest()
DAG = Job(namespace="airflow", name="fraud_dag")
ENV = {"NO_COLOR": "1", "GITHUB_ACTIONS": "", "GITLAB_CI": ""}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def versioned(namespace: str, name: str, **facets: Any) -> InputDataset:
    """An input with OpenLineage's standard version facet holding its sha256."""
    return InputDataset(namespace=namespace, name=name, facets={
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=sha(namespace + name)), **facets})


def client(folder: Path, **config: Any) -> OpenLineageClient:
    folder.mkdir(parents=True, exist_ok=True)
    transport = FileTransport(FileConfig(log_file_path=str(folder / "events"), **config))
    return OpenLineageClient(transport=transport)


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def emit_run(
    ol: OpenLineageClient,
    job: Job,
    inputs: list[InputDataset],
    outputs: list[OutputDataset],
    parent: str | None,
) -> str:
    """START and COMPLETE of one run (a child of ``parent`` if given); its run id."""
    run_id = str(generate_new_uuid())
    facets: dict[str, RunFacet] = {}
    if parent:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent),
            job=parent_run.Job(namespace=DAG.namespace, name=DAG.name))
    run = Run(runId=run_id, facets=facets)
    producer = "https://example.com/fraud-pipeline"
    ol.emit(RunEvent(eventType=RunState.START, eventTime=now(), run=run, job=job,
                     inputs=inputs, producer=producer))
    ol.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=now(), run=run, job=job,
                     inputs=inputs, outputs=outputs, producer=producer))
    return run_id


def training_job(name: str = "fraud_dag.train") -> Job:
    return Job(namespace="airflow", name=name, facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="AIRFLOW",
                                                jobType="TASK"),
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
            type="git", url="https://git.example/fraud", version="4f1c2e9")})


def training_inputs(test_uri: tuple[str, str] = ("s3://lake", "fraud/test.parquet")) -> list[
        InputDataset]:
    return [
        versioned("s3://lake", "fraud/splits/train/part-0.parquet"),
        versioned("s3://lake", "fraud/features_2026q3"),  # no role word: the job's shape
        versioned(*test_uri, tags=tags_dataset.TagsDatasetFacet(
            tags=[tags_dataset.TagsDatasetFacetFields(key="split", value="test")])),
        versioned("s3://lake", "fraud/validation.parquet"),
        InputDataset(namespace="hf", name="distilbert-base", facets={
            "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(datasetType="MODEL")}),
    ]


def model_output() -> OutputDataset:
    return OutputDataset(namespace="file", name="/models/model.safetensors", facets={
        "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(datasetType="MODEL"),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=MODEL_SHA)})


def dag_log(folder: Path, tasks: list[tuple[Job, list[InputDataset]]], **config: Any) -> dict[
        str, Any]:
    """A DAG run and its task runs, as Airflow's integration reports them."""
    ol = client(folder, **config)
    dag_run = str(generate_new_uuid())
    ol.emit(RunEvent(eventType=RunState.START, eventTime=now(), run=Run(runId=dag_run), job=DAG,
                     producer="https://example.com/airflow"))
    children = {job.name: emit_run(ol, job, inputs, [model_output()], dag_run)
                for job, inputs in tasks}
    ol.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=now(), run=Run(runId=dag_run),
                     job=DAG, producer="https://example.com/airflow"))
    return {"dag": dag_run, **children}


def test_a_dag_log_judges_its_training_task_and_infers_roles(tmp_path: Path) -> None:
    ids = dag_log(tmp_path / "lineage", [(training_job(), training_inputs())])
    files = sorted((tmp_path / "lineage").iterdir())
    assert len(files) == 4 and all(f.name.startswith("events-") for f in files)
    got = load_lineage(InputFiles(tmp_path), "lineage")
    assert got["run"]["id"] == ids["fraud_dag.train"]  # the child, not the DAG run
    assert got["code"] == {"repository": "https://git.example/fraud", "commit": "4f1c2e9"}
    roles = {d["name"]: (d["role"], d["role_from"]) for d in got["datasets"]}
    assert roles == {
        "fraud/splits/train/part-0.parquet": ("train", "name"),
        "fraud/features_2026q3": ("train", "job"),
        "fraud/test.parquet": ("test", "tags"),
        "fraud/validation.parquet": ("validation", "name"),
        "distilbert-base": ("other", "dataset_type"),
    }
    assert got["datasets"][0]["sha256"] == sha("s3://lake" + "fraud/splits/train/part-0.parquet")
    assert got["outputs"] == [{"name": "/models/model.safetensors",
                               "uri": "file:///models/model.safetensors", "sha256": MODEL_SHA}]
    assert [e["run"]["runId"] for e in got["raw"]] == [ids["fraud_dag.train"]] * 2


def bundle(tmp_path: Path, lineage: Any) -> Path:
    folder = tmp_path / "bundle"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "model.safetensors").write_bytes(MODEL_BYTES)
    manifest = {"version": 1, "model": {"name": "fraud", "version": "2.4.0",
                                        "artifacts": ["models/model.safetensors"]},
                "lineage": lineage, "library": ["lineage", "artifacts"],
                "rollback": {"target": {"version": "2.3.1"},
                             "steps": [{"name": "route", "run": ["true"]}]}}
    (folder / "gate.yaml").write_text(json.dumps(manifest))
    return folder


def check(folder: Path) -> Result:
    return CliRunner().invoke(cli, ["check", "--config", str(folder / "gate.yaml"),
                                    "--output-dir", str(folder.parent / "out")], env=ENV)


def test_the_library_judges_a_standard_log(tmp_path: Path) -> None:
    folder = bundle(tmp_path, "lineage/")
    dag_log(folder / "lineage", [(training_job(), training_inputs())])
    result = check(folder)
    assert result.exit_code == 0, result.output
    # The same log where the test split is the training data: leakage, found by inferred roles.
    leaky = bundle(tmp_path / "leaky", "lineage/")
    dag_log(leaky / "lineage", [(training_job(), training_inputs(
        test_uri=("s3://lake", "fraud/splits/train/part-0.parquet")))])
    result = check(leaky)
    assert result.exit_code == 1, result.output
    assert "GATE-LIN-004" in result.output


def test_choosing_the_run_of_a_log_with_several(tmp_path: Path) -> None:
    extract = Job(namespace="airflow", name="fraud_dag.extract")
    ids = dag_log(tmp_path / "log", [(extract, [versioned("s3://lake", "raw/events")]),
                                     (training_job(), training_inputs())])
    files = InputFiles(tmp_path)
    with pytest.raises(BundleError) as e:
        load_lineage(files, "log")
    assert "the log holds 3 runs" in e.value.message
    assert f"{ids['fraud_dag.extract']} (job fraud_dag.extract)" in e.value.message
    assert e.value.path == "log"
    assert load_lineage(files, "log", {"job": "fraud_dag.train"})["run"]["id"] == ids[
        "fraud_dag.train"]
    assert load_lineage(files, "log", {"job": "airflow/fraud_dag.extract"})["run"]["id"] == ids[
        "fraud_dag.extract"]
    assert load_lineage(files, "log", {"run_id": ids["dag"]})["run"]["id"] == ids["dag"]
    both = {"parent": "fraud_dag", "job": "fraud_dag.train"}
    assert load_lineage(files, "log", both)["run"]["id"] == ids["fraud_dag.train"]
    with pytest.raises(BundleError, match="child runs of fraud_dag holds 2 runs"):
        load_lineage(files, "log", {"parent": "fraud_dag"})
    with pytest.raises(BundleError, match="no run matches job nightly"):
        load_lineage(files, "log", {"job": "nightly"})
    with pytest.raises(BundleError, match="no run 0000 in the log"):
        load_lineage(files, "log", {"run_id": "0000"})


def test_the_selector_is_read_from_gate_yaml(tmp_path: Path) -> None:
    folder = bundle(tmp_path, {"path": "lineage", "job": "fraud_dag.train"})
    extract = Job(namespace="airflow", name="fraud_dag.extract")
    dag_log(folder / "lineage", [(extract, []), (training_job(), training_inputs())])
    assert check(folder).exit_code == 0
    unnamed = bundle(tmp_path / "unnamed", "lineage")
    dag_log(unnamed / "lineage", [(extract, []), (training_job(), training_inputs())])
    result = check(unnamed)
    assert result.exit_code == 2
    assert "bundle error in lineage: lineage: the log holds 3 runs" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("config", [{"append": True}, {"debug_mode": True}])
def test_json_lines_and_indented_files(tmp_path: Path, config: dict[str, Any]) -> None:
    ids = dag_log(tmp_path / "lineage", [(training_job(), training_inputs())], **config)
    written = sorted((tmp_path / "lineage").iterdir())
    if config.get("append"):  # one file, one event per line, the DAG run's events included
        assert len(written) == 1 and len(written[0].read_text().splitlines()) == 4
        target = written[0].relative_to(tmp_path).as_posix()
    else:
        assert len(written) == 4 and written[0].read_text().startswith("{\n")
        target = "lineage"
    got = load_lineage(InputFiles(tmp_path), target)
    assert got["run"]["id"] == ids["fraud_dag.train"]
    assert got["run"]["started_at"] and got["run"]["ended_at"]


def test_gate_role_overrides_every_inference(tmp_path: Path) -> None:
    ol = client(tmp_path / "lineage")
    named_train = InputDataset(namespace="s3://lake", name="train.parquet", facets={
        "gate_role": {"role": "eval"}})  # type: ignore[dict-item]  # gate's facet, plain
    emit_run(ol, training_job(), [named_train], [model_output()], None)
    got = load_lineage(InputFiles(tmp_path), "lineage")
    assert [(d["role"], d["role_from"]) for d in got["datasets"]] == [("eval", "gate_role")]


def test_a_log_without_training_signals_leaves_roles_other(tmp_path: Path) -> None:
    ol = client(tmp_path / "lineage")
    emit_run(ol, Job(namespace="spark", name="etl.daily"),
             [versioned("s3://lake", "transactions")], [], None)
    got = load_lineage(InputFiles(tmp_path), "lineage")
    assert [(d["role"], d["role_from"]) for d in got["datasets"]] == [("other", None)]


def test_unreadable_event_files_name_the_file(tmp_path: Path) -> None:
    dag_log(tmp_path / "lineage", [(training_job(), training_inputs())])
    broken = sorted((tmp_path / "lineage").iterdir())[1]
    broken.write_text(broken.read_text()[:-40] + "\n")
    with pytest.raises(DocumentError) as e:
        load_lineage(InputFiles(tmp_path), "lineage")
    assert e.value.path == broken.relative_to(tmp_path).as_posix()
    assert e.value.line == 1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.json").write_text('"just a string"')
    with pytest.raises(BundleError, match="not an OpenLineage event file"):
        load_lineage(InputFiles(tmp_path), "other")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="holds no OpenLineage event files"):
        load_lineage(InputFiles(tmp_path), "empty")
    # A bad standard facet is named at its place in its own file.
    event = json.loads(sorted((tmp_path / "lineage").iterdir())[0].read_text())
    event["run"]["facets"] = {"parent": {"run": {"runId": 7}}}
    (tmp_path / "one.json").write_text(json.dumps(event))
    with pytest.raises(DocumentError) as e:
        load_lineage(InputFiles(tmp_path), "one.json")
    assert (e.value.path, e.value.pointer) == ("one.json", "$.run.facets.parent.run.runId")
