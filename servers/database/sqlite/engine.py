"""The SQLite engine: the stdlib ``sqlite3`` in worker threads, with a small pool of open connections.

Each call takes an idle connection (or opens one), installs the call's authorizer and deadline,
runs in a worker thread (``anyio.to_thread``) and puts the connection back. Reads also run with
``PRAGMA query_only = ON``; read-only connections open the file with ``mode=ro``. Writes run in
``BEGIN IMMEDIATE`` ... ``COMMIT``. Pages skip the rows of earlier pages (SQLite has no cheaper
way to resume an arbitrary statement), in the statement's own order.

URLs: ``sqlite:///relative/path.db`` (relative to the working directory) or
``sqlite:////absolute/path.db``.

Tracing: :meth:`SqliteEngine._run`, which every call goes through, opens one ``sqlite <OPERATION>``
backend span around the worker-thread work: the statement's leading keyword when it is a known
one (``SELECT``, ``INSERT``, ``PRAGMA``...; ``OTHER`` otherwise), ``EXPLAIN`` for plans and
``SELECT`` for the catalog reads. Its ``db.namespace`` is the connection's name; no path, statement
text or parameter.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import anyio.to_thread

from mesh import tracing
from servers.database.connections import NamedConnection
from servers.database.errors import DbError, refused, unavailable
from servers.database.sql import cursor_positions
from servers.database.sql.models import (
    ColumnInfo,
    ExecuteResult,
    ExplainResult,
    ForeignKeyInfo,
    IndexInfo,
    QueryResult,
    ResultColumn,
    SchemaInfo,
    SchemaList,
    TableDescription,
    TableInfo,
    TableList,
)
from servers.database.sql.paging import take_page
from servers.database.sql.values import to_json
from servers.database.sqlite.statement_guard import Authorizer, check_single_statement, deadline_handler

T = TypeVar("T")
_local = threading.local()


def own(conn: sqlite3.Connection, sql: str) -> None:
    """Run the server's own transaction control (BEGIN/COMMIT/ROLLBACK) past the call's authorizer."""
    conn.set_authorizer(None)
    try:
        conn.execute(sql)
    finally:
        conn.set_authorizer(getattr(_local, "authorizer", None))


_SKIP_CHUNK = 10_000
_NO_ROWS_STATEMENTS = ("VACUUM",)
_LEADING_WORD = re.compile(r"\s*([A-Za-z]+)")
# Span operation names: a statement's leading keyword when it is one of these, else OTHER.
_KEYWORDS = frozenset(
    [
        "SELECT",
        "WITH",
        "VALUES",
        "PRAGMA",
        "EXPLAIN",
        "INSERT",
        "REPLACE",
        "UPDATE",
        "DELETE",
        "CREATE",
        "ALTER",
        "DROP",
        "VACUUM",
        "ANALYZE",
        "REINDEX",
    ]
)


def span_operation(statement: str) -> str:
    """The operation name of ``statement`` for its span: a known leading keyword, never other text."""
    match = _LEADING_WORD.match(statement)
    word = match.group(1).upper() if match else ""
    return word if word in _KEYWORDS else "OTHER"


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///`` URL (``sqlite:////abs`` is absolute)."""
    rest = url.split("://", 1)[1]
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        raise ValueError("an in-memory SQLite database cannot be shared between calls; give a file path")
    return path


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteEngine:
    """One SQLite database file: pooled connections used from worker threads."""

    def __init__(self, connection: NamedConnection, pool_size: int, create: bool = False) -> None:
        self.connection = connection
        self.pool_size = pool_size
        self.create = create
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._span_attributes = {"db.namespace": connection.name}

    @property
    def name(self) -> str:
        return self.connection.name

    # -- connections ------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            path = sqlite_path(self.connection.url)
        except ValueError as exc:
            raise DbError("unavailable", f"connection {self.name!r}: {exc}") from None
        try:
            if self.connection.writable:
                if self.create:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
            else:
                uri = f"file:{quote(path)}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=5.0)
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise unavailable(self.name, exc, self.connection.secrets) from None
        return conn

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()

    async def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # Two seams, so tests can reach each layer behind them on its own; production never overrides them.
    def _authorizer(self, mode: str, statement: str = "") -> Authorizer:
        """The authorizer a call in ``mode`` runs under (``statement`` names what it refuses)."""
        return Authorizer(mode, statement)

    def _query_only(self, mode: str) -> bool:
        """Whether a call in ``mode`` runs with ``PRAGMA query_only = ON``: every read does."""
        return mode == "read"

    def _call(self, mode: str, work: Callable[[sqlite3.Connection], T], statement: str = "") -> T:
        """Run ``work`` on a pooled connection with the authorizer of ``mode`` and the deadline."""
        conn = self._take()
        authorizer = self._authorizer(mode, statement)
        healthy = True
        try:
            conn.execute(f"PRAGMA query_only = {'ON' if self._query_only(mode) else 'OFF'}")
            _local.authorizer = authorizer
            conn.set_authorizer(authorizer)
            conn.set_progress_handler(deadline_handler(self.connection.config.statement_timeout_ms), 1000)
            return work(conn)
        except DbError:
            raise
        except sqlite3.Error as exc:
            raise self._error(exc, authorizer) from None
        finally:
            _local.authorizer = None
            try:
                conn.set_authorizer(None)
                conn.set_progress_handler(None, 0)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                healthy = False
            if healthy:
                self._give_back(conn)
            else:
                conn.close()

    def _error(self, exc: sqlite3.Error, authorizer: Authorizer) -> DbError:
        text = str(exc)
        # "not authorized" for a denied statement; "authorization denied" (SQLITE_AUTH) for VACUUM's inner ATTACH
        if authorizer.denied and ("not authorized" in text or getattr(exc, "sqlite_errorname", "") == "SQLITE_AUTH"):
            where = "on a read" if authorizer.mode == "read" else f"on a {self.connection.access} connection"
            return refused(f"{authorizer.denied}: refused {where}")
        if text == "interrupted":
            return DbError(
                "timeout",
                f"connection {self.name!r}: the statement ran past its statement timeout "
                f"({self.connection.config.statement_timeout_ms} ms) and was stopped; narrow the query",
            )
        if "readonly" in text.replace(" ", "").lower() or "query_only" in text:
            return DbError(
                "read_only", f"connection {self.name!r}: SQLite refused a write on a read-only connection ({text})"
            )
        if isinstance(exc, sqlite3.ProgrammingError) and "one statement" in text:
            return refused("exactly one statement per call is allowed")
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        return DbError("sql_error", f"connection {self.name!r}: {name}: {text}")

    async def _run(self, mode: str, work: Callable[[sqlite3.Connection], T], statement: str = "SELECT") -> T:
        """``work`` in a worker thread (see :meth:`_call`), inside the backend span named after ``statement``."""
        if not tracing.active():
            return await anyio.to_thread.run_sync(self._call, mode, work, statement)
        with tracing.backend_span("sqlite", span_operation(statement), self._span_attributes):
            return await anyio.to_thread.run_sync(self._call, mode, work, statement)

    async def ping(self) -> str:
        version = await self._run("read", lambda c: c.execute("SELECT sqlite_version()").fetchone()[0])
        return f"ok (SQLite {version})"

    # -- introspection ----------------------------------------------------------------------

    async def list_schemas(self) -> SchemaList:
        def work(conn: sqlite3.Connection) -> list[SchemaInfo]:
            schemas = []
            for _, name, _ in conn.execute("PRAGMA database_list").fetchall():
                count = conn.execute(
                    f"SELECT count(*) FROM {quote_ident(name)}.sqlite_master "  # noqa: S608 - a quoted name
                    "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
                ).fetchone()[0]
                schemas.append(SchemaInfo(name=name, tables=count))
            return schemas

        return SchemaList(connection=self.name, schemas=await self._run("read", work))

    async def list_tables(self, schema: str | None, pattern: str | None, limit: int, cursor: str | None) -> TableList:
        fp = cursor_positions.fingerprint("tables", self.name, schema, pattern)
        position = cursor_positions.decode(cursor, fp)
        schema_name = schema or "main"

        def work(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            sql = (
                f"SELECT name, type FROM {quote_ident(schema_name)}.sqlite_master "  # noqa: S608 - a quoted name
                "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' AND (? IS NULL OR name LIKE ?) "
                "ORDER BY name LIMIT ? OFFSET ?"
            )
            return conn.execute(sql, (pattern, pattern, limit + 1, position.offset)).fetchall()

        records = await self._run("read", work)
        tables = [TableInfo(schema_name=schema_name, name=n, kind=k, row_estimate=None) for n, k in records[:limit]]
        more = len(records) > limit
        next_cursor = (
            cursor_positions.encode(cursor_positions.Position(offset=position.offset + limit, mode="o"), fp)
            if more
            else None
        )
        return TableList(connection=self.name, tables=tables, next_cursor=next_cursor)

    async def describe_table(self, table: str, schema: str | None) -> TableDescription:
        if schema is None and "." in table:
            schema, table = table.split(".", 1)
        schema_name = schema or "main"
        return await self._run("read", lambda conn: self._describe(conn, schema_name, table))

    def _describe(self, conn: sqlite3.Connection, schema: str, table: str) -> TableDescription:
        s, t = quote_ident(schema), quote_ident(table)
        kind_row = conn.execute(
            f"SELECT type FROM {s}.sqlite_master WHERE name = ? AND type IN ('table', 'view')",  # noqa: S608
            (table,),
        ).fetchone()
        if kind_row is None:
            raise DbError(
                "not_found", f"connection {self.name!r}: there is no table {table!r} in {schema!r}; see `list_tables`"
            )
        info = conn.execute(f"PRAGMA {s}.table_xinfo({t})").fetchall()
        primary = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        columns = [
            ColumnInfo(
                name=r[1],
                type=r[2] or "",
                nullable=not r[3] and r[1] not in primary,
                default=r[4],
                primary_key=bool(r[5]),
            )
            for r in info
        ]
        keys: dict[int, ForeignKeyInfo] = {}
        for row in conn.execute(f"PRAGMA {s}.foreign_key_list({t})").fetchall():
            fk = keys.setdefault(
                row[0], ForeignKeyInfo(name=None, columns=[], references_table=row[2], references_columns=[])
            )
            fk.columns.append(row[3])
            fk.references_columns.append(row[4] or "")
        indexes = []
        for row in conn.execute(f"PRAGMA {s}.index_list({t})").fetchall():
            index_columns = [r[2] for r in conn.execute(f"PRAGMA {s}.index_info({quote_ident(row[1])})").fetchall()]
            sql_row = conn.execute(f"SELECT sql FROM {s}.sqlite_master WHERE name = ?", (row[1],)).fetchone()  # noqa: S608
            indexes.append(
                IndexInfo(
                    name=row[1],
                    columns=[c or "" for c in index_columns],
                    unique=bool(row[2]),
                    primary=row[3] == "pk",
                    definition=sql_row[0] if sql_row else None,
                )
            )
        count = conn.execute(f"SELECT count(*) FROM {s}.{t}").fetchone()[0]  # noqa: S608 - quoted names
        return TableDescription(
            connection=self.name,
            schema_name=schema,
            table=table,
            kind=kind_row[0],
            columns=columns,
            primary_key=primary,
            foreign_keys=list(keys.values()),
            indexes=indexes,
            row_estimate=count,
        )

    # -- reads ------------------------------------------------------------------------------

    async def query(self, sql: str, params: Sequence[Any], limit: int, cursor: str | None) -> QueryResult:
        started = time.perf_counter()
        text = check_single_statement(sql)
        params = list(params)
        want = min(limit, self.connection.config.max_rows)
        fp = cursor_positions.fingerprint(self.name, text, params)
        position = cursor_positions.decode(cursor, fp)

        def work(conn: sqlite3.Connection) -> tuple[list[ResultColumn], list[list[Any]], bool]:
            cur = conn.execute(text, params)
            columns = [ResultColumn(name=d[0]) for d in cur.description or []]
            skipped = 0
            while skipped < position.offset:
                chunk = cur.fetchmany(min(_SKIP_CHUNK, position.offset - skipped))
                if not chunk:
                    break
                skipped += len(chunk)
            rows = [[to_json(v) for v in row] for row in cur.fetchmany(want + 1)]
            return columns, rows, False

        columns, rows, _ = await self._run("read", work, text)
        page = take_page(rows, want, self.connection.config.max_bytes, False)
        next_cursor = None
        if page.stopped_by != "end":
            next_cursor = cursor_positions.encode(
                cursor_positions.Position(offset=position.offset + len(page.rows), mode="o"), fp
            )
        return QueryResult(
            connection=self.name,
            columns=columns,
            rows=page.rows,
            row_count=len(page.rows),
            offset=position.offset,
            next_cursor=next_cursor,
            paging="offset",
            stopped_by=page.stopped_by,
            notes=page.notes,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def explain(self, sql: str, params: Sequence[Any], analyze: bool) -> ExplainResult:
        text = check_single_statement(sql)
        if text[:7].upper().startswith("EXPLAIN"):
            text = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
            if text.upper().startswith("QUERY PLAN"):
                text = text[len("QUERY PLAN") :].strip()
        params = list(params)
        if analyze and not self.connection.writable:
            raise DbError(
                "read_only",
                f"connection {self.name!r} is read_only: analyze runs the statement, so it is refused; "
                "call `sql_explain` with analyze=false",
            )
        mode = "write" if self.connection.access == "read_write" else "admin" if self.connection.writable else "read"

        def work(conn: sqlite3.Connection) -> tuple[list[str], int | None, list[str]]:
            plan = _render_plan(conn.execute(f"EXPLAIN QUERY PLAN {text}", params).fetchall())
            if not analyze:
                return plan, None, []
            own(conn, "BEGIN")
            began = time.perf_counter()
            cur = conn.execute(text, params)
            count = sum(1 for _ in cur) if cur.description else max(cur.rowcount, 0)
            elapsed = (time.perf_counter() - began) * 1000
            own(conn, "ROLLBACK")
            return plan, count, [f"analyze: ran in {elapsed:.3f} ms and produced or changed {count} rows; rolled back"]

        plan, rows, notes = await self._run(mode, work, "EXPLAIN")
        return ExplainResult(
            connection=self.name, statement=text, analyze=analyze, plan=plan, estimated_rows=rows, notes=notes
        )

    # -- writes -----------------------------------------------------------------------------

    async def execute(self, sql: str, params: Sequence[Any], preview: bool) -> ExecuteResult:
        started = time.perf_counter()
        text = check_single_statement(sql)
        params = list(params)
        mode = "admin" if self.connection.access == "admin" else "write"
        kind = (text.split(None, 1) or ["?"])[0].upper()
        config = self.connection.config

        def work(conn: sqlite3.Connection) -> ExecuteResult:
            if preview:
                plan: list[str] | None = None
                try:
                    plan = _render_plan(conn.execute(f"EXPLAIN QUERY PLAN {text}", params).fetchall())
                except sqlite3.Error:
                    plan = None
                own(conn, "BEGIN IMMEDIATE")
                cur = conn.execute(text, params)
                if cur.description:
                    cur.fetchall()
                changed = max(cur.rowcount, 0)
                own(conn, "ROLLBACK")
                return ExecuteResult(
                    connection=self.name,
                    statement_kind=kind,
                    preview=True,
                    rows_affected=None,
                    estimated_rows=changed,
                    estimate_source="dry_run_rolled_back",
                    plan=plan,
                    notes=["SQLite has no row estimates: the statement ran in a transaction that was rolled back"],
                    elapsed_ms=0.0,
                )
            outside = kind in _NO_ROWS_STATEMENTS
            if not outside:
                own(conn, "BEGIN IMMEDIATE")
            cur = conn.execute(text, params)
            columns = [ResultColumn(name=d[0]) for d in cur.description or []]
            rows = [[to_json(v) for v in row] for row in cur.fetchmany(config.max_rows + 1)] if cur.description else []
            if cur.description:
                cur.fetchall()
            affected = cur.rowcount if cur.rowcount >= 0 else None
            if not outside:
                own(conn, "COMMIT")
            page = take_page(rows, config.max_rows, config.max_bytes, False)
            return ExecuteResult(
                connection=self.name,
                statement_kind=kind,
                preview=False,
                rows_affected=affected,
                columns=columns,
                rows=page.rows,
                notes=page.notes,
                elapsed_ms=0.0,
            )

        result = await self._run(mode, work, text)
        result.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return result


def _render_plan(rows: list[tuple[Any, ...]]) -> list[str]:
    """``EXPLAIN QUERY PLAN`` rows (id, parent, _, detail) as an indented tree."""
    depth: dict[int, int] = {0: -1}
    lines = []
    for node_id, parent, _, detail in rows:
        level = depth.get(parent, -1) + 1
        depth[node_id] = level
        lines.append(f"{'  ' * level}{detail}")
    return lines
