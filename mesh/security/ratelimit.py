"""Token buckets per principal, per tool and per supervisor: in memory, or in Redis shared by replicas.

A call takes one token from every bucket that applies to it (its principal's, its tool's, its
supervisor's), all or nothing: when one bucket is empty nothing is taken and the call is refused with
the time until every bucket has a token again. In Redis the check-and-take is one Lua script (atomic
across gateway replicas, using the server's clock); if Redis cannot be reached the limiter lets the call
through and logs a warning (rate limits protect capacity, they are not an access control).
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mesh.security.settings import BucketSettings, RateLimitSettings

log = logging.getLogger("mcp_suite.security.ratelimit")


@dataclass(frozen=True)
class Bucket:
    key: str
    rate: float
    burst: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: float = 0.0
    bucket: str | None = None


ALLOWED = Decision(True)


class BucketStore(Protocol):
    async def take(self, buckets: Sequence[Bucket]) -> Decision: ...

    async def aclose(self) -> None: ...


class MemoryBuckets:
    """Buckets of one process (the default): exact, no I/O."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._clock = clock

    async def take(self, buckets: Sequence[Bucket]) -> Decision:
        now = self._clock()
        levels: list[float] = []
        worst = 0.0
        worst_key: str | None = None
        for bucket in buckets:
            tokens, stamp = self._state.get(bucket.key, (bucket.burst, now))
            tokens = min(bucket.burst, tokens + (now - stamp) * bucket.rate)
            levels.append(tokens)
            if tokens < 1.0:
                wait = (1.0 - tokens) / bucket.rate
                if wait > worst:
                    worst, worst_key = wait, bucket.key
        if worst_key is not None:
            return Decision(False, worst, worst_key)
        for bucket, tokens in zip(buckets, levels, strict=True):
            self._state[bucket.key] = (tokens - 1.0, now)
        return ALLOWED

    async def aclose(self) -> None:
        return None


# KEYS: bucket keys. ARGV: n pairs of rate, burst. Returns {1, 0, ""} or {0, wait_ms, key}.
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local worst, worst_key = 0, ''
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  levels[i] = tokens
  if tokens < 1 then
    local wait = (1 - tokens) / rate
    if wait > worst then worst, worst_key = wait, key end
  end
end
if worst_key ~= '' then
  return {0, math.ceil(worst * 1000), worst_key}
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return {1, 0, ''}
"""


class RedisBuckets:
    """Buckets in Redis (redis-py asyncio), shared by every gateway replica using the same prefix."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = client or aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._redis.register_script(_TAKE_SCRIPT)

    async def take(self, buckets: Sequence[Bucket]) -> Decision:
        args: list[float] = []
        for bucket in buckets:
            args += [bucket.rate, bucket.burst]
        try:
            allowed, wait_ms, key = await self._script(keys=[b.key for b in buckets], args=args)
        except Exception as exc:  # Redis away: fail open, loudly
            log.warning("rate limiter unavailable; call let through", extra={"error": type(exc).__name__})
            return ALLOWED
        if int(allowed) == 1:
            return ALLOWED
        name = key.decode() if isinstance(key, bytes) else str(key)
        return Decision(False, int(wait_ms) / 1000.0, name)

    async def aclose(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Which buckets a call draws on, and the store that holds them."""

    def __init__(self, settings: RateLimitSettings, store: BucketStore | None = None) -> None:
        self.settings = settings
        self.enabled = settings.configured
        if store is None:
            if settings.backend == "redis" and settings.redis_url is not None:
                store = RedisBuckets(settings.redis_url.get_secret_value())
            else:
                store = MemoryBuckets()
        self.store = store
        self._tool_limits: dict[str, BucketSettings | None] = {}

    def _tool_limit(self, tool: str) -> BucketSettings | None:
        if tool not in self._tool_limits:
            found = None
            for pattern, limit in self.settings.per_tool.items():
                if fnmatch.fnmatchcase(tool, pattern):
                    found = limit
                    break
            self._tool_limits[tool] = found
        return self._tool_limits[tool]

    def buckets_for(self, principal: str, tool: str, supervisor: str | None) -> list[Bucket]:
        s = self.settings
        prefix = s.key_prefix
        buckets: list[Bucket] = []
        if s.per_principal is not None:
            buckets.append(Bucket(f"{prefix}principal:{principal}", s.per_principal.rate, s.per_principal.burst))
        tool_limit = self._tool_limit(tool)
        if tool_limit is not None:
            buckets.append(Bucket(f"{prefix}tool:{tool}", tool_limit.rate, tool_limit.burst))
        if supervisor is not None and supervisor in s.per_supervisor:
            limit = s.per_supervisor[supervisor]
            buckets.append(Bucket(f"{prefix}supervisor:{supervisor}", limit.rate, limit.burst))
        return buckets

    async def take(self, principal: str, tool: str, supervisor: str | None) -> Decision:
        if not self.enabled:
            return ALLOWED
        buckets = self.buckets_for(principal, tool, supervisor)
        if not buckets:
            return ALLOWED
        return await self.store.take(buckets)

    async def aclose(self) -> None:
        await self.store.aclose()
