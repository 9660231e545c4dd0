"""A bounded pool of asyncpg connections, lean enough for a call that takes a fraction of a millisecond.

asyncpg's own ``Pool`` wraps every checkout in a proxy object and every return in a new task (``shield``)
under a timeout, with a reset round of its own: about 8 % of the database server's CPU on a primary-key
``sql_query``. The engine needs less. Each use of a connection ends with a ROLLBACK (reads) or a reset
(writes) that the engine runs itself, and the engine knows whether that cleanup completed, so
:meth:`ConnectionPool.release` is a plain function: a connection whose cleanup completed goes back to
the pool (or straight to the first caller waiting for one); any other (a cancelled query, a failed
rollback, a closed socket) is terminated, and the caller next in line opens a fresh one.

A connection may also come back with its transaction still open, when nothing in it is to be kept (the
read-only transaction of a read that ended cleanly): its ROLLBACK then need not cost a round trip of its own.
The next user of the connection sends it ahead of its own first statement (:func:`rollback_prefix`),
and a connection left idle for :data:`SETTLE_SECONDS` is rolled back by the pool, so an idle pool holds
no transaction (nor the table locks of its last read) for longer than that.

Connections are opened on demand up to ``max_size`` and reused newest first, so a quiet server keeps
using a few warm ones. Idle connections beyond the first are closed after ``max_idle_seconds`` (asyncpg's
default of 300 s), by a timer that runs only while some are idle.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import asyncpg  # type: ignore[import-untyped]

MAX_IDLE_SECONDS = 300.0
CLOSE_TIMEOUT = 5.0
SETTLE_SECONDS = 0.05
"""How long an idle connection may keep the open transaction of its last read before the pool rolls it back."""
ROLLBACK_TIMEOUT = 5.0
CLEANUP_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
"""What a rollback or close on a broken connection raises (``InternalClientError``: the protocol is in a failed
state, e.g. after the server ended the session); such a connection is closed, never reused."""
CONNECT_FAILURES = (
    OSError,
    ValueError,  # a URL asyncpg cannot use
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
"""What opening a connection raises when the database cannot be reached or refuses the login."""
SESSION_ENDED = (
    ConnectionError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,  # 08xxx, e.g. "connection was closed in the middle of operation"
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_terminate_backend, a fast shutdown
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,  # 25P03
)
"""What a statement raises when the server had ended the session under it, rather than refused the statement."""


async def roll_back(conn: asyncpg.Connection) -> bool:
    """Roll back what a use of ``conn`` left open; True when the connection is clean for the next use."""
    if conn.is_closed():
        return False
    try:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK", timeout=ROLLBACK_TIMEOUT)
    except CLEANUP_FAILURES:
        return False  # a connection that cannot roll back is not given to the next use
    return True


def session_ended(exc: BaseException, conn: asyncpg.Connection) -> bool:
    """Whether ``exc``, raised by a statement on ``conn``, says the session was over (a restart, a terminated
    backend, an idle timeout) rather than that the statement failed."""
    return isinstance(exc, SESSION_ENDED) or (isinstance(exc, asyncpg.InterfaceError) and conn.is_closed())


def rollback_prefix(conn: asyncpg.Connection) -> str:
    """``"ROLLBACK; "`` when ``conn`` comes with a transaction still open (see :meth:`ConnectionPool.release`),
    else ``""``: put it ahead of the first statement of the next use, sent as one simple query."""
    return "ROLLBACK; " if conn.is_in_transaction() else ""


class PoolClosedError(RuntimeError):
    """The pool was closed: no connection is handed out any more."""


class ConnectionPool:
    """Up to ``max_size`` connections made by ``connect``, one caller at a time each."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        max_size: int,
        *,
        max_idle_seconds: float = MAX_IDLE_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError("a pool needs room for at least one connection")
        self._connect = connect
        self._max_size = max_size
        self._max_idle = max_idle_seconds
        self._settle_after = settle_seconds
        self._clock = clock
        self._idle: list[tuple[asyncpg.Connection, float]] = []  # newest last
        self._in_use: set[asyncpg.Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None
        self._unsettled: dict[asyncpg.Connection, asyncio.TimerHandle] = {}  # idle, transaction open: its timer
        self._settling: set[asyncio.Task[None]] = set()
        self._closed = False
        self._drained = asyncio.Event()

    @property
    def size(self) -> int:
        """Connections open or being opened."""
        return len(self._idle) + len(self._in_use) + self._opening

    @property
    def idle(self) -> int:
        return len(self._idle)

    # -- checkout -------------------------------------------------------------------------

    async def acquire(self) -> asyncpg.Connection:
        """A connection for the caller alone until :meth:`release`; opens one if there is room, else waits."""
        while True:
            if self._closed:
                raise PoolClosedError("the connection pool is closed")
            while self._idle:
                conn, _since = self._idle.pop()
                self._forget_timer(conn)
                if not conn.is_closed():
                    self._in_use.add(conn)
                    return conn
            if self.size < self._max_size:
                return await self._open()
            handed = await self._wait()
            if handed is not None:
                return handed
            # None: a connection was dropped, its slot is ours; loop to open one

    async def _open(self) -> asyncpg.Connection:
        self._opening += 1
        try:
            conn = await self._connect()
        except BaseException:
            self._opening -= 1
            self._pass_slot()
            raise
        self._opening -= 1
        if self._closed:
            conn.terminate()
            raise PoolClosedError("the connection pool is closed")
        self._in_use.add(conn)
        return conn

    async def _wait(self) -> asyncpg.Connection | None:
        waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.cancelled() or not waiter.done():
                if waiter in self._waiters:  # still queued: release() would skip it, but keep the queue short
                    self._waiters.remove(waiter)
            elif waiter.exception() is None:  # handed over just as the caller gave up: pass it on
                handed = waiter.result()
                if handed is not None:
                    self.release(handed, reusable=True)
                else:
                    self._pass_slot()
            raise

    # -- return ---------------------------------------------------------------------------

    def release(self, conn: asyncpg.Connection, *, reusable: bool) -> None:
        """Give ``conn`` back. ``reusable``: its use ended cleanly, so the next caller may have it; otherwise
        it is terminated and its slot passed on.

        A reusable connection may come back with its transaction still open, when nothing in it is to be
        kept (a read ended cleanly, its work done): the next user rolls it back ahead of its own first
        statement (:func:`rollback_prefix`), and if it sits idle for ``settle_seconds`` the pool rolls it
        back. A connection whose last statement did not complete (a cancelled query) is never reusable.
        """
        self._in_use.discard(conn)
        if not reusable or self._closed or conn.is_closed():
            conn.terminate()
            self._pass_slot()
            if self._closed and not self._in_use:
                self._drained.set()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_use.add(conn)
                waiter.set_result(conn)
                return
        self._idle.append((conn, self._clock()))
        if conn.is_in_transaction():
            self._unsettled[conn] = asyncio.get_running_loop().call_later(self._settle_after, self._settle, conn)
        if self._sweep is None and len(self._idle) > 1:
            self._sweep = asyncio.get_running_loop().call_later(self._max_idle, self.close_stale)

    async def give_back(self, conn: asyncpg.Connection, *, clean: bool) -> None:
        """:meth:`release` ``conn`` after a use: as it is when the use ended ``clean``ly, else once rolled back
        (:func:`roll_back`); a connection that cannot be, or whose rollback is cancelled, is closed."""
        try:
            if not clean:
                clean = await roll_back(conn)
        finally:
            self.release(conn, reusable=clean)

    def _pass_slot(self) -> None:
        """A slot came free with no connection in it: the first caller waiting opens one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _settle(self, conn: asyncpg.Connection) -> None:
        """Take ``conn``, idle with its last read's transaction open, out of the pool and roll it back."""
        self._unsettled.pop(conn, None)
        for index, (idle, _since) in enumerate(self._idle):
            if idle is conn:
                del self._idle[index]
                break
        else:
            return  # already handed out or closed
        self._in_use.add(conn)
        task = asyncio.get_running_loop().create_task(self._roll_back(conn))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _roll_back(self, conn: asyncpg.Connection) -> None:
        await self.give_back(conn, clean=False)  # one that cannot roll back is closed, as after a failed call

    def close_stale(self) -> None:
        """Close connections idle longer than ``max_idle_seconds``, keeping the newest one open (run by a
        timer while more than one connection is idle)."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        now = self._clock()
        while len(self._idle) > 1 and self._idle[0][1] <= now - self._max_idle:
            conn, _since = self._idle.pop(0)
            self._forget_timer(conn)
            conn.terminate()
        if len(self._idle) > 1 and not self._closed:
            delay = max(0.0, self._idle[0][1] + self._max_idle - now)
            self._sweep = asyncio.get_running_loop().call_later(delay, self.close_stale)

    def _forget_timer(self, conn: asyncpg.Connection) -> None:
        timer = self._unsettled.pop(conn, None)
        if timer is not None:
            timer.cancel()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for a block that leaves no session state behind (tests, one-off reads)."""
        conn = await self.acquire()
        clean = False
        try:
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
            yield conn
            clean = not conn.is_in_transaction()
        finally:
            self.release(conn, reusable=clean)

    # -- shutdown -------------------------------------------------------------------------

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop handing out connections (callers still waiting get :class:`PoolClosedError`), close the idle
        ones, let the ones in use finish for up to ``timeout`` seconds, then terminate whatever is left."""
        self._shut()
        idle, self._idle = [conn for conn, _since in self._idle], []
        deadline = time.monotonic() + timeout
        for conn in idle:
            try:
                await conn.close(timeout=max(0.1, deadline - time.monotonic()))
            except CLEANUP_FAILURES:
                conn.terminate()
        if self._in_use:
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                await self._drained.wait()
        self.terminate()

    def terminate(self) -> None:
        """Close every connection at once, in use or not."""
        self._shut()
        for conn in [*self._in_use, *(conn for conn, _since in self._idle)]:
            conn.terminate()
        self._in_use.clear()
        self._idle.clear()

    def _shut(self) -> None:
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for timer in self._unsettled.values():
            timer.cancel()
        self._unsettled.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosedError("the connection pool is closed"))
