"""The embedding cache: the in-process LRU, and the real Redis at 127.0.0.1:6379 shared by replicas."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy
import pytest
import redis.asyncio

from servers.kit.embedders.cache import CachedEmbedder
from servers.kit.embedders.local import LocalEmbedder
from servers.kit.embedders.settings import EmbeddingCacheSettings
from tests.servers.kit.embedders.support import Counting, closed_port

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    unique = f"test-embedding-cache:{uuid.uuid4().hex}:"
    yield unique
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{unique}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def counting() -> Counting:
    return Counting(LocalEmbedder())


async def test_a_repeated_text_comes_from_memory_without_calling_the_model() -> None:
    inner = counting()
    cached = CachedEmbedder(inner, EmbeddingCacheSettings(memory_entries=10))
    first = await cached.embed(["hello world", "another"])
    second = await cached.embed(["another", "hello world"])
    numpy.testing.assert_array_equal(second, first[::-1])
    assert inner.texts_embedded == 2
    stats = cached.stats()
    assert (stats.hits_memory, stats.hits_redis, stats.misses, stats.redis) == (2, 0, 2, "off")


async def test_a_text_twice_in_one_call_is_embedded_once() -> None:
    inner = counting()
    cached = CachedEmbedder(inner, EmbeddingCacheSettings())
    vectors = await cached.embed(["same", "same", "other"])
    numpy.testing.assert_array_equal(vectors[0], vectors[1])
    assert inner.calls == [["same", "other"]]


async def test_the_lru_keeps_only_memory_entries_and_drops_the_least_recently_used() -> None:
    inner = counting()
    cached = CachedEmbedder(inner, EmbeddingCacheSettings(memory_entries=2))
    await cached.embed(["a", "b"])
    await cached.embed(["a"])  # a is now the most recent
    await cached.embed(["c"])  # evicts b
    assert cached.memory_entries == 2
    before = inner.texts_embedded
    await cached.embed(["a", "c"])
    assert inner.texts_embedded == before
    await cached.embed(["b"])
    assert inner.texts_embedded == before + 1


async def test_memory_entries_zero_disables_the_lru() -> None:
    inner = counting()
    cached = CachedEmbedder(inner, EmbeddingCacheSettings(memory_entries=0))
    await cached.embed(["x"])
    await cached.embed(["x"])
    assert inner.texts_embedded == 2
    assert cached.memory_entries == 0


async def test_cached_rows_cannot_be_changed_through_an_answer() -> None:
    cached = CachedEmbedder(counting(), EmbeddingCacheSettings())
    first = await cached.embed(["x"])
    first[0, 0] = 42.0
    again = await cached.embed(["x"])
    assert again[0, 0] != 42.0


async def test_a_second_replica_gets_the_vectors_from_redis_without_calling_its_model(prefix: str) -> None:
    settings = EmbeddingCacheSettings(redis_url=REDIS_URL, key_prefix=prefix, ttl_seconds=600)
    one = CachedEmbedder(counting(), settings)
    vectors = await one.embed(["shared across replicas", "and this"])
    inner_two = counting()
    two = CachedEmbedder(inner_two, settings)
    again = await two.embed(["and this", "shared across replicas"])
    numpy.testing.assert_array_equal(again, vectors[::-1])
    assert inner_two.texts_embedded == 0
    stats = two.stats()
    assert (stats.hits_memory, stats.hits_redis, stats.misses, stats.redis) == (0, 2, 0, "up")
    await one.aclose()
    await two.aclose()


async def test_redis_keys_carry_the_identity_the_text_hash_and_the_ttl(prefix: str) -> None:
    settings = EmbeddingCacheSettings(redis_url=REDIS_URL, key_prefix=prefix, ttl_seconds=600)
    cached = CachedEmbedder(counting(), settings)
    await cached.embed(["secret text"])
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        assert len(keys) == 1
        key = keys[0].decode()
        assert key.startswith(f"{prefix}local:all-MiniLM-L6-v2 (384 dims):")
        assert "secret" not in key
        assert 0 < await client.ttl(keys[0]) <= 600
        assert len(await client.get(keys[0])) == 384 * 4
    finally:
        await client.aclose()
    await cached.aclose()


async def test_a_corrupt_redis_entry_is_a_miss_not_an_error(prefix: str) -> None:
    settings = EmbeddingCacheSettings(redis_url=REDIS_URL, key_prefix=prefix, memory_entries=0)
    cached = CachedEmbedder(counting(), settings)
    good = await cached.embed(["text"])
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        (key,) = [key async for key in client.scan_iter(match=f"{prefix}*")]
        await client.set(key, b"short")
    finally:
        await client.aclose()
    inner = counting()
    other = CachedEmbedder(inner, settings)
    again = await other.embed(["text"])
    numpy.testing.assert_allclose(again, good, atol=1e-6)
    assert inner.texts_embedded == 1
    await cached.aclose()
    await other.aclose()


async def test_an_unreachable_redis_is_skipped_without_an_error() -> None:
    settings = EmbeddingCacheSettings(redis_url=f"redis://127.0.0.1:{closed_port()}/0", redis_timeout_seconds=0.5)
    inner = counting()
    cached = CachedEmbedder(inner, settings)
    vectors = await cached.embed(["still works"])
    assert vectors.shape == (1, 384)
    assert cached.stats().redis == "down"
    again = await cached.embed(["still works", "and more"])  # memory still answers; Redis is not retried yet
    numpy.testing.assert_array_equal(again[0], vectors[0])
    assert inner.texts_embedded == 2
    await cached.aclose()
