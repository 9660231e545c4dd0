"""Vectors computed once: an in-process LRU first, then Redis shared by every replica.

:class:`CachedEmbedder` wraps any :class:`~servers.kit.embedders.base.Embedder` and is one itself.
A vector's key is the inner embedder's identity label and the sha256 of the text, so two models
(or two dimensions of one model) never share an entry, and a text is never stored in clear.
Redis holds the raw float32 bytes under ``<key_prefix><label>:<sha256>`` with the TTL; reads are
one ``MGET``, writes one pipeline of ``SET ... EX``.

Redis is an optimisation, never a dependency: when it cannot be reached or fails, the failure is
logged once, the call goes on without it (the LRU and the inner embedder answer), and Redis is
tried again after ``redis_retry_seconds``; its recovery is logged too.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from servers.kit.embedders.base import Embedder, EmbedderIdentity, Vectors, WarmState, empty
from servers.kit.embedders.settings import EmbeddingCacheSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheStats:
    """Where the vectors of the calls so far came from (one count per text asked for)."""

    hits_memory: int
    hits_redis: int
    misses: int
    redis: str
    """``"off"`` (no URL), ``"unused"`` (not tried yet), ``"up"`` or ``"down"``."""


class _Lru:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Vectors] = OrderedDict()

    def get(self, key: str) -> Vectors | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: str, vector: Vectors) -> None:
        if self.capacity <= 0:
            return
        self._items[key] = vector
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class CachedEmbedder:
    """``inner`` behind the two cache levels; the same protocol, the same identity."""

    def __init__(self, inner: Embedder, settings: EmbeddingCacheSettings, *, redis_client: Any | None = None) -> None:
        self.inner = inner
        self._settings = settings
        self._lru = _Lru(settings.memory_entries)
        self._redis: Any | None = redis_client
        self._redis_state = "off" if settings.redis_url is None and redis_client is None else "unused"
        self._redis_down_until = 0.0
        self._hits_memory = 0
        self._hits_redis = 0
        self._misses = 0

    @property
    def identity(self) -> EmbedderIdentity:
        return self.inner.identity

    @property
    def warm_state(self) -> WarmState:
        return self.inner.warm_state

    async def warm(self) -> None:
        await self.inner.warm()

    def stats(self) -> CacheStats:
        return CacheStats(self._hits_memory, self._hits_redis, self._misses, self._redis_state)

    @property
    def memory_entries(self) -> int:
        return len(self._lru)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        await self.inner.warm()
        identity = self.inner.identity
        if not texts:
            return empty(identity.dimension)
        prefix = f"{identity.label()}:"
        keys = [prefix + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
        found: dict[str, Vectors] = {}
        for key in keys:
            vector = self._lru.get(key)
            if vector is not None:
                found[key] = vector
        self._hits_memory += sum(1 for key in keys if key in found)
        wanted = list(dict.fromkeys(key for key in keys if key not in found))
        if wanted:
            from_redis = await self._redis_get(wanted, identity.dimension)
            for key, vector in from_redis.items():
                found[key] = vector
                self._lru.put(key, vector)
            self._hits_redis += sum(1 for key in keys if key in from_redis)
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        self._misses += sum(1 for key in keys if key in missing)
        if missing:
            computed = await self.inner.embed(list(missing.values()))
            fresh: dict[str, Vectors] = {}
            for row, key in enumerate(missing):
                vector = computed[row].copy()
                vector.setflags(write=False)
                fresh[key] = vector
                found[key] = vector
                self._lru.put(key, vector)
            await self._redis_set(fresh)
        return numpy.vstack([found[key] for key in keys]).astype(numpy.float32, copy=False)

    async def aclose(self) -> None:
        client, self._redis = self._redis, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # closing a broken connection must not mask the shutdown
                log.debug("closing the embedding cache's Redis client failed", exc_info=True)
        await self.inner.aclose()

    # -- Redis --------------------------------------------------------------------------------

    def _client(self) -> Any | None:
        if self._redis_state == "off":
            return None
        if self._redis_state == "down" and time.monotonic() < self._redis_down_until:
            return None
        if self._redis is None:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(
                self._settings.redis_url or "",
                socket_timeout=self._settings.redis_timeout_seconds,
                socket_connect_timeout=self._settings.redis_timeout_seconds,
                retry_on_timeout=False,
            )
        return self._redis

    def _redis_ok(self) -> None:
        if self._redis_state == "down":
            log.warning("embedding cache: Redis answers again; the shared cache is back in use")
        self._redis_state = "up"

    def _redis_failed(self, exc: Exception) -> None:
        if self._redis_state != "down":
            log.warning(
                "embedding cache: Redis failed (%s: %s); going on without it, next try in %.0f s",
                type(exc).__name__,
                exc,
                self._settings.redis_retry_seconds,
            )
        self._redis_state = "down"
        self._redis_down_until = time.monotonic() + self._settings.redis_retry_seconds

    def _redis_key(self, key: str) -> str:
        return self._settings.key_prefix + key

    async def _redis_get(self, keys: Sequence[str], dimension: int) -> dict[str, Vectors]:
        client = self._client()
        if client is None:
            return {}
        try:
            values = await client.mget([self._redis_key(key) for key in keys])
        except Exception as exc:
            self._redis_failed(exc)
            return {}
        self._redis_ok()
        found: dict[str, Vectors] = {}
        for key, value in zip(keys, values, strict=True):
            if isinstance(value, bytes) and len(value) == dimension * 4:
                vector = numpy.frombuffer(value, dtype="<f4").astype(numpy.float32)
                vector.setflags(write=False)
                found[key] = vector
        return found

    async def _redis_set(self, vectors: dict[str, Vectors]) -> None:
        client = self._client()
        if client is None or not vectors:
            return
        try:
            async with client.pipeline(transaction=False) as pipe:
                for key, vector in vectors.items():
                    pipe.set(self._redis_key(key), vector.astype("<f4").tobytes(), ex=self._settings.ttl_seconds)
                await pipe.execute()
        except Exception as exc:
            self._redis_failed(exc)
            return
        self._redis_ok()
