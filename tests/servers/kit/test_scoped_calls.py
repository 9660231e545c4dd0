from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult, ListRootsRequest

from servers.kit.scoped_calls import scoped


def server_with(resolve: Any) -> tuple[MCPServer[Any], list[str]]:
    server: MCPServer[Any] = MCPServer("kit-test")
    ran: list[str] = []

    @server.tool()
    @scoped(resolve)
    async def echo(text: str, ctx: Context[Any, Any], scope: str, times: int = 1) -> str:
        """Echo text within the scope."""
        ran.append(text)
        return f"{scope}:{text * times}"

    return server, ran


@pytest.mark.anyio
async def test_a_scoped_tool_runs_with_the_resolved_scope_and_hides_it_from_its_schema() -> None:
    async def resolve(ctx: Context[Any, Any]) -> str:
        return "project-a"

    server, ran = server_with(resolve)
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        assert set(tools[0].input_schema["properties"]) == {"text", "times"}
        assert tools[0].description == "Echo text within the scope."
        result = await client.call_tool("echo", {"text": "hi", "times": 2})
    assert result.structured_content == {"result": "project-a:hihi"}
    assert ran == ["hi"]


@pytest.mark.anyio
async def test_a_scope_that_needs_the_client_answers_with_the_request_and_runs_nothing() -> None:
    asked = InputRequiredResult(input_requests={"roots": ListRootsRequest()})

    async def resolve(ctx: Context[Any, Any]) -> InputRequiredResult:
        return asked

    server, ran = server_with(resolve)
    tool = server._tool_manager.get_tool("echo")
    assert tool is not None
    answer = await tool.fn(text="hi", ctx=None)
    assert answer is asked
    assert ran == []


def test_a_tool_without_a_context_or_a_scope_parameter_cannot_be_scoped() -> None:
    async def resolve(ctx: Context[Any, Any]) -> str:
        return "s"

    async def no_context(text: str, scope: str) -> str:
        return text

    async def no_scope(text: str, ctx: Context[Any, Any]) -> str:
        return text

    with pytest.raises(TypeError, match="no Context"):
        scoped(resolve)(no_context)
    with pytest.raises(TypeError, match="no 'scope'"):
        scoped(resolve)(no_scope)
