"""OpenLineage RunEvent(s) -> ``input.lineage``.

Accepts one event, a list of them, or JSON lines. All events must belong to
one run (one ``run.runId``). ``started_at`` is the first START event's
``eventTime`` and ``ended_at`` the last COMPLETE event's, so a run that failed
or was aborted has ``ended_at: null``. Code comes from a ``gate_code`` run
facet ``{repository, commit}`` if present, else from the job's
``sourceCodeLocation`` facet (``repoUrl`` or ``url``, and ``version``).
Datasets are merged across events by URI (``namespace/name``); a role comes
from a ``gate_role`` facet ``{role}`` and a digest from a ``gate_digest``
facet ``{sha256}`` or a ``version`` facet whose ``datasetVersion`` is a
64-hex sha256, each found in ``facets`` or in ``inputFacets``/``outputFacets``.
"""

from __future__ import annotations

import re
from typing import Any

from gate.bundle.formats.lineage import ROLES, shape
from gate.errors import DocumentError
from gate.schemas import first_problem, json_path

SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
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
                        }
                    },
                },
            },
        },
        "job": {
            "type": ["object", "null"],
            "properties": {
                "facets": {
                    "type": ["object", "null"],
                    "properties": {
                        "sourceCodeLocation": {
                            "type": "object",
                            "properties": {"url": _TEXT, "repoUrl": _TEXT, "version": _TEXT},
                        }
                    },
                }
            },
        },
        "inputs": {"type": ["array", "null"], "items": _DATASET},
        "outputs": {"type": ["array", "null"], "items": _DATASET},
    },
}


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


def _digest(facets: dict[str, Any]) -> str | None:
    declared = (facets.get("gate_digest") or {}).get("sha256")
    version = (facets.get("version") or {}).get("datasetVersion")
    for value in (declared, version):
        match = SHA256.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1).lower()
    return None


def _dataset(ds: dict[str, Any], io_key: str) -> dict[str, Any]:
    facets = [ds.get("facets") or {}, ds.get(io_key) or {}]
    namespace = (ds.get("namespace") or "").rstrip("/")
    name: str = ds["name"]
    uri = f"{namespace}/{name.lstrip('/')}" if namespace else name
    role = next((f["gate_role"]["role"] for f in facets if "gate_role" in f), None)
    sha = next((d for d in map(_digest, facets) if d), None)
    return {"name": name, "uri": uri, "sha256": sha, "role": role}


def _merge(
    into: dict[str, dict[str, Any]], ds: dict[str, Any], shown: str, parts: list[Any]
) -> None:
    """Fill in what earlier events left unknown; contradicting digests are an error."""
    known = into.setdefault(ds["uri"], ds)
    if known is ds:
        return
    if known["sha256"] and ds["sha256"] and known["sha256"] != ds["sha256"]:
        raise _fail(f"dataset {ds['uri']} has two different sha256 digests", shown, parts,
                    hint="every event of the run must report the same digest for a dataset")
    known["sha256"] = known["sha256"] or ds["sha256"]
    known["role"] = known["role"] or ds["role"]


def read(doc: Any, shown: str, role: str) -> dict[str, Any]:
    """Normalise OpenLineage events of one run into ``input.lineage``."""
    events = doc if isinstance(doc, list) else [doc]
    if not events:
        raise _fail("the list holds no events", shown, [],
                    hint="export the START and COMPLETE events of the training run")
    run: dict[str, Any] = {}
    code: dict[str, Any] = {}
    inputs: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for i, event in enumerate(events):
        prefix: list[Any] = [i] if isinstance(doc, list) else []
        _check(event, shown, prefix)
        run_id = event["run"]["runId"]
        if run.setdefault("id", run_id) != run_id:
            raise _fail(f"events of more than one run ({run['id']}, {run_id})", shown,
                        [*prefix, "run", "runId"],
                        hint="give the events of the one run that trained this model")
        kind, time = event.get("eventType"), event.get("eventTime")
        if kind == "START" and not run.get("started_at"):
            run["started_at"] = time
        if kind == "COMPLETE":
            run["ended_at"] = time
        run["producer"] = run.get("producer") or event.get("producer")
        if not code:
            code = _code(event)
        for j, ds in enumerate(event.get("inputs") or []):
            _merge(inputs, _dataset(ds, "inputFacets"), shown, [*prefix, "inputs", j])
        for j, ds in enumerate(event.get("outputs") or []):
            _merge(outputs, _dataset(ds, "outputFacets"), shown, [*prefix, "outputs", j])
    return shape(run, code, list(inputs.values()), list(outputs.values()), doc)


def _code(event: dict[str, Any]) -> dict[str, Any]:
    gate_code = ((event["run"].get("facets") or {}).get("gate_code")) or {}
    if gate_code.get("repository") or gate_code.get("commit"):
        return {"repository": gate_code.get("repository"), "commit": gate_code.get("commit")}
    location = ((event.get("job") or {}).get("facets") or {}).get("sourceCodeLocation") or {}
    repository = location.get("repoUrl") or location.get("url")
    if repository or location.get("version"):
        return {"repository": repository, "commit": location.get("version")}
    return {}
