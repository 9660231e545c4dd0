"""Helpers for the Redis tests: the real Redis at 127.0.0.1:6379 (database 15), a unique key prefix per test.

Every test writes only keys under its own prefix and the ``seeded`` fixture deletes them
afterwards; nothing here flushes a database. ``server_for`` builds a bare ``MCPServer`` with the
Redis tools registered for the given connections.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from mcp.server import MCPServer
from pydantic import SecretStr

from servers.database.redis.tools import close_redis_clients, register_redis_tools
from servers.database.settings import DatabaseConnection

REDIS_URL = "redis://127.0.0.1:6379/15"


def connection(access: str = "read_only", url: str = REDIS_URL, **limits: Any) -> DatabaseConnection:
    return DatabaseConnection(url=SecretStr(url), access=access, **limits)  # type: ignore[arg-type]


def server_for(**connections: DatabaseConnection) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("test")
    register_redis_tools(server, connections)
    return server


class Seeded:
    """A raw client on database 15 and this test's key prefix."""

    def __init__(self, raw: aioredis.Redis, prefix: str) -> None:
        self.raw = raw
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def snapshot(self) -> dict[str, bytes | None]:
        """Every key under the prefix with its serialized value (DUMP) and TTL: equal snapshots, unchanged data."""
        found: dict[str, bytes | None] = {}
        async for key in self.raw.scan_iter(match=f"{self.prefix}*", count=500):
            name = key.decode()
            found[name] = await self.raw.dump(name)
            found[name + "#ttl"] = str(await self.raw.ttl(name)).encode()
        return found


@pytest.fixture
async def seeded() -> AsyncIterator[Seeded]:
    raw = aioredis.from_url(REDIS_URL)
    prefix = f"mcptest:{uuid.uuid4().hex[:12]}:"
    try:
        yield Seeded(raw, prefix)
    finally:
        keys = [key async for key in raw.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()
        await close_redis_clients()
