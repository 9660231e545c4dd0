"""The PostgreSQL connection pool hands each connection to one caller at a time, reuses only clean ones,
never opens more than its size, and loses no slot when a caller gives up or a connection breaks. A read's
rollback rides on the next use of its connection, or is run by the pool once the connection sits idle.

All against the real PostgreSQL at 127.0.0.1:5432.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import anyio
import asyncpg  # type: ignore[import-untyped]
import pytest

from servers.database.connections import NamedConnection
from servers.database.errors import DbError
from servers.database.postgres.engine import PostgresEngine
from servers.database.postgres.pool import ConnectionPool, PoolClosedError, rollback_prefix
from tests.servers.database.support import PG_URL, connection

pytestmark = pytest.mark.anyio


class Opener:
    """Opens real connections and counts them; can be told to fail the next attempts."""

    def __init__(self) -> None:
        self.opened = 0
        self.fail_next = 0

    async def __call__(self) -> asyncpg.Connection:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("refused by the test")
        self.opened += 1
        return await asyncpg.connect(PG_URL)


@pytest.fixture
async def opener() -> AsyncIterator[Opener]:
    yield Opener()


async def test_a_released_connection_is_handed_to_the_next_caller_instead_of_a_new_one(opener: Opener) -> None:
    pool = ConnectionPool(opener, 4)
    try:
        first = await pool.acquire()
        pool.release(first, reusable=True)
        second = await pool.acquire()
        assert second is first and opener.opened == 1 and pool.size == 1
        pool.release(second, reusable=True)
    finally:
        await pool.close()


async def test_no_more_connections_than_the_size_are_opened_and_a_waiting_caller_gets_the_next_released(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, 2)
    try:
        held = [await pool.acquire(), await pool.acquire()]
        got: list[asyncpg.Connection] = []

        async def third() -> None:
            got.append(await pool.acquire())

        async with anyio.create_task_group() as tg:
            tg.start_soon(third)
            await wait_until(lambda: len(pool._waiters) == 1)
            assert opener.opened == 2 and not got
            pool.release(held[0], reusable=True)
        assert got == [held[0]] and opener.opened == 2
        pool.release(held[1], reusable=True)
        pool.release(got[0], reusable=True)
        assert pool.size == 2 and pool.idle == 2
    finally:
        await pool.close()


async def test_a_connection_released_unclean_is_terminated_and_the_waiting_caller_opens_a_fresh_one(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, 1)
    try:
        broken = await pool.acquire()
        got: list[asyncpg.Connection] = []

        async def waiting() -> None:
            got.append(await pool.acquire())

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiting)
            await wait_until(lambda: len(pool._waiters) == 1)
            pool.release(broken, reusable=False)
        assert broken.is_closed()
        assert got[0] is not broken and await got[0].fetchval("SELECT 1") == 1
        assert opener.opened == 2 and pool.size == 1
        pool.release(got[0], reusable=True)
    finally:
        await pool.close()


async def test_a_caller_that_gives_up_waiting_leaves_the_connection_for_the_next(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1)
    try:
        held = await pool.acquire()
        with anyio.move_on_after(0.05) as gave_up:
            await pool.acquire()
        assert gave_up.cancelled_caught and not pool._waiters
        pool.release(held, reusable=True)
        assert await pool.acquire() is held and opener.opened == 1
        pool.release(held, reusable=True)
    finally:
        await pool.close()


async def test_a_connection_handed_over_just_as_its_caller_gives_up_goes_back_to_the_pool(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1)
    try:
        held = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await wait_until(lambda: len(pool._waiters) == 1)
        pool.release(held, reusable=True)  # hands it to the waiting caller...
        waiting.cancel()  # ...which is cancelled before it runs again (a native cancel: anyio would not cancel it)
        with pytest.raises(asyncio.CancelledError):
            await waiting
        got: list[asyncpg.Connection] = []
        assert not got and pool.idle == 1 and pool.size == 1
        assert await pool.acquire() is held
        pool.release(held, reusable=True)
    finally:
        await pool.close()


async def test_a_failed_connect_frees_its_slot_and_raises_to_the_caller(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1)
    try:
        opener.fail_next = 1
        with pytest.raises(OSError, match="refused by the test"):
            await pool.acquire()
        assert pool.size == 0
        conn = await pool.acquire()
        assert await conn.fetchval("SELECT 1") == 1
        pool.release(conn, reusable=True)
    finally:
        await pool.close()


async def test_idle_connections_past_their_lifetime_are_closed_except_the_newest(opener: Opener) -> None:
    now = [1000.0]
    pool = ConnectionPool(opener, 3, max_idle_seconds=60.0, clock=lambda: now[0])
    try:
        conns = [await pool.acquire() for _ in range(3)]
        for conn in conns:
            pool.release(conn, reusable=True)
        now[0] += 59.0
        pool.close_stale()
        assert pool.idle == 3
        now[0] += 2.0
        pool.close_stale()
        assert pool.idle == 1 and conns[0].is_closed() and conns[1].is_closed() and not conns[2].is_closed()
        assert await pool.acquire() is conns[2]
        pool.release(conns[2], reusable=True)
    finally:
        await pool.close()


async def test_closing_fails_waiting_callers_closes_idle_connections_and_refuses_new_callers(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1)
    held = await pool.acquire()
    errors: list[BaseException] = []

    async def waiting() -> None:
        try:
            await pool.acquire()
        except PoolClosedError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiting)
        await wait_until(lambda: len(pool._waiters) == 1)
        tg.start_soon(pool.close, 5.0)
        await wait_until(lambda: bool(errors))
        pool.release(held, reusable=True)  # the call in flight ends: close() finishes
    assert held.is_closed() and pool.size == 0
    with pytest.raises(PoolClosedError):
        await pool.acquire()


async def test_a_connection_still_in_use_when_the_close_times_out_is_terminated(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1)
    held = await pool.acquire()
    await pool.close(timeout=0.05)
    assert held.is_closed()


async def test_a_read_cancelled_mid_query_does_not_hand_its_connection_to_the_next_read() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 1)
    try:
        pool = await engine.pool()
        started = anyio.Event()

        async def slow() -> None:
            async with engine.reading() as conn:
                started.set()
                await conn.fetchval("SELECT pg_sleep(5)")

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            await started.wait()
            tg.cancel_scope.cancel()
        assert pool.idle == 0 and pool.size == 0  # terminated, not reused
        result = await engine.query("SELECT 1 AS one", [], 10, None)
        assert result.rows == [[1]] and pool.size == 1
    finally:
        await engine.close()


async def test_a_read_that_fails_in_the_database_rolls_back_and_keeps_its_connection() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL, statement_timeout_ms=100)), 1)
    try:
        pool = await engine.pool()
        first = pool._idle[-1][0]
        with pytest.raises(DbError) as timed_out:
            await engine.query("SELECT pg_sleep(2)", [], 10, None)
        assert "57014" in str(timed_out.value)  # query_canceled by the statement timeout
        assert pool.size == 1 and pool._idle[-1][0] is first and not first.is_in_transaction()
        assert (await engine.query("SELECT 2 AS two", [], 10, None)).rows == [[2]]
    finally:
        await engine.close()


async def backend(pid: int) -> tuple[str, int]:
    """The state of server process ``pid`` and how many relation locks it holds, seen from another session."""
    conn = await asyncpg.connect(PG_URL)
    try:
        state = await conn.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
        locks = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'relation'", pid)
        return state, locks
    finally:
        await conn.close()


async def test_a_connection_given_back_inside_a_transaction_is_rolled_back_by_the_pool_once_it_sits_idle(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, 2, settle_seconds=0.0)
    try:
        conn = await pool.acquire()
        await conn.execute("BEGIN READ ONLY")
        await conn.fetchval("SELECT count(*) FROM pg_class")
        pid = conn.get_server_pid()
        assert (await backend(pid))[1] > 0  # the read's locks are held while its transaction is open
        pool.release(conn, reusable=True)
        await wait_until(lambda: pool.idle == 1 and not conn.is_in_transaction())
        assert await backend(pid) == ("idle", 0) and not pool._unsettled and pool.size == 1
        assert await pool.acquire() is conn and opener.opened == 1
        pool.release(conn, reusable=True)
    finally:
        await pool.close()


async def test_a_connection_taken_again_before_it_settles_keeps_its_transaction_for_the_new_user_to_roll_back(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, 1, settle_seconds=60.0)
    try:
        conn = await pool.acquire()
        assert rollback_prefix(conn) == ""
        await conn.execute("BEGIN READ ONLY; SELECT set_config('application_name', 'left-by-the-last-use', false)")
        pool.release(conn, reusable=True)
        timer = pool._unsettled[conn]
        assert await backend(conn.get_server_pid()) == ("idle in transaction", 0)
        again = await pool.acquire()
        assert again is conn and timer.cancelled() and not pool._unsettled
        assert rollback_prefix(again) == "ROLLBACK; "
        await again.execute(rollback_prefix(again) + "BEGIN READ ONLY")
        assert await again.fetchval("SHOW application_name") != "left-by-the-last-use"
        await again.execute("ROLLBACK")
        pool.release(again, reusable=True)
    finally:
        await pool.close()


async def test_a_waiting_caller_is_handed_a_connection_still_inside_the_last_transaction(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1, settle_seconds=0.0)
    try:
        held = await pool.acquire()
        await held.execute("BEGIN READ ONLY")
        waiting = asyncio.create_task(pool.acquire())
        await wait_until(lambda: len(pool._waiters) == 1)
        pool.release(held, reusable=True)
        got = await waiting
        assert got is held and got.is_in_transaction() and not pool._unsettled  # no settle under the new user
        await got.execute(rollback_prefix(got) + "SELECT 1")
        assert not got.is_in_transaction()
        pool.release(got, reusable=True)
    finally:
        await pool.close()


async def test_a_connection_that_cannot_roll_back_while_settling_is_closed_and_its_slot_freed(opener: Opener) -> None:
    pool = ConnectionPool(opener, 1, settle_seconds=60.0)
    try:
        conn = await pool.acquire()
        await conn.execute("BEGIN READ ONLY")
        pool.release(conn, reusable=True)
        admin = await asyncpg.connect(PG_URL)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
        finally:
            await admin.close()
        pool._settle(conn)  # what the timer runs after settle_seconds
        await wait_until(lambda: pool.size == 0 and not pool._settling)
        assert conn.is_closed()
        fresh = await pool.acquire()
        assert fresh is not conn and await fresh.fetchval("SELECT 1") == 1 and opener.opened == 2
        pool.release(fresh, reusable=True)
    finally:
        await pool.close()


class BrokenConnection:
    """A double of an asyncpg connection whose protocol has failed: every statement raises what asyncpg raises
    then (``InternalClientError``), as after the server ended the session while the connection sat idle."""

    def __init__(self) -> None:
        self.terminated = False

    def is_closed(self) -> bool:
        return self.terminated

    def is_in_transaction(self) -> bool:
        return True

    async def execute(self, _query: str, timeout: float | None = None) -> str:
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")

    def terminate(self) -> None:
        self.terminated = True


async def test_a_settle_that_meets_a_failed_protocol_closes_the_connection_and_raises_nothing() -> None:
    broken = BrokenConnection()

    async def connect() -> asyncpg.Connection:
        return broken

    pool = ConnectionPool(connect, 1, settle_seconds=60.0)
    try:
        conn = await pool.acquire()
        pool.release(conn, reusable=True)
        pool._settle(conn)
        settling = set(pool._settling)
        await wait_until(lambda: pool.size == 0 and not pool._settling)
        assert broken.terminated and all(task.exception() is None for task in settling)
    finally:
        await pool.close()


def test_a_failed_driver_protocol_reaches_the_caller_as_an_unavailable_connection() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 1)
    error = engine._db_error(
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")
    )
    assert error is not None and error.code == "unavailable" and "InternalClientError" in str(error)


async def test_closing_the_pool_stops_the_settle_timers_and_closes_connections_left_in_a_transaction(
    opener: Opener,
) -> None:
    pool = ConnectionPool(opener, 2, settle_seconds=60.0)
    conn = await pool.acquire()
    await conn.execute("BEGIN READ ONLY")
    pool.release(conn, reusable=True)
    timer = pool._unsettled[conn]
    await pool.close()
    assert conn.is_closed() and timer.cancelled() and not pool._unsettled and pool.size == 0


async def test_a_session_setting_a_read_makes_is_undone_before_the_next_read_of_the_connection() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 1)
    try:
        async with engine.reading() as conn:
            await conn.execute("SELECT set_config('application_name', 'set-by-a-read', false)")
            first = conn
        async with engine.reading() as conn:
            assert conn is first  # the same connection, its transaction rolled back before this read's
            assert await conn.fetchval("SHOW application_name") == "mcp-suite-database"
    finally:
        await engine.close()


async def test_a_write_after_a_read_on_the_same_connection_rolls_the_read_back_and_commits() -> None:
    schema = f"mcp_settle_{secrets.token_hex(3)}"
    engine = PostgresEngine(NamedConnection("rw", connection(PG_URL, "read_write")), 1)
    outside = await asyncpg.connect(PG_URL)
    try:
        await outside.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.t (id integer PRIMARY KEY)")
        assert (await engine.query(f"SELECT count(*) AS n FROM {schema}.t", [], 10, None)).rows == [[0]]
        pool = await engine.pool()
        assert pool._idle[-1][0].is_in_transaction()  # the read's transaction is left for the next use
        assert (await engine.execute(f"INSERT INTO {schema}.t VALUES ($1)", [7], False)).rows_affected == 1
        assert await outside.fetchval(f"SELECT count(*) FROM {schema}.t") == 1  # committed, seen from outside
    finally:
        await engine.close()
        await outside.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await outside.close()


async def test_a_read_leaves_no_transaction_open_once_its_connection_settles() -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 2)
    try:
        pool = await engine.pool()
        pool._settle_after = 0.0
        assert (await engine.query("SELECT count(*) AS n FROM pg_class", [], 10, None)).rows[0][0] > 0
        conn = pool._idle[-1][0]
        await wait_until(lambda: not conn.is_in_transaction() and pool.idle == 1)
        assert await backend(conn.get_server_pid()) == ("idle", 0)
    finally:
        await engine.close()


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    """Yield to the event loop until ``condition()`` holds (no fixed sleeps)."""
    assert callable(condition)
    with anyio.fail_after(timeout):
        while not condition():
            await asyncio.sleep(0)
