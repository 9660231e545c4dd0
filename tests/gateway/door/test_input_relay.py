"""A tool that asks mid-call (``ctx.elicit``, ``create_message``) reaches a 2025-11-25 client through the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client, types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from gateway.call.catalog import View
from gateway.door.mcp_endpoint import Endpoint
from tests.support.gateway_fixtures import gateway_over
from tests.support.tool_results import text_of

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]


class Name(BaseModel):
    name: str


def session_style_server(finished: list[str]) -> MCPServer[Any]:
    """Tools written for sessions: they ask the client in the middle of the call."""
    server: MCPServer[Any] = MCPServer("asker")

    @server.tool(description="Asks the user's name.")
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("What is your name?", Name)
        finished.append("ask")
        return f"hello {answer.data.name if answer.action == 'accept' and answer.data else answer.action}"

    @server.tool(description="Asks the client's model.")
    async def sample(ctx: Context) -> str:
        message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text="capital of France?"))
        answer = await ctx.session.create_message(messages=[message], max_tokens=10)
        finished.append("sample")
        return f"model said {getattr(answer.content, 'text', '')}"

    return server


async def elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    assert params.message == "What is your name?"
    return types.ElicitResult(action="accept", content={"name": "Ada"})


async def sample(_ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="Paris"), model="m")


@asynccontextmanager
async def legacy_client(finished: list[str], **callbacks: Any) -> AsyncIterator[Client]:
    async with (
        gateway_over({"search": session_style_server(finished)}) as gateway,
        Client(Endpoint(gateway, View("server", "search")).server, mode="legacy", **callbacks) as client,
    ):
        yield client


async def test_an_elicitation_of_the_tool_reaches_the_client_and_its_answer_the_tool() -> None:
    finished: list[str] = []
    async with legacy_client(finished, elicitation_callback=elicit) as client:
        result = await client.call_tool("ask", {})
    assert text_of(result) == "hello Ada"
    assert finished == ["ask"]


async def test_a_sampling_request_of_the_tool_reaches_the_client_and_its_answer_the_tool() -> None:
    finished: list[str] = []
    async with legacy_client(finished, sampling_callback=sample) as client:
        result = await client.call_tool("sample", {})
    assert text_of(result) == "model said Paris"
    assert finished == ["sample"]


async def test_a_client_that_cannot_answer_gets_an_error_and_the_tool_does_not_finish() -> None:
    finished: list[str] = []
    async with legacy_client(finished) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("sample", {})
    assert refused.value.error.code == types.INVALID_REQUEST, refused.value.error.message
    assert finished == []
