"""A table or query in a database, through SQLAlchemy and GX's SQL data source.

``sql: {url, table | query}``. ``${env.NAME}`` in the URL (the placeholder of
rollback steps; the older ``${NAME}`` is read the same) is taken from the
environment, so credentials stay out of gate.yaml; the URL is never shown with
its password. A SQLite database file is part of the bundle: its path is
confined to the bundle folder, hashed, and opened read-only. GX is told not to
create temporary tables: the gate only ever reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from gate.documents import InputFiles
from gate.errors import GateError, ValidationError
from gate.fsutil import digest_file
from gate.validations.sources import user_label

# ${env.NAME}, as in rollback steps; ${NAME} (this source's first syntax) still reads the same.
ENV_REF = re.compile(r"\$\{(?:env\.)?([A-Za-z_][A-Za-z0-9_]*)\}")
ROLE = "validation data"
# SQLAlchemy backend -> GX's dialect-specific data source (better type handling);
# any other backend goes through GX's generic SQL data source.
GX_FACTORIES = {"sqlite": "add_sqlite", "postgresql": "add_postgres"}


def expand_env(text: str, validation: str, environ: Mapping[str, str] | None = None,
               manifest: str = "gate.yaml", *, what: str | None = None) -> str:
    """``text`` with every ``${env.NAME}`` (or ``${NAME}``) replaced from the environment;
    an unset variable is an error.

    ``what`` names the user of the url in the message (default: the validation).
    """
    env = os.environ if environ is None else environ
    missing = [m.group(1) for m in ENV_REF.finditer(text) if m.group(1) not in env]
    if missing:
        raise ValidationError(
            f"{user_label(validation, what)}: the sql url needs the environment variable "
            f"{', '.join(sorted(set(missing)))}, which is not set",
            path=manifest,
            hint="set it in the CI job's environment (a secret), or write the url out",
        )
    return ENV_REF.sub(lambda m: env[m.group(1)], text)


class SqlSource:
    """``sql: {url: ..., table: ...}`` or ``sql: {url: ..., query: ...}``."""

    def __init__(self, spec: Mapping[str, Any], files: InputFiles,
                 manifest: str = "gate.yaml", *, what: str | None = None) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        self.what = user_label(str(spec["name"]), what)
        self.manifest = manifest
        sql = spec["sql"]
        self.files = files
        self.table: str | None = sql.get("table")
        self.query: str | None = sql.get("query")
        raw = expand_env(str(sql["url"]), str(spec["name"]), manifest=manifest, what=self.what)
        try:
            url = make_url(raw)
        except ArgumentError as e:
            raise ValidationError(f"{self.what}: the sql url is not a "
                                  "SQLAlchemy URL", path=manifest,
                                  hint="write it as dialect+driver://user:password@host:port/db"
                                  ) from e
        self.password = url.password if isinstance(url.password, str) else None
        self.masked = url.render_as_string(hide_password=True)
        self.shown = f"{self.masked} table {self.table}" if self.table else f"{self.masked} query"
        self.backend = url.get_backend_name()
        self.url = self._sqlite_read_only(url) if self.backend == "sqlite" else raw

    def _sqlite_read_only(self, url: Any) -> str:
        """A SQLite file named relative to the bundle, opened read-only (mode=ro)."""
        database = url.database
        if not database or database == ":memory:":
            return str(url.render_as_string(hide_password=False))
        try:
            path = self.files.resolve(database, f"{self.what} sqlite database")
            sha, size, _ = digest_file(path, head_bytes=0)  # a named pipe is refused
        except GateError as e:
            raise ValidationError(e.message, path=e.path, hint=e.hint) from e
        except OSError as e:
            raise ValidationError(f"{self.what}: cannot read the sqlite "
                                  f"database: {e.strerror or e}", path=database) from e
        self.files.record(self.files.display(path), ROLE, sha, size)
        return f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"

    def why(self, e: BaseException) -> str:
        """The driver's error on one line, without SQLAlchemy's link, password masked."""
        text = " ".join(str(e).split())
        text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)
        if self.password:
            text = text.replace(self.password, "***")
        return text or type(e).__name__

    def batch(self, context: Any, name: str) -> Any:
        try:
            factory = getattr(context.data_sources, GX_FACTORIES.get(self.backend, "add_sql"))
            source = factory(name=name, connection_string=self.url, create_temp_table=False)
        except Exception as e:  # drivers, SQLAlchemy and GX each raise their own
            raise ValidationError(
                f"{self.what}: cannot connect to the database "
                f"{self.masked}: {self.why(e)}",
                path=self.manifest,
                hint="check that the database is reachable from here and the url and "
                     "credentials are right (the driver must be installed, e.g. "
                     "pip install 'gate-release[postgres]')",
            ) from e
        try:
            if self.table:
                schema, _, table = self.table.rpartition(".")
                asset = source.add_table_asset(name="data", table_name=table,
                                               schema_name=schema or None)
            else:
                asset = source.add_query_asset(name="data", query=self.query)
            return asset.add_batch_definition_whole_table("all").get_batch()
        except Exception as e:  # same: the error comes from the database
            what = f"table '{self.table}'" if self.table else "the query"
            raise ValidationError(
                f"{self.what}: cannot read {what} in {self.masked}: "
                f"{self.why(e)}",
                path=self.manifest,
                hint="check that the table exists (schema.table) and the user may select "
                     "from it, or that the query runs",
            ) from e
