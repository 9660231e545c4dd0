"""Resource subscriptions and upstream list changes pass through the gateway; cancellation reaches the upstream."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client, types
from mcp.server import MCPServer
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from gateway.call.catalog import ALL
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.scenarios.test_upstream_kinds import HandshakeOnly
from tests.support.gateway_fixtures import demo_gateway
from tests.support.upstreams import HttpUpstream, Replica, demo_server

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:resources/subscribe is removed")]

QUIET = GatewaySettings(refresh_interval_seconds=3600)  # no periodic re-listing: anything seen was pushed


class Inbox:
    """Notifications a client received, with a way to wait for one of a kind."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._arrived = anyio.Event()

    async def __call__(self, message: object) -> None:
        self.messages.append(message)
        self._arrived.set()

    async def wait_for(self, kind: type, timeout: float = 5.0) -> Any:
        with anyio.fail_after(timeout):
            while True:
                for message in self.messages:
                    if isinstance(message, kind):
                        self.messages.remove(message)
                        return message
                self._arrived = anyio.Event()
                await self._arrived.wait()


async def test_a_listening_client_hears_the_update_of_the_resource_it_asked_for_and_no_other() -> None:
    async with (
        demo_gateway(settings=QUIET) as (gateway, _, _),
        Client(Endpoint(gateway, ALL).server, mode="auto") as client,
    ):
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe
        async with client.listen(resource_subscriptions=["demo://items/a"]) as subscription:
            await client.call_tool("demo_touch", {"item": "b"})
            await client.call_tool("demo_touch", {"item": "a"})
            assert gateway.events.interest("demo") == {"demo://items/a"}
            with anyio.fail_after(5):
                event = await subscription.__anext__()
    assert event == ResourceUpdated(uri="demo://items/a")


async def test_a_handshake_era_client_subscribes_and_gets_resources_updated_until_it_unsubscribes() -> None:
    inbox = Inbox()
    async with (
        demo_gateway(settings=QUIET) as (gateway, _, _),
        Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=inbox) as client,
    ):
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe
        await client.subscribe_resource("demo://items/a")
        assert gateway.events.interest("demo") == {"demo://items/a"}
        await client.call_tool("demo_touch", {"item": "a"})
        update = await inbox.wait_for(types.ResourceUpdatedNotification)
        await client.unsubscribe_resource("demo://items/a")
        assert gateway.events.interest("demo") == set()
    assert str(update.params.uri) == "demo://items/a"


async def test_an_update_made_on_any_replica_reaches_the_subscriber() -> None:
    inbox = Inbox()
    async with (
        demo_gateway(replicas=2, settings=QUIET) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=inbox) as client,
    ):
        await client.subscribe_resource("demo://items/a")
        for _ in range(2):
            await client.call_tool("demo_touch", {"item": "a"})
        first = await inbox.wait_for(types.ResourceUpdatedNotification)
        second = await inbox.wait_for(types.ResourceUpdatedNotification)
    assert [r.calls.get("touch") for r in replicas] == [1, 1]  # round-robin: one touch on each replica
    assert str(first.params.uri) == str(second.params.uri) == "demo://items/a"


async def test_subscribing_to_an_unknown_resource_is_refused_and_subscribes_nothing() -> None:
    async with (
        demo_gateway(settings=QUIET) as (gateway, _, _),
        Client(Endpoint(gateway, ALL).server, mode="legacy") as client,
    ):
        with pytest.raises(MCPError) as caught:
            await client.subscribe_resource("nowhere://thing")
        assert gateway.events.interest("demo") == set()
    assert caught.value.code == types.INVALID_PARAMS


async def test_an_upstream_list_change_is_pushed_to_clients_without_waiting_for_a_refresh() -> None:
    inbox = Inbox()
    async with (
        demo_gateway(settings=QUIET) as (gateway, _, _),
        Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=inbox) as client,
    ):
        await client.list_tools()
        await client.call_tool("demo_grow", {})
        await inbox.wait_for(types.ToolListChangedNotification)
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "demo_grown" in names


async def test_subscriptions_are_not_advertised_or_accepted_when_no_upstream_supports_them() -> None:
    upstream = HttpUpstream(demo_server(Replica("old")), wrap=HandshakeOnly)
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            gateway = Gateway(QUIET, StaticRegistry({"old": (StaticInstance(url=upstream.url),)}))
            async with gateway.running(), Client(Endpoint(gateway, ALL).server, mode="legacy") as client:
                capabilities = client.server_capabilities
                with pytest.raises(MCPError) as caught:
                    await client.subscribe_resource("demo://items/a")
                assert gateway.events.interest("old") == set()
        finally:
            await upstream.stop()
    assert capabilities.resources is not None and not capabilities.resources.subscribe
    assert caught.value.code == types.METHOD_NOT_FOUND
    assert "does not support resource subscriptions" in caught.value.error.message


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_the_client_cancels_is_cancelled_on_the_upstream_too(mode: str) -> None:
    async with (
        demo_gateway(settings=QUIET) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server, mode=mode) as client,
    ):
        replicas[0].gate = anyio.Event()  # the call waits until cancelled
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("demo_slow", {"steps": 0})

            tg.start_soon(call)
            with anyio.fail_after(5):
                await replicas[0].entered.wait()
            tg.cancel_scope.cancel()
        with anyio.fail_after(5):
            await replicas[0].cancelled.wait()
        status = gateway.status()["bulkheads"]
    assert all(scope.get("in_flight", 0) == 0 for scope in status.values()), status


async def test_a_list_change_announced_on_a_handshake_era_session_is_pushed_too() -> None:
    server: MCPServer[Any] = MCPServer("old")

    @server.tool(description="Add a tool and announce it on the session.")
    async def grow(ctx: Context) -> str:
        def grown() -> str:
            return "grown"

        server.add_tool(grown, name="grown", description="added at run time")
        await ctx.session.send_tool_list_changed()
        return "grew"

    inbox = Inbox()
    upstream = HttpUpstream(server, wrap=HandshakeOnly)
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            gateway = Gateway(QUIET, StaticRegistry({"old": (StaticInstance(url=upstream.url),)}))
            async with (
                gateway.running(),
                Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=inbox) as client,
            ):
                await client.list_tools()
                await client.call_tool("old_grow", {})
                await inbox.wait_for(types.ToolListChangedNotification)
                names = {tool.name for tool in (await client.list_tools()).tools}
        finally:
            await upstream.stop()
    assert "old_grown" in names


class LegacySubscribable:
    """A low-level SDK server of the 2025-11-25 era with ``resources/subscribe``, which ``MCPServer`` does not offer there.

    It records what it was asked to (un)subscribe, and its ``touch`` tool sends ``resources/updated`` on
    the session that subscribed, the way such a server tells its subscribers.
    """

    URI = "legacy://things/a"

    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.unsubscribed: list[str] = []
        self.unsubscribe_arrived = anyio.Event()
        self._subscribers: list[Any] = []
        self.server: Server[Any] = Server(
            "legacy",
            on_list_resources=self._list_resources,
            on_read_resource=self._read_resource,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    async def _list_resources(self, _ctx: Any, _params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[types.Resource(uri=self.URI, name="a")])

    async def _read_resource(self, _ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=str(params.uri), text="a")])

    async def _subscribe(self, ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        self.subscribed.append(str(params.uri))
        self._subscribers.append(ctx.session)
        return types.EmptyResult()

    async def _unsubscribe(self, _ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        self.unsubscribed.append(str(params.uri))
        self.unsubscribe_arrived.set()
        return types.EmptyResult()

    async def _list_tools(self, _ctx: Any, _params: Any) -> types.ListToolsResult:
        schema = {"type": "object", "properties": {}}
        return types.ListToolsResult(tools=[types.Tool(name="touch", inputSchema=schema)])

    async def _call_tool(self, _ctx: Any, _params: types.CallToolRequestParams) -> types.CallToolResult:
        for session in self._subscribers:
            await session.send_resource_updated(self.URI)
        return types.CallToolResult(content=[types.TextContent(type="text", text="touched")])


async def test_a_subscription_reaches_a_handshake_era_upstream_and_its_update_comes_back() -> None:
    legacy = LegacySubscribable()
    upstream = HttpUpstream(legacy.server, wrap=HandshakeOnly)  # type: ignore[arg-type]
    inbox = Inbox()
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            gateway = Gateway(QUIET, StaticRegistry({"legacy": (StaticInstance(url=upstream.url),)}))
            async with (
                gateway.running(),
                Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=inbox) as client,
            ):
                member = next(iter(gateway.pools["legacy"].members.values()))
                assert member.upstream is not None and member.upstream.protocol_version == "2025-11-25"
                assert client.server_capabilities.resources is not None
                assert client.server_capabilities.resources.subscribe
                await client.subscribe_resource(LegacySubscribable.URI)
                assert legacy.subscribed == [LegacySubscribable.URI]  # acknowledged upstream before returning
                await client.call_tool("legacy_touch", {})
                update = await inbox.wait_for(types.ResourceUpdatedNotification)
                await client.unsubscribe_resource(LegacySubscribable.URI)
                with anyio.fail_after(5):  # the last subscriber leaving unsubscribes upstream in the background
                    await legacy.unsubscribe_arrived.wait()
                assert legacy.unsubscribed == [LegacySubscribable.URI]
        finally:
            await upstream.stop()
    assert str(update.params.uri) == LegacySubscribable.URI
