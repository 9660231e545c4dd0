"""When PostgreSQL ends the sessions of pooled connections (a restart, ``pg_terminate_backend``, an idle timeout),
the next calls are answered on fresh connections instead of failing: the dead connection fails on the set-up that
opens each use, before anything of the call was sent, and the set-up is run again on the next connection. A
session that ends in the middle of a call is not retried, and the caller is told what happened.

All against the real PostgreSQL at 127.0.0.1:5432. To end sessions the way a restart does under load (the server
has closed them, but the event loop has not yet read the news), the backends are terminated from another thread
while this test's event loop is blocked, and ``pg_terminate_backend(pid, timeout)`` returns only once each
backend has exited.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from mcp import Client

from servers.database.connections import NamedConnection
from servers.database.errors import DbError
from servers.database.postgres.engine import PostgresEngine
from servers.database.server import build_server
from tests.servers.database.support import PG_URL, connection, data, refused, settings_with

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def admin() -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, outside any pool under test."""
    conn = await asyncpg.connect(PG_URL)
    try:
        yield conn
    finally:
        await conn.close()


def end_sessions_while_the_loop_is_blocked(pids: list[int]) -> int:
    """Terminate the backends ``pids`` and wait for them to exit, on a loop of another thread, blocking this
    thread (so its event loop reads nothing meanwhile). Returns how many were terminated."""

    async def terminate() -> int:
        async with admin() as conn:
            ended: int = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM unnest($1::int[]) AS pid", pids
            )
            return ended

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, terminate()).result()


async def pooled_pids(engine: PostgresEngine, count: int) -> list[int]:
    """Warm ``count`` connections of ``engine``'s pool (``count`` reads at once) and return their backends' pids."""
    await asyncio.gather(*(engine.query("SELECT pg_sleep(0.02)", [], 10, None) for _ in range(count)))
    pool = await engine.pool()
    assert pool.idle == count
    return [conn.get_server_pid() for conn, _since in pool._idle]


@pytest.fixture
async def table() -> AsyncIterator[str]:
    name = f"mcp_ended_{secrets.token_hex(4)}"
    async with admin() as conn:
        await conn.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, note text)")
        try:
            yield name
        finally:
            await conn.execute(f"DROP TABLE IF EXISTS {name}")


async def test_reads_after_the_server_ended_every_pooled_session_are_answered_on_fresh_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 4)
    try:
        pids = await pooled_pids(engine, 4)
        assert end_sessions_while_the_loop_is_blocked(pids) == 4
        with caplog.at_level(logging.WARNING, logger="mcp_suite.database.postgres"):
            answers = await asyncio.gather(*(engine.query("SELECT $1::int AS n", [i], 10, None) for i in range(6)))
        dropped = [r for r in caplog.records if "ended a pooled session" in r.getMessage()]
        assert dropped and all(getattr(r, "connection", None) == "ro" for r in dropped)  # the operator sees it
        assert [answer.rows for answer in answers] == [[[i]] for i in range(6)]
        pool = await engine.pool()
        live = [conn.get_server_pid() for conn, _since in pool._idle]
        assert live and not set(live) & set(pids) and pool.size <= 4
    finally:
        await engine.close()


async def test_a_write_after_its_connection_was_ended_runs_once_on_a_fresh_one(table: str) -> None:
    engine = PostgresEngine(NamedConnection("rw", connection(PG_URL, "read_write")), 2)
    try:
        pids = await pooled_pids(engine, 2)
        assert end_sessions_while_the_loop_is_blocked(pids) == 2
        result = await engine.execute(f"INSERT INTO {table} (id, note) VALUES ($1, $2)", [1, "once"], False)
        assert result.rows_affected == 1
    finally:
        await engine.close()
    async with admin() as conn:
        assert await conn.fetch(f"SELECT id, note FROM {table}") == [(1, "once")]


async def test_when_every_new_session_is_ended_too_the_call_fails_after_the_pool_size_plus_one_tries() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 2)
    try:
        pool = await engine.pool()
        pool.terminate()  # drop the first connection; from here on every connection opened is already dead
        pool._closed = False
        opened: list[int] = []

        async def connect_dead() -> asyncpg.Connection:
            conn = await asyncpg.connect(PG_URL)
            opened.append(conn.get_server_pid())
            assert end_sessions_while_the_loop_is_blocked([opened[-1]]) == 1
            return conn

        pool._connect = connect_dead
        with pytest.raises(DbError) as failure:
            await engine.query("SELECT 1", [], 10, None)
        assert len(opened) == 3  # the pool's size + 1
        assert failure.value.code == "unavailable" and "ended the session" in str(failure.value)
        assert pool.size == 0  # every dead connection gave its slot back
    finally:
        await engine.close()


async def test_a_session_ended_in_the_middle_of_a_read_is_not_retried_and_says_what_happened() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 1)
    try:
        pids = await pooled_pids(engine, 1)
        async with admin() as conn:
            read = asyncio.create_task(engine.query("SELECT pg_sleep(30)", [], 10, None))
            started = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep(30)%'"
            deadline = time.monotonic() + 10
            while not await conn.fetchval(started, pids[0]):
                assert time.monotonic() < deadline, "the backend did not start the read within 10 s"
                await asyncio.sleep(0)  # until the backend runs the statement (the admin's round trip paces this)
            assert await conn.fetchval("SELECT pg_terminate_backend($1, 5000)", pids[0])
            with pytest.raises(DbError) as failure:
                await read
        text = str(failure.value)
        assert failure.value.code == "unavailable" and "ended the session during the call" in text
        assert "A read can be repeated" in text and "cannot be opened" not in text
        assert (await engine.query("SELECT 7 AS n", [], 10, None)).rows == [[7]]  # and the pool goes on
    finally:
        await engine.close()


async def test_a_set_up_the_database_refuses_on_a_live_session_is_not_retried() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL, read_only_role="mcp_no_such_role")), 2)
    try:
        pool = await engine.pool()
        acquire, checkouts = pool.acquire, 0

        async def counted() -> asyncpg.Connection:
            nonlocal checkouts
            checkouts += 1
            return await acquire()

        pool.acquire = counted  # type: ignore[method-assign]
        with pytest.raises(DbError) as failure:
            await engine.query("SELECT 1", [], 10, None)
        assert checkouts == 1 and "mcp_no_such_role" in str(failure.value)
        assert "ended the session" not in str(failure.value) and pool.size == 1  # rolled back, kept
    finally:
        await engine.close()


@pytest.fixture
async def login_role() -> AsyncIterator[str]:
    """A login role of this test's own: the backends whose ``usename`` is it are this test's server's."""
    role = f"mcp_ended_{secrets.token_hex(4)}"
    async with admin() as conn:
        await conn.execute(f"CREATE ROLE {role} LOGIN")
        try:
            yield role
        finally:
            await conn.execute(f"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = '{role}'")
            await conn.execute(f"DROP ROLE IF EXISTS {role}")


async def test_sql_query_through_the_client_goes_on_answering_after_the_database_ended_the_pooled_sessions(
    tmp_path: Path, login_role: str
) -> None:
    """End to end, as a user sees it. Here the event loop usually reads the news before the call reaches the
    pool, which then skips the closed connections; the engine tests above hold the race where it does not."""
    url = PG_URL.replace("postgres@", f"{login_role}@")
    async with Client(build_server(settings_with(tmp_path, ro=connection(url))), mode="legacy") as client:
        assert data(await client.call_tool("sql_query", {"sql": "SELECT 1 AS one"}))["rows"] == [[1]]
        async with admin() as conn:
            found = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE usename = $1", login_role)
        pids = [record["pid"] for record in found]
        assert pids and end_sessions_while_the_loop_is_blocked(pids) == len(pids)
        assert data(await client.call_tool("sql_query", {"sql": "SELECT 2 AS two"}))["rows"] == [[2]]
        unknown = await client.call_tool("sql_query", {"sql": "SELECT 3", "connection": "gone"})
        refused(unknown, "unknown_connection")
