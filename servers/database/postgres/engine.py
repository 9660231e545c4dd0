"""The PostgreSQL engine: a lazily created connection pool (:mod:`.pool`) per connection, and reads and writes in layers.

Every read runs in ``BEGIN READ ONLY`` with ``SET LOCAL statement_timeout`` (and, when the
connection names one, ``SET LOCAL ROLE <read_only_role>``) after :func:`~.statement_guard.check_read`
accepted the text; read-only connections also open their sessions with
``default_transaction_read_only=on``. Reads are rolled back, never committed. Writes run after
:func:`~.statement_guard.check_write`, one statement in one transaction, and the session is reset
afterwards. A read that ended cleanly leaves its rollback to the next use of its connection (or to the
pool, within :data:`~.pool.SETTLE_SECONDS`), sent in one message with that use's own set-up.

Paging (see :mod:`servers.database.sql.cursor_positions`): a query ordered by one plain output column is paged by keyset
(``WHERE key >= last ORDER BY key LIMIT n OFFSET ties``), so page k costs what page 1 costs when
the key is indexed; any other query is paged by LIMIT/OFFSET over the statement as a subquery,
with synchronized and parallel scans off so that an unordered scan returns rows in the same order
on every page (as long as the table does not change meanwhile).

Tracing: :meth:`PostgresEngine.reading` and :meth:`PostgresEngine.writing`, which every call to
the database goes through, each open one ``postgresql <OPERATION>`` backend span (pool creation,
transaction set-up, the statements and the rollback included) named by the statement's kind
(``SELECT``, ``SHOW``, ``EXPLAIN``, ``INSERT``...; the catalog reads behind the schema tools are
``SELECT``). Its ``db.namespace`` is the connection's name; no URL, statement text or parameter.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]
from opentelemetry.trace import Span

from mesh import tracing
from servers.database.connections import NamedConnection
from servers.database.errors import DbError, from_driver_error, session_lost, unavailable
from servers.database.postgres.params import check_count, coerce
from servers.database.postgres.plans import affected_rows, plan_figures
from servers.database.postgres.pool import (
    CLEANUP_FAILURES,
    CONNECT_FAILURES,
    SESSION_ENDED,
    ConnectionPool,
    PoolClosedError,
    roll_back,
    rollback_prefix,
    session_ended,
)
from servers.database.postgres.statement_guard import ReadStatement, SortKey, check_explain, check_read, check_write
from servers.database.sql import cursor_positions
from servers.database.sql.models import (
    ExecuteResult,
    ExplainResult,
    QueryResult,
    ResultColumn,
    SchemaList,
    TableDescription,
    TableList,
)
from servers.database.sql.paging import take_page
from servers.database.sql.values import decode_key, encode_key, to_json

log = logging.getLogger("mcp_suite.database.postgres")
CONNECT_TIMEOUT = 5.0
RESET_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Read:
    """One ``sql_query`` call once checked: the statement, its parameters, the rows wanted and where the page starts."""

    statement: ReadStatement
    params: list[Any]
    want: int
    position: cursor_positions.Position
    started: float
    fingerprint: Callable[[], str]
    """Binds a cursor to its query; called only to check a cursor or to issue one."""


class PostgresEngine:
    """One PostgreSQL connection: its pool, reads, explains and writes."""

    def __init__(self, connection: NamedConnection, pool_size: int) -> None:
        self.connection = connection
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._lock: anyio.Lock | None = None
        self._columns: OrderedDict[str, list[ResultColumn]] = OrderedDict()
        config = connection.config
        role = f"; SET LOCAL ROLE {quote_ident(config.read_only_role)}" if config.read_only_role else ""
        self._read_setup = f"BEGIN READ ONLY; SET LOCAL statement_timeout = {config.statement_timeout_ms}{role}"
        self._unordered_setup = "; SET LOCAL synchronize_seqscans = off; SET LOCAL max_parallel_workers_per_gather = 0"
        self._timeout = config.statement_timeout_ms / 1000 + 2.0
        self._span_attributes = {"db.namespace": connection.name}
        self._driver_errors = _DriverErrors(self)

    @property
    def name(self) -> str:
        return self.connection.name

    # -- the pool ---------------------------------------------------------------------------

    async def pool(self) -> ConnectionPool:
        if self._pool is not None:
            return self._pool
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._pool is None:
                self._pool = await self._create_pool()
        return self._pool

    async def _create_pool(self) -> ConnectionPool:
        settings = {"application_name": "mcp-suite-database"}
        if not self.connection.writable:
            settings["default_transaction_read_only"] = "on"
        url = self.connection.url

        async def connect() -> asyncpg.Connection:
            return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT, server_settings=settings)

        pool = ConnectionPool(connect, self.pool_size)
        try:
            pool.release(await pool.acquire(), reusable=True)  # the first connection: a bad URL fails here, clearly
        except CONNECT_FAILURES as exc:
            pool.terminate()
            raise unavailable(self.name, exc, self.connection.secrets) from None
        return pool

    async def close(self) -> None:
        pool, self._pool, self._lock = self._pool, None, None
        if pool is not None:
            await pool.close(CLOSE_TIMEOUT)

    async def ping(self) -> str:
        async with self.reading("show") as conn:
            version = await conn.fetchval("SHOW server_version", timeout=self._timeout)
        return f"ok (PostgreSQL {version})"

    # -- introspection (schema.py holds the catalog queries) ------------------------------

    async def list_schemas(self) -> SchemaList:
        from servers.database.postgres.schema import list_schemas

        return await list_schemas(self)

    async def list_tables(self, schema: str | None, pattern: str | None, limit: int, cursor: str | None) -> TableList:
        from servers.database.postgres.schema import list_tables

        return await list_tables(self, schema, pattern, limit, cursor)

    async def describe_table(self, table: str, schema: str | None) -> TableDescription:
        from servers.database.postgres.schema import describe_table

        return await describe_table(self, table, schema)

    # -- transactions -----------------------------------------------------------------------

    def _db_error(self, exc: Exception) -> DbError | None:
        """A driver error as a client error (SQLSTATE and message, secrets removed); None for any other
        exception, a :class:`DbError` included (it propagates as it is)."""
        secrets = self.connection.secrets
        if isinstance(exc, DbError):
            return None
        # SESSION_ENDED holds InternalClientError: the driver's protocol failed, as when the server ended the session
        if isinstance(exc, SESSION_ENDED):
            return session_lost(self.name, exc, secrets)
        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
            return from_driver_error(self.name, exc, secrets)
        if isinstance(exc, TimeoutError):
            return DbError(
                "timeout", f"connection {self.name!r}: no answer within the statement timeout; narrow the query"
            )
        if isinstance(exc, OSError):
            return session_lost(self.name, exc, secrets)
        return None

    def _span(self, kind: str) -> AbstractContextManager[Span]:
        """The backend span of one use of the database (``kind``: the statement's kind, any case)."""
        if not tracing.active():
            return tracing.NULL_SPAN
        return tracing.backend_span("postgresql", kind.upper(), self._span_attributes)

    async def _checkout(self) -> tuple[ConnectionPool, asyncpg.Connection]:
        """The pool (created on first use) and a connection of it; failing to get one is a :class:`DbError`."""
        pool = await self.pool()
        try:
            return pool, await pool.acquire()
        except (*CONNECT_FAILURES, PoolClosedError) as exc:
            raise unavailable(self.name, exc, self.connection.secrets) from None

    async def _set_up(self, setup: str) -> tuple[ConnectionPool, asyncpg.Connection]:
        """A pooled connection on which ``setup``, the first statement of a use, has run (after the rollback
        its last read left, if any).

        A connection whose session the server had already ended (a restart, a terminated backend, an idle
        timeout) fails on this set-up, before anything of the caller's work was sent. It is dropped and the
        set-up is run on the next connection, up to the pool's size + 1 times, so a restart of the database
        costs callers a reconnection rather than an error. A driver error leaves as a :class:`DbError`.
        """
        attempts = self.pool_size + 1
        while True:
            attempts -= 1
            pool, conn = await self._checkout()
            ready = ended = False
            try:
                with self._driver_errors:
                    try:
                        await conn.execute(rollback_prefix(conn) + setup, timeout=self._timeout)
                    except Exception as exc:
                        ended = session_ended(exc, conn)
                        if not ended or not attempts:
                            raise
                        log.warning(
                            "the database had ended a pooled session; trying the next connection",
                            extra={"connection": self.name, "error": type(exc).__name__},
                        )
                        continue  # through the finally below: the dead connection is dropped first
                ready = True
                return pool, conn
            finally:
                if ended:
                    pool.release(conn, reusable=False)  # never kept, whatever state the driver thinks it is in
                elif not ready:
                    await pool.give_back(conn, clean=False)

    @asynccontextmanager
    async def reading(self, kind: str = "select", *, unordered: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a read-only transaction with the statement timeout; rolled back after.

        A read that ended cleanly goes back to the pool with its transaction open: the next use rolls it
        back in the same message as its own set-up (or the pool does, once idle; see :mod:`.pool`), so
        the rollback costs no round trip of its own and the answer does not wait for it. A read that
        failed is rolled back at once, and its connection goes back only if that completed. Driver errors
        leave as :class:`DbError`.
        """
        with self._span(kind):
            pool, conn = await self._set_up(self._read_setup + (self._unordered_setup if unordered else ""))
            ended = False
            try:
                with self._driver_errors:
                    yield conn
                ended = True
            finally:
                await pool.give_back(conn, clean=ended)

    @asynccontextmanager
    async def writing(self, kind: str, *, in_transaction: bool = True) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a read-write transaction with the statement timeout; the caller commits.
        The session is reset afterwards; the connection goes back to the pool only if that completed."""
        timeout_ms = self.connection.config.statement_timeout_ms
        setup = (
            f"BEGIN; SET LOCAL statement_timeout = {timeout_ms}"
            if in_transaction
            else f"SET statement_timeout = {timeout_ms}"
        )
        with self._span(kind):
            pool, conn = await self._set_up(setup)
            clean = False
            try:
                with self._driver_errors:
                    yield conn
            finally:
                try:
                    if await roll_back(conn):
                        with anyio.move_on_after(RESET_TIMEOUT):
                            await conn.reset()
                            clean = True
                except CLEANUP_FAILURES:
                    clean = False
                finally:
                    pool.release(conn, reusable=clean)

    async def _fetch(
        self, conn: asyncpg.Connection, sql: str, args: list[Any], user_params: int
    ) -> tuple[list[asyncpg.Record], list[ResultColumn]]:
        """Rows and column types of ``sql``; JSON parameters are converted to the statement's types if needed."""
        columns = self._columns.get(sql)
        if columns is not None:
            try:
                return await conn.fetch(sql, *args, timeout=self._timeout), columns
            except asyncpg.DataError:
                pass  # a parameter of the wrong Python type: convert below
        statement = await conn.prepare(sql, timeout=self._timeout)
        types = [t.name for t in statement.get_parameters()]
        bound = coerce(self.name, args[:user_params], types[:user_params]) + list(args[user_params:])
        try:
            records = await statement.fetch(*bound, timeout=self._timeout)
        except asyncpg.DataError as exc:
            raise DbError("bad_parameter", f"connection {self.name!r}: {exc}") from None
        columns = [ResultColumn(name=a.name, type=a.type.name) for a in statement.get_attributes()]
        self._columns[sql] = columns
        if len(self._columns) > 512:
            self._columns.popitem(last=False)
        return records, columns

    # -- reads ------------------------------------------------------------------------------

    def _check_read(self, sql: str) -> ReadStatement:
        """The statement guard of :meth:`query`; tests override it to reach the layers behind it on their own."""
        return check_read(sql)

    async def query(self, sql: str, params: Sequence[Any], limit: int, cursor: str | None) -> QueryResult:
        started = time.perf_counter()
        statement = self._check_read(sql)
        params = list(params)
        check_count(self.name, statement.params, len(params))
        want = min(limit, self.connection.config.max_rows)
        fp = partial(cursor_positions.fingerprint, self.name, statement.text, params)
        position = cursor_positions.decode(cursor, fp()) if cursor else cursor_positions.Position()
        read = _Read(statement, params, want, position, started, fp)
        if statement.kind != "select":
            return await self._query_whole(read)
        if statement.sort_key is not None and position.mode == "k":
            return await self._query_keyset(read, statement.sort_key)
        return await self._query_offset(read)

    def _result(
        self,
        read: _Read,
        columns: list[ResultColumn],
        rows: list[list[Any]],
        more: bool,
        next_position: Callable[[int], cursor_positions.Position],
        paging: Any,
        notes: list[str],
    ) -> QueryResult:
        page = take_page(rows, read.want, self.connection.config.max_bytes, more)
        kept = len(page.rows)
        next_cursor = None
        if page.stopped_by != "end":
            next_cursor = cursor_positions.encode(next_position(kept), read.fingerprint())
        return QueryResult(
            connection=self.name,
            columns=columns,
            rows=page.rows,
            row_count=kept,
            offset=read.position.offset,
            next_cursor=next_cursor,
            paging=paging,
            stopped_by=page.stopped_by,
            notes=notes + page.notes,
            elapsed_ms=round((time.perf_counter() - read.started) * 1000, 3),
        )

    async def _query_whole(self, read: _Read) -> QueryResult:
        statement, params, want, offset = read.statement, read.params, read.want, read.position.offset
        async with self.reading(statement.kind) as conn:
            records, columns = await self._fetch(conn, statement.text, params, len(params))
        rows = [[to_json(v) for v in r.values()] for r in records[offset : offset + want + 1]]
        return self._result(
            read,
            columns,
            rows,
            len(records) > offset + want,
            lambda kept: cursor_positions.Position(offset=offset + kept, mode="o"),
            "single",
            [],
        )

    async def _query_offset(self, read: _Read) -> QueryResult:
        statement, params, want, offset = read.statement, read.params, read.want, read.position.offset
        n = len(params)
        window, args = _window(n, want + 1, offset)
        sql = f"SELECT * FROM (\n{statement.text}\n) AS _page{window}"  # noqa: S608 - checked text
        async with self.reading(statement.kind, unordered=not statement.ordered) as conn:
            records, columns = await self._fetch(conn, sql, [*params, *args], n)
        rows = [[to_json(v) for v in r.values()] for r in records]
        notes = []
        if offset == 0 and len(records) > want and not statement.ordered:
            notes.append(
                "no ORDER BY: pages follow the table's physical order, stable while the data does not change; "
                "add ORDER BY <unique column> for pages that seek instead of skip"
            )
        return self._result(
            read,
            columns,
            rows,
            len(records) > want,
            lambda kept: cursor_positions.Position(offset=offset + kept, mode="o"),
            "offset",
            notes,
        )

    async def _query_keyset(self, read: _Read, key: SortKey) -> QueryResult:
        statement, params, want, position = read.statement, read.params, read.want, read.position
        n = len(params)
        column = "_page." + quote_ident(key.column)
        segments = ["n", "v"] if key.descending else ["v", "n"]
        segment = position.segment or segments[0]
        fetched: list[tuple[str, asyncpg.Record]] = []
        columns: list[ResultColumn] = []
        async with self.reading(statement.kind) as conn:
            for current in segments[segments.index(segment) :]:
                here = current == segment
                last = decode_key(position.key) if here and position.key is not None else None
                skip = position.skip if here else 0
                window, args = _window(n, want + 1 - len(fetched), skip)
                if current == "n":
                    where = f"{column} IS NULL"
                elif last is None:
                    where = f"{column} IS NOT NULL"
                else:
                    args.append(last)
                    where = f"{column} {'<=' if key.descending else '>='} ${n + len(args)}"
                # The whole row breaks ties, so rows sharing a key come in the same order on every page.
                direction = "DESC" if key.descending else "ASC"
                order = f" ORDER BY {column} {direction}, _page::text" if current == "v" else " ORDER BY _page::text"
                sql = f"SELECT * FROM (\n{statement.text}\n) AS _page WHERE {where}{order}{window}"  # noqa: S608
                records, columns = await self._fetch(conn, sql, [*params, *args], n)
                fetched.extend((current, record) for record in records)
                if len(fetched) > want:
                    break
        rows = [[to_json(v) for v in record.values()] for _, record in fetched]

        def next_position(kept: int) -> cursor_positions.Position:
            return _keyset_position(fetched[:kept], key.column, position, segment)

        return self._result(read, columns, rows, len(fetched) > want, next_position, "keyset", [])

    async def explain(self, sql: str, params: Sequence[Any], analyze: bool) -> ExplainResult:
        connection = self.connection
        if analyze and not connection.writable:
            raise DbError(
                "read_only",
                f"connection {self.name!r} is read_only: EXPLAIN ANALYZE runs the statement, so it is refused; "
                "call `sql_explain` with analyze=false, or use a read_write connection",
            )
        text, is_read, used = check_explain(sql, connection.writable, connection.access)
        params = list(params)
        check_count(self.name, used, len(params))
        options = "ANALYZE, BUFFERS, " if analyze else ""
        explain_sql = f"EXPLAIN ({options}FORMAT TEXT)\n{text}"
        notes = []
        if is_read or not analyze:
            async with self.reading("explain") as conn:
                records, _ = await self._fetch(conn, explain_sql, params, len(params))
        else:
            async with self.writing("explain") as conn:
                records, _ = await self._fetch(conn, explain_sql, params, len(params))
            notes.append("EXPLAIN ANALYZE ran the data change inside a transaction that was rolled back")
        lines = [str(r[0]) for r in records]
        cost, rows = plan_figures(lines, analyze)
        return ExplainResult(
            connection=self.name,
            statement=text,
            analyze=analyze,
            plan=lines,
            estimated_rows=rows,
            total_cost=cost,
            notes=notes,
        )

    # -- writes -----------------------------------------------------------------------------

    async def execute(self, sql: str, params: Sequence[Any], preview: bool) -> ExecuteResult:
        started = time.perf_counter()
        connection = self.connection
        statement = check_write(sql, connection.access)
        params = list(params)
        check_count(self.name, statement.params, len(params))
        kind = statement.kind.removesuffix("Stmt").upper()
        if preview:
            if not statement.explainable:
                return ExecuteResult(
                    connection=self.name,
                    statement_kind=kind,
                    preview=True,
                    rows_affected=None,
                    estimate_source="none",
                    notes=[f"{kind} has no plan to preview (it is not a data change); nothing was run"],
                    elapsed_ms=_ms(started),
                )
            async with self.writing("explain") as conn:
                records, _ = await self._fetch(conn, f"EXPLAIN\n{statement.text}", params, len(params))
            lines = [str(r[0]) for r in records]
            _, estimate = plan_figures(lines, False)
            return ExecuteResult(
                connection=self.name,
                statement_kind=kind,
                preview=True,
                rows_affected=None,
                estimated_rows=estimate,
                estimate_source="planner",
                plan=lines,
                notes=["nothing was run: the plan and row estimate come from EXPLAIN"],
                elapsed_ms=_ms(started),
            )
        async with self.writing(kind, in_transaction=statement.in_transaction) as conn:
            prepared = await conn.prepare(statement.text, timeout=self._timeout)
            types = [t.name for t in prepared.get_parameters()]
            try:
                records = await prepared.fetch(*coerce(self.name, params, types), timeout=self._timeout)
            except asyncpg.DataError as exc:
                raise DbError("bad_parameter", f"connection {self.name!r}: {exc}") from None
            status = prepared.get_statusmsg() or ""
            columns = [ResultColumn(name=a.name, type=a.type.name) for a in prepared.get_attributes()]
            if statement.in_transaction:
                await conn.execute("COMMIT")
        rows = [[to_json(v) for v in r.values()] for r in records]
        page = take_page(rows, connection.config.max_rows, connection.config.max_bytes, False)
        notes = [] if len(page.rows) == len(rows) else [f"{len(rows)} rows were returned; {len(page.rows)} are shown"]
        return ExecuteResult(
            connection=self.name,
            statement_kind=kind,
            preview=False,
            rows_affected=affected_rows(status),
            columns=columns,
            rows=page.rows,
            notes=notes + page.notes,
            elapsed_ms=_ms(started),
        )


class _DriverErrors:
    """``with engine._driver_errors:`` a driver error raised inside leaves as the engine's :class:`DbError`
    (secrets removed); any other exception, a :class:`DbError` included, passes as it is, with its context."""

    __slots__ = ("_engine",)

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine

    def __enter__(self) -> None:
        return None

    def __exit__(self, _type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if isinstance(exc, Exception) and (mapped := self._engine._db_error(exc)) is not None:
            raise mapped from None


def _window(n: int, limit: int, offset: int) -> tuple[str, list[Any]]:
    """The ``LIMIT``/``OFFSET`` clause of a page after ``n`` user parameters, and its arguments.

    No ``OFFSET`` when there is nothing to skip (a first page, most calls): with an ``OFFSET``
    parameter PostgreSQL never settles on a generic plan and plans the statement again on every call
    (about 30 us of its CPU for a primary-key lookup), where ``LIMIT $n`` alone is planned once.
    """
    if offset:
        return f" LIMIT ${n + 1} OFFSET ${n + 2}", [limit, offset]
    return f" LIMIT ${n + 1}", [limit]


def _keyset_position(
    kept: list[tuple[str, asyncpg.Record]], column: str, position: cursor_positions.Position, segment: str
) -> cursor_positions.Position:
    """Where the page after ``kept`` starts: the last key and the rows after it already returned."""
    offset = position.offset + len(kept)
    last_segment, last_record = kept[-1]
    if last_segment == "n":
        already = position.skip if segment == "n" else 0
        return cursor_positions.Position(offset=offset, skip=already + sum(1 for s, _ in kept if s == "n"), segment="n")
    value = last_record[column]
    encoded = encode_key(value)
    if encoded is None:  # a key type a cursor cannot carry: continue by offset
        return cursor_positions.Position(offset=offset, mode="o")
    ties = 0
    for seg, record in reversed(kept):
        if seg != "v" or record[column] != value:
            break
        ties += 1
    if ties == sum(1 for s, _ in kept if s == "v") and segment == "v" and position.key == encoded:
        ties += position.skip
    return cursor_positions.Position(offset=offset, key=encoded, skip=ties, segment="v")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
