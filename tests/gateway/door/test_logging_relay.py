"""Log messages of an upstream tool reach the client through the gateway, in both protocol eras."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client, types
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import View
from gateway.door.mcp_endpoint import Endpoint
from tests.support.conformance_fixture import conformance_server
from tests.support.gateway_fixtures import gateway_over

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]

VIEW = View("server", "search")


class Logs:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def __call__(self, params: types.LoggingMessageNotificationParams) -> None:
        self.messages.append(params.data)


@asynccontextmanager
async def legacy_client(logs: Logs) -> AsyncIterator[Client]:
    """A 2025-11-25 session with the gateway's search endpoint, over the conformance fixture."""
    async with (
        gateway_over({"search": conformance_server()}) as gateway,
        Client(Endpoint(gateway, VIEW).server, mode="legacy", logging_callback=logs) as client,
    ):
        yield client


async def test_a_handshake_era_client_sets_a_level_and_gets_the_tools_log_messages() -> None:
    logs = Logs()
    async with legacy_client(logs) as client:
        assert client.server_capabilities.logging is not None
        await client.set_logging_level("info")
        result = await client.call_tool("test_tool_with_logging", {})
    assert not result.is_error
    assert logs.messages == ["Tool execution started", "Tool processing data", "Tool execution completed"]


async def test_a_level_above_the_messages_silences_them() -> None:
    logs = Logs()
    async with legacy_client(logs) as client:
        await client.set_logging_level("error")
        await client.call_tool("test_tool_with_logging", {})
    assert logs.messages == []


async def test_a_stateless_client_that_asks_for_a_level_gets_the_log_messages() -> None:
    logs = Logs()
    async with (
        gateway_over({"search": conformance_server()}) as gateway,
        Client(Endpoint(gateway, VIEW).server, log_level="info", logging_callback=logs) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        await client.call_tool("test_tool_with_logging", {})
    assert len(logs.messages) == 3


async def test_an_unknown_level_is_refused_and_the_level_set_before_still_holds() -> None:
    logs = Logs()
    async with legacy_client(logs) as client:
        await client.set_logging_level("error")
        with pytest.raises(MCPError) as refused:
            loud = types.SetLevelRequestParams.model_construct(level="loud")  # type: ignore[arg-type]
            await client.session.send_request(types.SetLevelRequest(params=loud), types.EmptyResult)
        await client.call_tool("test_tool_with_logging", {})
    assert refused.value.error.code == types.INVALID_PARAMS
    assert logs.messages == []
