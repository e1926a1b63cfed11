"""OpenLineage RunEvent(s) -> ``input.lineage``.

Accepts one event, a list of them, JSON lines, or (through ``gate.bundle``) a
folder of event files as OpenLineage's FileTransport writes them, one file
per event. A log may hold several runs (an Airflow DAG run and its task runs,
earlier attempts); one is judged:

* the run ``lineage.run_id`` names, else the one run of the job
  ``lineage.job`` names (``name`` or ``namespace/name``), else the one child
  run of ``lineage.parent`` (a parent's run id or job name);
* with none of these, the log's only run, or the only run that is no other
  run's parent (a DAG run and its one task run: the task run).

Anything else (two unrelated runs, two runs of the named job) is an error
listing the runs, never a guess. ``started_at`` is the first START event's
``eventTime`` and ``ended_at`` the last COMPLETE event's, so a run that failed
or was aborted has ``ended_at: null``. Code comes from a ``gate_code`` run
facet ``{repository, commit}`` if present, else from the job's
``sourceCodeLocation`` facet (``repoUrl`` or ``url``, and ``version``).

Datasets are merged across the run's events by URI: ``namespace/name``, and
``file://<path>`` for the ``file`` namespace of local files (as OpenLineage
names them: namespace ``file``, name the path). A digest comes from a
``gate_digest`` facet ``{sha256}`` or a ``version`` facet whose
``datasetVersion`` is a 64-hex sha256. An input's role is, first match wins
(``role_from`` says which):

1. ``gate_role`` facet ``{role}``: the override;
2. ``tags`` facet: a tag ``role`` or ``split`` whose value names a role;
3. ``datasetType`` facet ``MODEL``: a model (a base model), role ``other``;
4. ``name``: the dataset name's words name exactly one role (``train``,
   ``training``; ``val``, ``valid``, ``validation``; ``test``, ``testing``,
   ``holdout``; ``eval``, ``evaluation``), e.g. ``splits/test/part-0.parquet``;
5. ``job``: the run is a training job (an output whose ``datasetType`` is
   ``MODEL``, a ``jobType`` facet of ``TRAIN``/``TRAINING``, or a job name
   with the word ``train``, ``training``, ``fit`` or ``finetune``), so its
   other inputs are training data;
6. otherwise ``other``.

Each place is looked up in ``facets`` and in ``inputFacets``/``outputFacets``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gate.bundle.formats.lineage import ROLES, shape
from gate.errors import BundleError, DocumentError, json_path
from gate.schemas import first_problem

SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
ROLE_WORDS = {
    "train": "train", "training": "train",
    "val": "validation", "valid": "validation", "validation": "validation",
    "test": "test", "testing": "test", "holdout": "test",
    "eval": "eval", "evaluation": "eval",
}
TRAINING_JOB_WORDS = {"train", "training", "fit", "finetune"}
TRAINING_JOB_TYPES = {"TRAIN", "TRAINING"}
ROLE_TAG_KEYS = {"role", "split"}
STATED = {"gate_role", "tags", "name"}  # a role someone wrote down, not one inferred
MAX_LISTED_RUNS = 10
_WORD = re.compile(r"[a-z0-9]+")
_TEXT = {"type": ["string", "null"]}
_FACETS = {
    "type": ["object", "null"],
    "properties": {
        "gate_role": {
            "type": "object",
            "required": ["role"],
            "properties": {"role": {"enum": list(ROLES)}},
        },
        "gate_digest": {
            "type": "object",
            "required": ["sha256"],
            "properties": {"sha256": {"type": "string", "pattern": SHA256.pattern}},
        },
        "version": {"type": "object", "properties": {"datasetVersion": _TEXT}},
        "datasetType": {"type": "object", "properties": {"datasetType": _TEXT}},
        "tags": {
            "type": "object",
            "properties": {
                "tags": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "properties": {"key": _TEXT, "value": _TEXT},
                    },
                }
            },
        },
    },
}
_DATASET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "namespace": _TEXT,
        "name": {"type": "string", "minLength": 1},
        "facets": _FACETS,
        "inputFacets": _FACETS,
        "outputFacets": _FACETS,
    },
}
_NAMED = {"type": ["object", "null"], "properties": {"namespace": _TEXT, "name": _TEXT}}
EVENT_SCHEMA = {
    "type": "object",
    "required": ["run"],
    "properties": {
        "eventType": _TEXT,
        "eventTime": _TEXT,
        "producer": _TEXT,
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {
                "runId": {"type": "string", "minLength": 1},
                "facets": {
                    "type": ["object", "null"],
                    "properties": {
                        "gate_code": {
                            "type": "object",
                            "properties": {"repository": _TEXT, "commit": _TEXT},
                        },
                        "parent": {
                            "type": "object",
                            "properties": {
                                "run": {"type": ["object", "null"],
                                        "properties": {"runId": _TEXT}},
                                "job": _NAMED,
                            },
                        },
                    },
                },
            },
        },
        "job": {
            "type": ["object", "null"],
            "properties": {
                "namespace": _TEXT,
                "name": _TEXT,
                "facets": {
                    "type": ["object", "null"],
                    "properties": {
                        "sourceCodeLocation": {
                            "type": "object",
                            "properties": {"url": _TEXT, "repoUrl": _TEXT, "version": _TEXT},
                        },
                        "jobType": {"type": "object", "properties": {"jobType": _TEXT}},
                    },
                },
            },
        },
        "inputs": {"type": ["array", "null"], "items": _DATASET},
        "outputs": {"type": ["array", "null"], "items": _DATASET},
    },
}

# One event and where it was read: (event, the file shown to users, its JSON path prefix).
Entry = tuple[dict[str, Any], str, list[Any]]


def detect(doc: Any) -> bool:
    """OpenLineage: a list of events, or a mapping with eventType, job or run.runId."""
    if isinstance(doc, list):
        return True
    if not isinstance(doc, dict):
        return False
    run = doc.get("run")
    return "eventType" in doc or "job" in doc or (isinstance(run, dict) and "runId" in run)


def _fail(message: str, shown: str, parts: list[Any], hint: str | None = None) -> DocumentError:
    where = json_path(parts)
    return DocumentError(f"OpenLineage event at {where}: {message}", path=shown, pointer=where,
                         hint=hint or f"fix the value at {where}")


def _check(event: Any, shown: str, prefix: list[Any]) -> None:
    found = first_problem(event, EVENT_SCHEMA, prefix)
    if found is not None:
        where, message = found
        raise DocumentError(f"OpenLineage event at {where}: {message}", path=shown,
                            pointer=where, hint=f"fix the value at {where}")


def entries(doc: Any, shown: str) -> list[Entry]:
    """The events of one parsed document, each with its file and JSON path prefix."""
    if isinstance(doc, list):
        return [(event, shown, [i]) for i, event in enumerate(doc)]
    return [(doc, shown, [])]


def _digest(facets: dict[str, Any]) -> str | None:
    declared = (facets.get("gate_digest") or {}).get("sha256")
    version = (facets.get("version") or {}).get("datasetVersion")
    for value in (declared, version):
        match = SHA256.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1).lower()
    return None


def _uri(namespace: str, name: str) -> str:
    """The dataset's URI; OpenLineage's local-file namespace ``file`` gives ``file://<path>``."""
    if namespace.lower() == "file":
        return f"file://{name}" if name.startswith("/") else f"file:{name}"
    namespace = namespace.rstrip("/")
    return f"{namespace}/{name.lstrip('/')}" if namespace else name


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _named_role(name: str) -> str | None:
    found = {ROLE_WORDS[w] for w in _words(name) if w in ROLE_WORDS}
    return found.pop() if len(found) == 1 else None


def _tagged_role(facets: list[dict[str, Any]]) -> str | None:
    for facet in facets:
        for tag in (facet.get("tags") or {}).get("tags") or []:
            key, value = str(tag.get("key") or "").lower(), str(tag.get("value") or "").lower()
            if key in ROLE_TAG_KEYS and value in ROLE_WORDS:
                return ROLE_WORDS[value]
    return None


def _dataset_type(facets: list[dict[str, Any]]) -> str:
    for facet in facets:
        value = (facet.get("datasetType") or {}).get("datasetType")
        if isinstance(value, str) and value:
            return value.upper()
    return ""


def _dataset(ds: dict[str, Any], io_key: str, training_job: bool) -> dict[str, Any]:
    facets = [ds.get("facets") or {}, ds.get(io_key) or {}]
    name: str = ds["name"]
    sha = next((d for d in map(_digest, facets) if d), None)
    role, role_from = None, None
    declared = next((f["gate_role"]["role"] for f in facets if "gate_role" in f), None)
    if declared:
        role, role_from = declared, "gate_role"
    elif tagged := _tagged_role(facets):
        role, role_from = tagged, "tags"
    elif _dataset_type(facets) == "MODEL":
        role, role_from = "other", "dataset_type"
    elif named := _named_role(name):
        role, role_from = named, "name"
    elif training_job and io_key == "inputFacets":
        role, role_from = "train", "job"
    return {"name": name, "uri": _uri(ds.get("namespace") or "", name), "sha256": sha,
            "role": role, "role_from": role_from}


def _is_training_job(events: Sequence[dict[str, Any]]) -> bool:
    for event in events:
        job = event.get("job") or {}
        if _words(str(job.get("name") or "")) & TRAINING_JOB_WORDS:
            return True
        job_type = ((job.get("facets") or {}).get("jobType") or {}).get("jobType")
        if isinstance(job_type, str) and job_type.upper() in TRAINING_JOB_TYPES:
            return True
        for out in event.get("outputs") or []:
            if _dataset_type([out.get("facets") or {}, out.get("outputFacets") or {}]) == "MODEL":
                return True
    return False


def _merge(
    into: dict[str, dict[str, Any]], ds: dict[str, Any], shown: str, parts: list[Any]
) -> None:
    """Fill in what earlier events left unknown; contradicting digests are an error.

    One URI said to be in two roles (train and test, say) stays two datasets, so the
    leakage rule sees both; an inferred training role yields to a stated one.
    """
    known = into.setdefault(ds["uri"], ds)
    if known is ds:
        return
    if known["role_from"] in STATED and ds["role_from"] in STATED and known["role"] != ds["role"]:
        known = into.setdefault(f"{ds['uri']}\x00{ds['role']}", ds)
        if known is ds:
            return
    if known["sha256"] and ds["sha256"] and known["sha256"] != ds["sha256"]:
        raise _fail(f"dataset {ds['uri']} has two different sha256 digests", shown, parts,
                    hint="every event of the run must report the same digest for a dataset")
    known["sha256"] = known["sha256"] or ds["sha256"]
    if not known["role"] or (known["role_from"] == "job" and ds["role_from"] != "job"):
        known["role"], known["role_from"] = ds["role"], ds["role_from"]


def _job_names(event: dict[str, Any]) -> set[str]:
    job = event.get("job") or {}
    name, namespace = job.get("name"), job.get("namespace")
    return {n for n in (name, f"{namespace}/{name}" if namespace and name else None) if n}


def _parent(event: dict[str, Any]) -> dict[str, Any]:
    parent: dict[str, Any] = ((event["run"].get("facets") or {}).get("parent")) or {}
    return parent


def _parent_names(event: dict[str, Any]) -> set[str]:
    parent = _parent(event)
    run_id = (parent.get("run") or {}).get("runId")
    return {n for n in (run_id, *_job_names(parent)) if n}


def _describe(runs: dict[str, list[Entry]], ids: Sequence[str]) -> str:
    shown = []
    for run_id in ids[:MAX_LISTED_RUNS]:
        names = sorted(n for e, _, _ in runs[run_id] for n in _job_names(e) if "/" not in n)
        shown.append(f"{run_id} (job {names[0] if names else '?'})")
    more = f", and {len(ids) - MAX_LISTED_RUNS} more" if len(ids) > MAX_LISTED_RUNS else ""
    return ", ".join(shown) + more


def _select(runs: dict[str, list[Entry]], select: dict[str, str], shown: str) -> str:
    """The run id to judge; BundleError when the choice is absent or ambiguous."""
    ids = list(runs)
    hint = ("name the run in gate.yaml: lineage: {path: ..., run_id: <runId>} (or job: <job "
            "name>, or parent: <parent run id or job name>)")
    if "run_id" in select:
        if select["run_id"] not in runs:
            raise BundleError(f"lineage: no run {select['run_id']} in the log; it holds "
                              f"{_describe(runs, ids)}", path=shown, hint=hint)
        return select["run_id"]
    chosen, what = ids, "the log"
    if "job" in select:
        chosen = [r for r in chosen if any(select["job"] in _job_names(e) for e, _, _ in runs[r])]
        what = f"job {select['job']}"
    if "parent" in select:
        chosen = [r for r in chosen
                  if any(select["parent"] in _parent_names(e) for e, _, _ in runs[r])]
        what = f"{what}, child of {select['parent']}" if "job" in select else (
            f"child runs of {select['parent']}")
    if not select and len(chosen) > 1:
        parents = {(_parent(e).get("run") or {}).get("runId")
                   for events in runs.values() for e, _, _ in events}
        leaves = [r for r in chosen if r not in parents]
        if len(leaves) == 1:
            return leaves[0]
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        raise BundleError(f"lineage: no run matches {what}; the log holds {_describe(runs, ids)}",
                          path=shown, hint=hint)
    raise BundleError(f"lineage: {what} holds {len(chosen)} runs, and gate judges one: "
                      f"{_describe(runs, chosen)}", path=shown, hint=hint)


def read(doc: Any, shown: str, role: str) -> dict[str, Any]:
    """Normalise the OpenLineage events of one document into ``input.lineage``."""
    return read_events(entries(doc, shown), shown, role, {})


def read_events(
    events: list[Entry], shown: str, role: str, select: dict[str, str]
) -> dict[str, Any]:
    """``input.lineage`` from the events of one run of the log (``select`` picks it)."""
    if not events:
        raise _fail("the list holds no events", shown, [],
                    hint="export the START and COMPLETE events of the training run")
    runs: dict[str, list[Entry]] = {}
    for entry in events:
        _check(*entry)
        runs.setdefault(entry[0]["run"]["runId"], []).append(entry)
    run_id = _select(runs, select, shown)
    chosen = runs[run_id]
    training_job = _is_training_job([e for e, _, _ in chosen])
    run: dict[str, Any] = {"id": run_id}
    code: dict[str, Any] = {}
    inputs: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for event, where, prefix in chosen:
        kind, time = event.get("eventType"), event.get("eventTime")
        if kind == "START" and not run.get("started_at"):
            run["started_at"] = time
        if kind == "COMPLETE":
            run["ended_at"] = time
        run["producer"] = run.get("producer") or event.get("producer")
        if not code:
            code = _code(event)
        for j, ds in enumerate(event.get("inputs") or []):
            _merge(inputs, _dataset(ds, "inputFacets", training_job), where,
                   [*prefix, "inputs", j])
        for j, ds in enumerate(event.get("outputs") or []):
            _merge(outputs, _dataset(ds, "outputFacets", training_job), where,
                   [*prefix, "outputs", j])
    raw: Any = chosen[0][0] if len(events) == 1 and not chosen[0][2] else [
        e for e, _, _ in chosen]
    return shape(run, code, list(inputs.values()), list(outputs.values()), raw)


def _code(event: dict[str, Any]) -> dict[str, Any]:
    gate_code = ((event["run"].get("facets") or {}).get("gate_code")) or {}
    if gate_code.get("repository") or gate_code.get("commit"):
        return {"repository": gate_code.get("repository"), "commit": gate_code.get("commit")}
    location = ((event.get("job") or {}).get("facets") or {}).get("sourceCodeLocation") or {}
    repository = location.get("repoUrl") or location.get("url")
    if repository or location.get("version"):
        return {"repository": repository, "commit": location.get("version")}
    return {}
