"""Calls on a bare ``MCPServer`` (one engine's tools registered, no database server around them), and their results.

Shared by the Redis and Neo4j tests: ``call`` and ``tool_names`` open an in-memory client;
``data`` and ``refused`` unpack a result or check it is a refusal with a given code.
"""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from tests.support.tool_results import data as data  # re-exported for the tests that import it from here
from tests.support.tool_results import text_of as text_of


async def call(server: MCPServer[Any], tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with Client(server, mode="legacy") as client:
        return await client.call_tool(tool, arguments)


async def tool_names(server: MCPServer[Any]) -> set[str]:
    async with Client(server, mode="legacy") as client:
        return {tool.name for tool in (await client.list_tools()).tools}


def refused(result: CallToolResult, code: str) -> str:
    """An is_error result whose text carries the error ``code`` and no traceback."""
    assert result.is_error, f"expected a refusal {code!r}, got {result.structured_content!r}"
    message = text_of(result)
    assert f" {code}: " in f" {message}", message
    assert "Traceback" not in message
    return message
