"""The hash chain: how a record is sealed, and how a run of records is checked.

A record is one JSON object, stored as the exact canonical text that was
hashed (keys sorted, no spaces, UTF-8), so verifying never depends on how a
store or a later version of gate would serialise it again:

    {"seq": 7, "prev": "<hash of record 6>", "kind": "check.decision", "at": "...",
     "model": {"name": ..., "version": ...}, "decision_sha256": ..., "inputs": [...],
     "engine": {...}, "ci": {...}, "signers": [...], "event": {...}}

``hash = sha256(text)``. The first record's ``prev`` is 64 zeros. Each row
also keeps ``kind``, ``model``, ``version`` and ``at`` in columns of their own
for filtering; ``verify`` checks them against the text too.

What ``verify`` finds, first problem first: a record whose text no longer
hashes to its hash (edited), a gap in the sequence (removed), a record whose
``seq`` or ``prev`` does not follow the one before it (reordered, or removed
and re-sealed), a column that disagrees with its record, and, given the head
digest a run published elsewhere, a chain that stops short of it (truncated)
or holds another record at that place (rewritten).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gate.documents import parse_json
from gate.errors import DocumentError

GENESIS = "0" * 64
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEAD = re.compile(r"^(?P<seq>[0-9]+):(?P<hash>[0-9a-fA-F]{64})$")


def canonical(doc: Any) -> str:
    """The one text a record is hashed as (and a waiver sign-off signed over, see
    ``gate.governance.signoff.payload``): sorted keys, no spaces, no NaN. Never change it:
    sealed records and signatures already made would no longer verify."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def digest_text(text: str) -> str:
    """sha256 (hex) of a record's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Record:
    """One stored row: its place, hash and text, and the columns kept for filtering."""

    seq: int
    hash: str
    text: str
    kind: str = ""
    model: str | None = None
    version: str | None = None
    at: str = ""

    @property
    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = parse_json(self.text)
        return doc

    @property
    def head(self) -> Head:
        """This record as the head a run publishes (``SEQ:SHA256``)."""
        return Head(self.seq, self.hash)

    def to_json(self) -> dict[str, Any]:
        """One line of ``gate audit export``: the record as sealed, with its place and hash."""
        return {"seq": self.seq, "hash": self.hash, "record": self.body}


def seal(event: Mapping[str, Any], seq: int, prev: str) -> Record:
    """The record that puts ``event`` at place ``seq`` after the record hashed ``prev``."""
    body = {**event, "seq": seq, "prev": prev}
    text = canonical(body)
    model = body.get("model") or {}
    return Record(seq=seq, hash=digest_text(text), text=text, kind=str(body["kind"]),
                  model=model.get("name"), version=model.get("version"), at=str(body["at"]))


@dataclass(frozen=True)
class Head:
    """The last record a run appended, published outside the ledger: ``SEQ:SHA256``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        m = _HEAD.match(text.strip())
        if not m or int(m["seq"]) < 1:
            raise ValueError(f"'{text}' is not a ledger head: write SEQ:SHA256, as a run "
                             "printed it (e.g. 12:3f0c...)")
        return cls(int(m["seq"]), m["hash"].lower())


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a chain: where, and what."""

    seq: int
    what: str  # edited, removed, reordered, truncated, rewritten, malformed

    message: str


@dataclass(frozen=True)
class Verdict:
    """The result of checking a chain."""

    records: int
    head: Head | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _record_problem(rec: Record, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "its text is not a JSON object"
    for key, typ in (("seq", int), ("prev", str), ("kind", str), ("at", str)):
        if not isinstance(body.get(key), typ) or isinstance(body.get(key), bool):
            return f"its '{key}' is missing or not a {typ.__name__}"
    model = body.get("model") or {}
    if not isinstance(model, dict):
        return "its 'model' is not an object"
    columns = (("kind", rec.kind, body["kind"]), ("at", rec.at, body["at"]),
               ("model", rec.model, model.get("name")),
               ("version", rec.version, model.get("version")))
    for name, column, value in columns:
        if column != value:
            return (f"its '{name}' column says {column!r} but the sealed record says {value!r} "
                    "(the row was edited)")
    return None


def _head(rec: Record | None) -> Head | None:
    return rec.head if rec is not None else None


def verify(records: Iterable[Record], expect: Head | None = None) -> Verdict:
    """Walk the chain in store order; stop at the first problem.

    ``expect`` is a head published outside the ledger (a job output, a dotenv
    variable, decision.json): the chain must reach it with that very record.
    Later records may follow it (later runs appended them).
    """
    prev, count, last = GENESIS, 0, None
    for rec in records:
        count += 1
        want = (last.seq + 1) if last else 1
        if rec.seq != want:
            what = "removed" if rec.seq > want else "reordered"
            gap = f"record {want} is missing" if rec.seq > want else \
                f"record {rec.seq} appears again after record {want - 1}"
            return Verdict(count, _head(last),
                           Problem(want, what, f"{gap}: the ledger jumps from record "
                                   f"{want - 1} to record {rec.seq}"))
        if digest_text(rec.text) != rec.hash or not _HEX64.match(rec.hash):
            return Verdict(count, _head(last),
                           Problem(rec.seq, "edited", f"record {rec.seq} was edited: its "
                                   "content no longer matches its hash"))
        try:
            body = parse_json(rec.text)
        except DocumentError:  # not JSON, or not strict JSON (a key twice, NaN)
            body = None
        why = _record_problem(rec, body)
        if why is not None:
            return Verdict(count, _head(last),
                           Problem(rec.seq, "edited" if body is not None else "malformed",
                                   f"record {rec.seq}: {why}"))
        if body["seq"] != rec.seq:
            return Verdict(count, _head(last),
                           Problem(rec.seq, "reordered", f"the record at place {rec.seq} was "
                                   f"sealed as record {body['seq']}: records were moved"))
        if body["prev"] != prev:
            return Verdict(count, _head(last),
                           Problem(rec.seq, "reordered", f"record {rec.seq} does not follow "
                                   f"record {rec.seq - 1}: its 'prev' is not that record's hash "
                                   "(records before it were removed, replaced or reordered)"))
        prev, last = rec.hash, rec
        if expect is not None and rec.seq == expect.seq and rec.hash != expect.hash:
            return Verdict(count, _head(rec),
                           Problem(rec.seq, "rewritten", f"record {rec.seq} is not the one "
                                   f"published as the head ({expect.hash[:16]}...): the chain "
                                   "was rewritten from there on"))
    head = _head(last)
    if expect is not None and (head is None or head.seq < expect.seq):
        ends = f"ends at record {head.seq}" if head else "is empty"
        return Verdict(count, head, Problem(head.seq + 1 if head else 1, "truncated",
                                            f"the ledger {ends}, but a run published record "
                                            f"{expect.seq} as its head: records were cut off "
                                            "the end"))
    return Verdict(count, head, None)
