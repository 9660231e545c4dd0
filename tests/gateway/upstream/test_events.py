"""The gateway hears of every list change an upstream makes, even one made while its listen stream was closed."""

from __future__ import annotations

import anyio
import pytest

from gateway.call.catalog import ALL, Catalog
from gateway.call.service import Gateway
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import HttpUpstream, Replica, demo_server

pytestmark = pytest.mark.anyio


def _quiet() -> str:
    return "quiet"


async def test_a_change_made_while_the_listen_stream_reopened_is_found_when_the_stream_is_back() -> None:
    server = demo_server(Replica("a"))
    upstream = HttpUpstream(server)
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream.url),)})
        # No periodic refresh within the test: only the reopened stream can bring the change.
        gateway = Gateway(GatewaySettings(refresh_interval_seconds=3600), registry)
        found = anyio.Event()

        async def on_change(_before: Catalog, after: Catalog) -> None:
            if any(tool["name"] == "demo_quiet" for tool in after.list_tools(ALL)):
                found.set()

        try:
            async with gateway.running():
                gateway.subscribe(on_change)
                assert "demo_quiet" not in {tool["name"] for tool in gateway.catalog.list_tools(ALL)}
                # A change no stream hears of: the upstream adds a tool without a notification.
                server.add_tool(_quiet, name="quiet", description="added unannounced")
                # A client's subscription reopens the stream with a new filter.
                await gateway.events.subscribe("demo", "demo://items/one")
                with anyio.fail_after(10):
                    await found.wait()
        finally:
            await upstream.stop()


async def test_a_connected_instance_was_listed_after_its_listen_stream_was_acknowledged() -> None:
    upstream = HttpUpstream(demo_server(Replica("a")))
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream.url),)})
        gateway = Gateway(GatewaySettings(refresh_interval_seconds=3600), registry)
        try:
            async with gateway.running():
                (member,) = gateway.pools["demo"].members.values()
                watcher = gateway.events._listen[member.instance_id]
                assert watcher.first_try.is_set(), "the listing did not wait for the listen stream"
                assert member.listing is not None
        finally:
            await upstream.stop()
