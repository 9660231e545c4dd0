"""Every server the runtime serves answers logging levels, completions, subscriptions and prompt errors.

Driven with the SDK's in-memory ``Client`` over the 2025-11-25 handshake (``mode="legacy"``), the era
these methods belong to, against a small server built inline and given the runtime's features.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    LoggingMessageNotificationParams,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
)

from servers.runtime.completion import add_completer, template_variables
from servers.runtime.protocol_features import add_protocol_features

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]

TABLES = ("accounts", "actions", "audits", "bills")


def sample_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("sample")

    @server.tool()
    async def chatty(ctx: Context) -> str:
        await ctx.debug("debug line")
        await ctx.info("info line")
        await ctx.warning("warning line")
        await ctx.error("error line")
        return "done"

    @server.tool()
    async def touch(uri: str, ctx: Context) -> str:
        await ctx.notify_resource_updated(uri)
        return "announced"

    @server.prompt()
    def describe(table: str, style: str = "short") -> str:
        return f"describe {table} ({style})"

    @server.resource("db://{connection}/tables/{table}")
    def table_resource(connection: str, table: str) -> str:
        return f"{connection}.{table}"

    async def tables(prefix: str, given: Any) -> list[str]:
        return [name for name in TABLES if name.startswith(prefix)]

    add_completer(server, "table", tables)
    add_protocol_features(server)
    return server


async def test_log_notifications_below_the_level_a_session_set_are_not_sent() -> None:
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with Client(sample_server(), mode="legacy", logging_callback=on_log) as client:
        assert client.server_capabilities.logging is not None
        await client.call_tool("chatty", {})
        everything = [p.data for p in received]
        received.clear()
        await client.set_logging_level("warning")
        await client.call_tool("chatty", {})
    assert everything == ["debug line", "info line", "warning line", "error line"]
    assert [p.data for p in received] == ["warning line", "error line"]


async def test_a_prompt_argument_with_a_completer_completes_from_the_partial_value() -> None:
    async with Client(sample_server(), mode="legacy") as client:
        assert client.server_capabilities.completions is not None
        result = await client.complete(
            PromptReference(type="ref/prompt", name="describe"), {"name": "table", "value": "a"}
        )
    assert result.completion.values == ["accounts", "actions", "audits"]
    assert result.completion.total == 3 and not result.completion.has_more


async def test_a_template_variable_completes_with_the_completer_of_its_name() -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="db://{connection}/tables/{table}")
    async with Client(sample_server(), mode="legacy") as client:
        tables = await client.complete(ref, {"name": "table", "value": "b"})
        connections = await client.complete(ref, {"name": "connection", "value": ""})
    assert tables.completion.values == ["bills"]
    assert connections.completion.values == []  # a known variable with no completer: an empty list


async def test_completion_of_an_unknown_prompt_template_or_argument_is_invalid_params() -> None:
    async with Client(sample_server(), mode="legacy") as client:
        refs: list[tuple[PromptReference | ResourceTemplateReference, str]] = [
            (PromptReference(type="ref/prompt", name="nosuch"), "table"),
            (PromptReference(type="ref/prompt", name="describe"), "nosuch"),
            (ResourceTemplateReference(type="ref/resource", uri="db://{x}"), "x"),
        ]
        for ref, argument in refs:
            with pytest.raises(MCPError) as refused:
                await client.complete(ref, {"name": argument, "value": ""})
            assert refused.value.error.code == INVALID_PARAMS, (ref, argument)
            assert "nosuch" in refused.value.error.message or "db://{x}" in refused.value.error.message


async def test_completions_are_capped_at_one_hundred_with_the_total() -> None:
    server = sample_server()

    async def many(prefix: str, given: Any) -> list[str]:
        return [f"{prefix}{n}" for n in range(250)]

    add_completer(server, "style", many)
    async with Client(server, mode="legacy") as client:
        result = await client.complete(
            PromptReference(type="ref/prompt", name="describe"), {"name": "style", "value": "s"}
        )
    assert len(result.completion.values) == 100 and result.completion.total == 250 and result.completion.has_more


def test_template_variables_read_every_rfc_6570_form() -> None:
    assert template_variables("file:///r/{+path}") == {"path"}
    assert template_variables("x://{a}/{b,c*}{?q:3}") == {"a", "b", "c", "q"}


async def test_a_subscribed_session_is_told_of_an_announced_change_and_not_after_unsubscribing() -> None:
    updated: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            arrived.set()

    async with Client(sample_server(), mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe
        await client.subscribe_resource("db://main/tables/accounts")
        await client.call_tool("touch", {"uri": "db://main/tables/bills"})  # not subscribed: not told
        await client.call_tool("touch", {"uri": "db://main/tables/accounts"})
        with anyio.fail_after(5):
            await arrived.wait()
        await client.unsubscribe_resource("db://main/tables/accounts")
        await client.call_tool("touch", {"uri": "db://main/tables/accounts"})
        await client.send_ping()  # a round trip after the last announcement: anything sent has arrived
    assert updated == ["db://main/tables/accounts"]


async def test_an_unknown_prompt_or_a_missing_argument_is_invalid_params() -> None:
    async with Client(sample_server(), mode="legacy") as client:
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("nosuch")
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("describe", {})
        assert (await client.get_prompt("describe", {"table": "bills"})).messages
    assert unknown.value.error.code == INVALID_PARAMS and "nosuch" in unknown.value.error.message
    assert missing.value.error.code == INVALID_PARAMS and "table" in missing.value.error.message


async def test_installing_the_features_twice_changes_nothing() -> None:
    server = sample_server()
    before = list(server.middleware)
    add_protocol_features(server)
    assert server.middleware == before
