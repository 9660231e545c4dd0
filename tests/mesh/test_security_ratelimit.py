"""Token buckets: per principal, per tool, per supervisor; all or nothing; in memory and in real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from mesh.security.ratelimit import Bucket, MemoryBuckets, RateLimiter, RedisBuckets
from mesh.security.settings import BucketSettings, RateLimitSettings

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_bucket_lets_its_burst_through_then_says_when_to_retry() -> None:
    clock = Clock()
    store = MemoryBuckets(clock)
    bucket = [Bucket("p", rate=2.0, burst=3)]
    assert [(await store.take(bucket)).allowed for _ in range(4)] == [True, True, True, False]
    refused = await store.take(bucket)
    assert refused.retry_after_seconds == pytest.approx(0.5)
    clock.now += 0.5
    assert (await store.take(bucket)).allowed


async def test_an_empty_bucket_takes_nothing_from_the_others() -> None:
    store = MemoryBuckets(Clock())
    roomy, tight = Bucket("roomy", 1.0, 10), Bucket("tight", 1.0, 1)
    assert (await store.take([roomy, tight])).allowed
    refused = await store.take([roomy, tight])
    assert not refused.allowed and refused.bucket == "tight"
    # roomy lost exactly one token (the allowed call), not two
    for _ in range(9):
        assert (await store.take([roomy])).allowed
    assert not (await store.take([roomy])).allowed


async def test_the_limiter_picks_principal_tool_and_supervisor_buckets() -> None:
    settings = RateLimitSettings(
        per_principal=BucketSettings(rate=1, burst=5),
        per_tool={"filesystem_write_*": BucketSettings(rate=1, burst=1)},
        per_supervisor={"system": BucketSettings(rate=1, burst=50)},
    )
    limiter = RateLimiter(settings)
    keys = [b.key for b in limiter.buckets_for("alice", "filesystem_write_file", "system")]
    assert keys == [
        "mcp-suite:ratelimit:principal:alice",
        "mcp-suite:ratelimit:tool:filesystem_write_file",
        "mcp-suite:ratelimit:supervisor:system",
    ]
    assert [b.key for b in limiter.buckets_for("bob", "filesystem_read_text_file", None)] == [
        "mcp-suite:ratelimit:principal:bob"
    ]
    assert (await limiter.take("alice", "filesystem_write_file", "system")).allowed
    refused = await limiter.take("bob", "filesystem_write_file", "system")
    assert not refused.allowed and refused.bucket is not None and ":tool:" in refused.bucket


async def test_no_configured_limit_never_refuses() -> None:
    limiter = RateLimiter(RateLimitSettings())
    assert all([(await limiter.take("a", "t", None)).allowed for _ in range(1000)])


def test_the_redis_backend_needs_a_url() -> None:
    with pytest.raises(ValueError, match="redis_url"):
        RateLimitSettings(backend="redis")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    import redis.asyncio as aioredis

    prefix = f"test-ratelimit-{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_gateway_replicas_share_buckets_in_real_redis(redis_prefix: str) -> None:
    settings = RateLimitSettings(
        backend="redis",
        redis_url=SecretStr(REDIS_URL),
        key_prefix=redis_prefix,
        per_principal=BucketSettings(rate=0.5, burst=3),
    )
    first, second = RateLimiter(settings), RateLimiter(settings)
    try:
        outcomes = [(await (first if i % 2 else second).take("alice", "t", None)).allowed for i in range(5)]
        assert outcomes == [True, True, True, False, False]
        refused = await first.take("alice", "t", None)
        assert 0 < refused.retry_after_seconds <= 2.0
        assert (await second.take("bob", "t", None)).allowed  # another principal has its own bucket
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_takes_all_buckets_or_none(redis_prefix: str) -> None:
    store = RedisBuckets(REDIS_URL)
    roomy, tight = Bucket(f"{redis_prefix}roomy", 0.001, 3), Bucket(f"{redis_prefix}tight", 0.001, 1)
    try:
        assert (await store.take([roomy, tight])).allowed
        refused = await store.take([roomy, tight])
        assert not refused.allowed and refused.bucket == tight.key
        assert (await store.take([roomy])).allowed
        assert (await store.take([roomy])).allowed
        assert not (await store.take([roomy])).allowed
    finally:
        await store.aclose()


async def test_an_unreachable_redis_lets_calls_through() -> None:
    store = RedisBuckets("redis://127.0.0.1:1/0")
    try:
        assert (await store.take([Bucket("k", 1.0, 1)])).allowed
    finally:
        await store.aclose()
