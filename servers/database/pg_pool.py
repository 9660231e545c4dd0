"""A bounded pool of asyncpg connections, lean enough for a call that takes a fraction of a millisecond.

asyncpg's own ``Pool`` wraps every checkout in a proxy object and every return in a new task (``shield``)
under a timeout, with a reset round of its own: about 8 % of the database server's CPU on a primary-key
``sql_query``. The engine needs less. Each use of a connection ends with a ROLLBACK (reads) or a reset
(writes) that the engine runs itself, and the engine knows whether that cleanup completed, so
:meth:`ConnectionPool.release` is a plain function: a connection whose cleanup completed goes back to
the pool (or straight to the first caller waiting for one); any other (a cancelled query, a failed
rollback, a closed socket) is terminated, and the caller next in line opens a fresh one.

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError("a pool needs room for at least one connection")
        self._connect = connect
        self._max_size = max_size
        self._max_idle = max_idle_seconds
        self._clock = clock
        self._idle: list[tuple[asyncpg.Connection, float]] = []  # newest last
        self._in_use: set[asyncpg.Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None
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
        """Give ``conn`` back. ``reusable``: its use ended cleanly (rolled back or reset), so the next caller
        may have it; otherwise it is terminated and its slot passed on."""
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
        if self._sweep is None and len(self._idle) > 1:
            self._sweep = asyncio.get_running_loop().call_later(self._max_idle, self.close_stale)

    def _pass_slot(self) -> None:
        """A slot came free with no connection in it: the first caller waiting opens one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close_stale(self) -> None:
        """Close connections idle longer than ``max_idle_seconds``, keeping the newest one open (run by a
        timer while more than one connection is idle)."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        now = self._clock()
        while len(self._idle) > 1 and self._idle[0][1] <= now - self._max_idle:
            conn, _since = self._idle.pop(0)
            conn.terminate()
        if len(self._idle) > 1 and not self._closed:
            delay = max(0.0, self._idle[0][1] + self._max_idle - now)
            self._sweep = asyncio.get_running_loop().call_later(delay, self.close_stale)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for a block that leaves no session state behind (tests, one-off reads)."""
        conn = await self.acquire()
        clean = False
        try:
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
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
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
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosedError("the connection pool is closed"))
