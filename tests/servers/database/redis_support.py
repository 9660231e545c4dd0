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
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult
from pydantic import SecretStr

from mesh.config import DatabaseConnection
from servers.database.redis.tools import close_redis_clients, register_redis_tools

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


async def call(server: MCPServer[Any], tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with Client(server, mode="legacy") as client:
        return await client.call_tool(tool, arguments)


async def tool_names(server: MCPServer[Any]) -> set[str]:
    async with Client(server, mode="legacy") as client:
        return {tool.name for tool in (await client.list_tools()).tools}


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def refused(result: CallToolResult, code: str) -> str:
    """An is_error result whose text carries the error ``code`` and no traceback."""
    assert result.is_error, f"expected a refusal {code!r}, got {result.structured_content!r}"
    message = text_of(result)
    assert f" {code}: " in f" {message}", message
    assert "Traceback" not in message
    return message
