"""Health follows consecutive probes; a keep-alive close crossing a request costs nothing safe to repeat.

The upstream sits behind :class:`~tests.support.upstreams.KeepAliveCloser`, which closes a reused
connection as the next request arrives: the race of the gateway's refresh meeting uvicorn's keep-alive
timeout (both 5 s by default), made deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.gateway_fixtures import demo_gateway
from tests.support.upstreams import HttpUpstream, KeepAliveCloser, Replica, demo_server

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def _gateway_behind_closer(
    settings: GatewaySettings | None = None,
) -> AsyncIterator[tuple[Gateway, Replica, KeepAliveCloser]]:
    replica = Replica("a")
    upstream = HttpUpstream(demo_server(replica))
    async with anyio.create_task_group() as tg, KeepAliveCloser(upstream.port) as closer:
        await upstream.start(tg)
        registry = StaticRegistry({"demo": (StaticInstance(url=closer.url),)})
        gateway = Gateway(settings or GatewaySettings(), registry)
        try:
            async with gateway.running():
                yield gateway, replica, closer
        finally:
            await upstream.stop()


async def test_a_refresh_whose_reused_connection_the_server_closes_keeps_the_server_in_the_catalog() -> None:
    async with _gateway_behind_closer() as (gateway, _replica, closer):
        member = next(iter(gateway.pools["demo"].members.values()))
        assert member.healthy
        closer.armed = 1
        await gateway.refresh()
        assert closer.closed == 1, "the refresh should have met the keep-alive close"
        assert member.healthy and member.probe_failures == 0
        assert gateway.pools["demo"].available()


@pytest.mark.parametrize(("tool", "arguments"), [("echo", {"text": "after a pause"}), ("touch", {"item": "x"})])
async def test_a_read_only_or_idempotent_call_whose_reused_connection_closes_is_sent_again_once(
    tool: str, arguments: dict[str, str]
) -> None:
    async with _gateway_behind_closer() as (gateway, replica, closer), Client(Endpoint(gateway, ALL).server) as client:
        closer.armed = 1
        result = await client.call_tool(f"demo_{tool}", arguments)
        assert not result.is_error
        assert closer.closed == 1 and replica.calls == {tool: 1}


async def test_a_destructive_call_whose_reused_connection_closes_is_not_sent_again() -> None:
    async with _gateway_behind_closer() as (gateway, replica, closer), Client(Endpoint(gateway, ALL).server) as client:
        closer.armed = 1
        forwarded = closer.requests
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_destroy", {"target": "db"})
        assert caught.value.code == -32001
        assert "not retried" in caught.value.message
        assert closer.closed == 1 and closer.requests == forwarded, "the call must not reach the server twice"
        assert replica.calls == {}


async def test_one_failed_probe_keeps_the_only_instance_and_consecutive_failures_take_it_out() -> None:
    settings = GatewaySettings(unhealthy_after_failures=3)
    async with demo_gateway(replicas=1, settings=settings) as (gateway, _replicas, upstreams):
        member = next(iter(gateway.pools["demo"].members.values()))
        await upstreams[0].stop()
        for failures in (1, 2):
            await gateway.refresh()
            assert member.healthy and member.probe_failures == failures
            assert "demo_echo" in gateway.catalog.tools
        await gateway.refresh()
        assert not member.healthy and not gateway.pools["demo"].available()
        assert "demo_echo" not in gateway.catalog.tools
        async with anyio.create_task_group() as tg:
            await upstreams[0].start(tg)
            await gateway.refresh()
            assert member.healthy and member.probe_failures == 0
            assert "demo_echo" in gateway.catalog.tools
            await upstreams[0].stop()


async def test_a_success_between_failed_probes_starts_the_count_again() -> None:
    async with demo_gateway(replicas=1, settings=GatewaySettings(unhealthy_after_failures=2)) as (gateway, _, ups):
        member = next(iter(gateway.pools["demo"].members.values()))
        async with anyio.create_task_group() as tg:
            await ups[0].stop()
            await gateway.refresh()
            assert member.probe_failures == 1
            await ups[0].start(tg)
            await gateway.refresh()
            assert member.probe_failures == 0
            await ups[0].stop()
            await gateway.refresh()
            assert member.healthy and member.probe_failures == 1
            await ups[0].start(tg)
            await ups[0].stop()


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="unhealthy_after_failures"):
        GatewaySettings(unhealthy_after_failures=0)
