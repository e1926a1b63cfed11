"""Where the ledger lives: a SQLite file (the default) or a PostgreSQL table.

Both stores give the same guarantee: an append reads the last record and
inserts the next one inside one transaction that holds the ledger's write
lock, so two writers never both build on the same record (the chain cannot
fork), and the append is durable when ``append`` returns (the commit is
synced), so a record a CI job was told about is never lost. A writer killed
in the middle of an append leaves no trace: the transaction never commits.

* SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before the
  last record is read; the rollback journal and ``synchronous=FULL`` make
  the commit atomic and durable. Other writers wait (``busy_timeout``).
* PostgreSQL: ``pg_advisory_xact_lock`` on a key derived from the table's
  name serialises appenders across every pipeline sharing the server; the
  primary key on ``seq`` is the backstop (a second record at the same place
  cannot be committed). psycopg2 is imported only here.

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or a
bare path; ``postgresql://user:password@host:port/db`` (``postgres://`` and
``postgresql+psycopg2://`` too), with ``?table=NAME`` to choose the table
(default ``gate_ledger``).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from gate.audit import AuditError
from gate.audit.chain import GENESIS, Record, seal

DEFAULT_TABLE = "gate_ledger"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
BUSY_TIMEOUT_S = 60.0
_COLUMNS = "seq, hash, record, kind, model, version, at"


@dataclass(frozen=True)
class Filters:
    """What ``gate audit log`` narrows to (all optional)."""

    model: str | None = None
    version: str | None = None
    kind: str | None = None  # exact, or a prefix ending in '.' ("rollback.")
    since: str | None = None  # ISO-8601, compared as text (records are UTC, same format)
    until: str | None = None
    limit: int | None = None


class LedgerStore(Protocol):
    """An append-only, hash-chained ledger."""

    shown: str  # the URL with any password masked

    def append(self, events: Sequence[Mapping[str, Any]]) -> list[Record]:
        """Seal ``events`` after the last record, in one transaction; the new records."""
        ...

    def records(self) -> Iterator[Record]:
        """Every record, in ``seq`` order, as stored (edited rows included)."""
        ...

    def find(self, filters: Filters) -> list[Record]:
        """The records matching ``filters``, in ``seq`` order."""
        ...

    def get(self, seq: int) -> Record | None:
        """The record at ``seq``."""
        ...

    def close(self) -> None: ...


def mask(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    return url


def open_ledger(url: str, *, cwd: Path | None = None, create: bool = True) -> LedgerStore:
    """The store ``url`` names; AuditError naming the URL (masked) when it cannot be opened."""
    text = url.strip()
    if not text:
        raise AuditError("the ledger URL is empty",
                         hint="pass --ledger sqlite:///path/ledger.db or postgresql://...")
    scheme = text.split(":", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres", "postgresql+psycopg2"):
        return PostgresLedger(text)
    if scheme and scheme != "sqlite":
        raise AuditError(f"the ledger URL '{mask(text)}' has the scheme '{scheme}', which gate "
                         "cannot store a ledger in",
                         hint="use sqlite:///path/ledger.db or postgresql://user@host/db")
    path = Path(text[len("sqlite:///"):] if scheme else text)
    if scheme and not text.startswith("sqlite:///"):
        raise AuditError(f"'{text}' is not a SQLite URL",
                         hint="write sqlite:///relative/path.db or sqlite:////absolute/path.db")
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return SqliteLedger(path, shown=text, create=create)


def _filter_sql(filters: Filters, mark: str) -> tuple[str, list[Any]]:
    where, args = [], []
    for column, value in (("model", filters.model), ("version", filters.version)):
        if value is not None:
            where.append(f"{column} = {mark}")
            args.append(value)
    if filters.kind:
        if filters.kind.endswith("."):
            where.append(f"substr(kind, 1, {len(filters.kind)}) = {mark}")
        else:
            where.append(f"kind = {mark}")
        args.append(filters.kind)
    if filters.since:
        where.append(f"at >= {mark}")
        args.append(filters.since)
    if filters.until:
        where.append(f"at <= {mark}")
        args.append(filters.until)
    sql = (" WHERE " + " AND ".join(where)) if where else ""
    sql += " ORDER BY seq"
    if filters.limit is not None:
        sql += f" LIMIT {int(filters.limit)}"
    return sql, args


def _row(row: Sequence[Any]) -> Record:
    seq, hsh, text, kind, model, version, at = row
    return Record(seq=int(seq), hash=str(hsh), text=str(text), kind=str(kind),
                  model=model, version=version, at=str(at))


# --- SQLite -------------------------------------------------------------------

_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {DEFAULT_TABLE} (
    seq     INTEGER PRIMARY KEY,
    hash    TEXT NOT NULL UNIQUE,
    record  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    model   TEXT,
    version TEXT,
    at      TEXT NOT NULL
)
"""


class _SqlLedger:
    """What the SQL stores share: sealing a batch onto the head, and the queries. A store
    sets ``table`` and ``mark`` (its driver's parameter placeholder) and runs ``_query``."""

    table: str = DEFAULT_TABLE
    mark: str = "?"

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Record]:
        raise NotImplementedError

    def _insert_sql(self) -> str:
        return f"INSERT INTO {self.table} ({_COLUMNS}) VALUES ({', '.join([self.mark] * 7)})"

    @staticmethod
    def _seal_all(events: Sequence[Mapping[str, Any]], head: Any,
                  insert: Callable[[Record], object]) -> list[Record]:
        """Seal ``events`` in order onto ``head`` (the last row's seq and hash, or None),
        inserting each; the caller holds the write lock and the transaction."""
        seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
        out = []
        for event in events:
            seq += 1
            rec = seal(event, seq, prev)
            insert(rec)
            prev = rec.hash
            out.append(rec)
        return out

    def find(self, filters: Filters) -> list[Record]:
        sql, args = _filter_sql(filters, self.mark)
        return self._query(f"SELECT {_COLUMNS} FROM {self.table}{sql}", args)

    def get(self, seq: int) -> Record | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM {self.table} WHERE seq = {self.mark}",
                           [seq])
        return rows[0] if rows else None


def _values(rec: Record) -> tuple[Any, ...]:
    return (rec.seq, rec.hash, rec.text, rec.kind, rec.model, rec.version, rec.at)


class SqliteLedger(_SqlLedger):
    """A ledger in one SQLite file: no server; a pre-commit hook or a laptop is enough."""

    def __init__(self, path: Path, *, shown: str, create: bool = True) -> None:
        self.path = path
        self.shown = shown
        if not create and not path.exists():
            raise AuditError("the ledger does not exist", path=shown,
                             hint="pass the ledger your runs append to (--ledger or $GATE_LEDGER)")
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA journal_mode=DELETE")
            if create:
                self._db.execute(_SQLITE_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            raise self._error("cannot open the ledger", e) from e

    def _error(self, what: str, e: BaseException) -> AuditError:
        why = getattr(e, "strerror", None) or str(e)
        return AuditError(f"{what}: {why}", path=self.shown,
                          hint="check that the ledger's file and folder exist and are writable, "
                          "and that the disk is not full; the run fails closed until it can "
                          "append")

    def append(self, events: Sequence[Mapping[str, Any]]) -> list[Record]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")  # the write lock, before the head is read
            try:
                head = db.execute(f"SELECT seq, hash FROM {self.table} "
                                  "ORDER BY seq DESC LIMIT 1").fetchone()
                insert = self._insert_sql()
                out = self._seal_all(events, head,
                                     lambda rec: db.execute(insert, _values(rec)))
                db.execute("COMMIT")
                return out
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as e:
            raise self._error("cannot append to the ledger", e) from e

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Record]:
        try:
            return [_row(r) for r in self._db.execute(sql, list(args)).fetchall()]
        except sqlite3.Error as e:
            raise self._error("cannot read the ledger", e) from e

    def records(self) -> Iterator[Record]:
        try:
            cur = self._db.execute(f"SELECT {_COLUMNS} FROM {self.table} ORDER BY seq")
            for r in cur:
                yield _row(r)
        except sqlite3.Error as e:
            raise self._error("cannot read the ledger", e) from e

    def close(self) -> None:
        self._db.close()


# --- PostgreSQL -----------------------------------------------------------------


class PostgresLedger(_SqlLedger):
    """A ledger in a PostgreSQL table, shared by every pipeline of an organisation."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        table = (query.pop("table", [DEFAULT_TABLE]) or [DEFAULT_TABLE])[-1]
        self.shown = mask(url)
        if not _IDENT.match(table):
            raise AuditError(f"'{table}' is not a table name gate accepts", path=self.shown,
                             hint="use lower-case letters, digits and _ (at most 63)")
        self.table = table
        self.mark = "%s"
        # psycopg2 reads postgresql:// URIs itself; the driver suffix and our own
        # parameter are removed, every other query parameter is passed on.
        rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        # Two 32-bit halves of a digest of the table name: the key of the appenders' lock.
        digest = hashlib.sha256(f"gate-ledger:{table}".encode()).digest()
        self._lock = (int.from_bytes(digest[:4], "big", signed=True),
                      int.from_bytes(digest[4:8], "big", signed=True))
        try:
            import psycopg2
        except ImportError as e:
            raise AuditError("a PostgreSQL ledger needs psycopg2, which is not installed",
                             path=self.shown,
                             hint="pip install 'gate-release[audit]' (or psycopg2-binary)") from e
        self._pg = psycopg2
        try:
            self._db = psycopg2.connect(dsn, connect_timeout=10,
                                        application_name="gate-ledger")
            with self._db, self._db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock)
                cur.execute(f"""CREATE TABLE IF NOT EXISTS {table} (
                    seq BIGINT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, record TEXT NOT NULL,
                    kind TEXT NOT NULL, model TEXT, version TEXT, at TEXT NOT NULL)""")
        except psycopg2.Error as e:
            raise self._error("cannot open the ledger", e) from e

    def _error(self, what: str, e: BaseException) -> AuditError:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return AuditError(f"{what}: {why}", path=self.shown,
                          hint="check that the PostgreSQL server is reachable and the role may "
                          "write the table; the run fails closed until it can append")

    def append(self, events: Sequence[Mapping[str, Any]]) -> list[Record]:
        try:
            with self._db, self._db.cursor() as cur:  # one transaction: commit or roll back
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock)
                cur.execute(f"SELECT seq, hash FROM {self.table} ORDER BY seq DESC LIMIT 1")
                insert = self._insert_sql()
                out = self._seal_all(events, cur.fetchone(),
                                     lambda rec: cur.execute(insert, _values(rec)))
            return out
        except self._pg.Error as e:
            raise self._error("cannot append to the ledger", e) from e

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Record]:
        try:
            with self._db, self._db.cursor() as cur:
                cur.execute(sql, list(args))
                return [_row(r) for r in cur.fetchall()]
        except self._pg.Error as e:
            raise self._error("cannot read the ledger", e) from e

    def records(self) -> Iterator[Record]:
        # A named (server-side) cursor streams a long chain in batches.
        try:
            with self._db, self._db.cursor(name="gate_ledger_verify") as cur:
                cur.itersize = 2000
                cur.execute(f"SELECT {_COLUMNS} FROM {self.table} ORDER BY seq")
                for r in cur:
                    yield _row(r)
        except self._pg.Error as e:
            raise self._error("cannot read the ledger", e) from e

    def close(self) -> None:
        self._db.close()
