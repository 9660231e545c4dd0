"""A stdio child gets ``stdio_start_timeout_seconds`` to start, not the connect timeout of a running instance."""

from __future__ import annotations

import sys
from textwrap import dedent

import pytest
from mcp import Client

from gateway.call.catalog import ALL
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry

pytestmark = pytest.mark.anyio

# A child that takes a second to start (its imports, a model to load), then serves one tool over stdio.
SLOW_CHILD = dedent(
    """
    import time
    time.sleep(1.0)
    from mcp.server import MCPServer
    server = MCPServer(name="slow")

    @server.tool()
    def ping() -> str:
        return "pong"

    server.run(transport="stdio")
    """
)


async def tool_names(settings: GatewaySettings) -> list[str]:
    registry = StaticRegistry({"slow": (StaticInstance(command=sys.executable, args=("-c", SLOW_CHILD)),)})
    gateway = Gateway(settings, registry)
    async with gateway.running(), Client(Endpoint(gateway, ALL).server, mode="legacy") as client:
        return [tool.name for tool in (await client.list_tools()).tools]


async def test_a_slow_stdio_child_is_listed_though_it_starts_slower_than_the_connect_timeout() -> None:
    names = await tool_names(GatewaySettings(connect_timeout_seconds=0.2))
    assert "slow_ping" in names


async def test_a_stdio_child_slower_than_its_start_timeout_is_not_listed() -> None:
    names = await tool_names(GatewaySettings(connect_timeout_seconds=0.2, stdio_start_timeout_seconds=0.2))
    assert "slow_ping" not in names
    assert any(name.startswith("gateway_") for name in names)
