"""The Redis store's plumbing: the client, the namespace space a call works in, optimistic transactions.

A write is one ``WATCH``/``MULTI``/``EXEC``: it watches the keys its decision depends on (each
entity it changes; every change to an entity rewrites that entity's hash, so watching the hash
sees any concurrent change to the entity), reads, then queues all its changes in one ``MULTI``. If
another writer changed a watched key meanwhile ``EXEC`` does nothing and the write starts again,
at most ``max_write_retries`` times. Observation ids come from ``INCRBY`` on one counter, so they
are unique across writers (a retried write leaves a gap). A Redis that does not answer is the
coded ``store_unavailable``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis

from servers.kit.keyed_locks import KeyedLocks
from servers.memory.errors import MemoryToolError
from servers.memory.settings import RedisStoreSettings
from servers.memory.store.redis.keys import NO_TTL_GENERATION, Keys, Space
from servers.memory.store.unavailable import unavailable_on

T = TypeVar("T")
Queue = Callable[[Any], None]
Finish = Callable[[list[Any]], T]
Plan = tuple[Queue, Finish[T]]
DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError)
FIRST_BACKOFF = 0.001
MAX_BACKOFF = 0.1


guarded = unavailable_on(DOWN, "redis")
"""A Redis that is down or too slow answers ``store_unavailable`` instead of a crash."""


def _nothing(pipe: Any) -> None:
    return None


def glob_escaped(text: str) -> str:
    """``text`` as a literal in a ``SCAN MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisBase:
    kind = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        key_prefix: str = "mcp-suite:memory:",
        *,
        ttl_seconds: int | None = None,
        max_connections: int = 20,
        connect_timeout: float = 5.0,
        socket_timeout: float = 10.0,
        max_write_retries: int = 100,
    ) -> None:
        self.url = url
        self.keys = Keys(key_prefix)
        self.ttl_seconds = ttl_seconds
        self.max_write_retries = max_write_retries
        self._entity_locks = KeyedLocks()
        parts = urlsplit(url)
        self.address = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"  # never the password
        # A blocking pool: a call beyond max_connections waits (up to the socket timeout) for a free connection.
        # A write holds one connection from WATCH to EXEC and needs no other, so writers never starve each other.
        options: dict[str, Any] = {
            "timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": socket_timeout,
        }
        self._pools = [
            BlockingConnectionPool.from_url(url, decode_responses=True, max_connections=max_connections, **options),
            BlockingConnectionPool.from_url(url, decode_responses=False, max_connections=4, **options),
        ]
        self._redis: Any = Redis(connection_pool=self._pools[0])
        self._binary: Any = Redis(connection_pool=self._pools[1])  # vectors are bytes

    @classmethod
    def from_settings(cls: type[T], settings: RedisStoreSettings) -> T:
        return cls(  # type: ignore[call-arg]
            settings.url,
            settings.key_prefix,
            ttl_seconds=settings.ttl_seconds,
            max_connections=settings.max_connections,
            connect_timeout=settings.connect_timeout_seconds,
            socket_timeout=settings.socket_timeout_seconds,
            max_write_retries=settings.max_write_retries,
        )

    @guarded
    async def open(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        for pool in self._pools:
            await pool.disconnect()

    @guarded
    async def ping(self) -> str:
        info = await self._redis.info("server")
        return f"redis {info.get('redis_version', '?')}, prefix {self.keys.prefix!r}"

    # -- spaces ------------------------------------------------------------------------------------

    async def _read_space(self, namespace: str) -> Space | None:
        """The namespace's current space; none when its TTL ran out (it is empty)."""
        if self.ttl_seconds is None:
            return self.keys.space(namespace, NO_TTL_GENERATION)
        generation = await self._redis.get(self.keys.generation(namespace))
        return None if generation is None else self.keys.space(namespace, generation)

    async def _write_space(self, pipe: Any, namespace: str) -> tuple[Space, Queue]:
        """The space a write works in (a new generation once the TTL ran out) and what refreshes it."""
        keys = self.keys
        if self.ttl_seconds is None:
            return keys.space(namespace, NO_TTL_GENERATION), lambda p: p.sadd(keys.namespaces, namespace)
        ttl = self.ttl_seconds
        marker = keys.generation(namespace)
        await pipe.watch(marker)
        generation = await pipe.get(marker)
        if generation is None:
            generation = str(await pipe.incr(keys.generation_next(namespace)))

        def refresh(p: Any) -> None:
            p.set(marker, generation, ex=ttl)
            p.sadd(keys.generations(namespace), generation)
            p.sadd(keys.namespaces, namespace)

        return keys.space(namespace, generation), refresh

    # -- transactions ------------------------------------------------------------------------------

    async def _transact(
        self,
        namespace: str,
        watch: Callable[[Space], list[str]],
        plan: Callable[[Any, Space], Awaitable[Plan[T]]],
        *,
        entities: Iterable[str] = (),
        fixed: Space | None = None,
    ) -> T:
        """Run one optimistic write: watch, read and decide (``plan``), then queue it all in one ``MULTI``.

        ``plan`` may raise (a refused write) before anything is queued: nothing is written. ``fixed``:
        work in that space without refreshing the namespace's TTL (the purge). ``entities``: the names the
        write changes, whose writers in this process wait for each other first (:class:`~servers.kit.keyed_locks.KeyedLocks`).
        """
        async with self._entity_locks.hold(*(f"{namespace}\x00{name}" for name in entities)):
            return await self._attempts(namespace, watch, plan, fixed)

    async def _attempts(
        self,
        namespace: str,
        watch: Callable[[Space], list[str]],
        plan: Callable[[Any, Space], Awaitable[Plan[T]]],
        fixed: Space | None,
    ) -> T:
        for attempt in range(self.max_write_retries):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    if fixed is None:
                        space, refresh = await self._write_space(pipe, namespace)
                    else:
                        space, refresh = fixed, _nothing
                    watched = watch(space)
                    if watched:
                        await pipe.watch(*watched)
                    queue, finish = await plan(pipe, space)
                    pipe.multi()
                    queue(pipe)
                    refresh(pipe)
                    return finish(await pipe.execute())
                except redis_errors.WatchError:
                    pass
            # Another writer won the race: start again after a random pause that doubles with each loss
            # (full jitter), so many writers of one entity spread out instead of retrying in lock-step.
            await anyio.sleep(random.uniform(0, min(MAX_BACKOFF, FIRST_BACKOFF * 2**attempt)))
        raise MemoryToolError(
            "store_busy",
            f"the write lost the race with other writers {self.max_write_retries} times "
            "(memory.redis.max_write_retries); nothing was written, retry",
        )

    async def _reserve_ids(self, pipe: Any, count: int) -> list[int]:
        """``count`` new observation ids, unique across every writer of this prefix (on the write's connection)."""
        if count <= 0:
            return []
        last = int(await pipe.incrby(self.keys.obs_next, count))
        return list(range(last - count + 1, last + 1))
