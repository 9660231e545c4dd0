"""Gateway fixtures: real SDK upstreams over HTTP, a gateway over them, clients of its endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer

from gateway.call.catalog import ALL, View
from gateway.call.service import Gateway
from gateway.door.http_app import build_gateway_app
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import Settings, StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import HttpUpstream, LostAnswer, Replica, demo_server, serve_app, serve_http


@asynccontextmanager
async def demo_gateway(
    replicas: int = 1,
    settings: GatewaySettings | None = None,
    lost: LostAnswer | None = None,
    **server_options: Any,
) -> AsyncIterator[tuple[Gateway, list[Replica], list[HttpUpstream]]]:
    """``replicas`` demo upstreams over HTTP behind a running gateway (registry name ``demo``).

    Each upstream can be stopped and started again on its port by the test. With ``lost``, every
    replica is wrapped so that the first call of its tool to reach any of them runs and loses its answer.
    """
    states = [Replica(chr(ord("a") + i)) for i in range(replicas)]
    upstreams = [
        HttpUpstream(demo_server(r, **server_options), wrap=lost.wrap(r.label) if lost else None) for r in states
    ]
    async with anyio.create_task_group() as tg:
        for upstream in upstreams:
            await upstream.start(tg)
        registry = StaticRegistry({"demo": tuple(StaticInstance(url=u.url) for u in upstreams)})
        gateway = Gateway(settings or GatewaySettings(), registry)
        try:
            async with gateway.running():
                yield gateway, states, upstreams
        finally:
            for upstream in upstreams:
                await upstream.stop()


@asynccontextmanager
async def gateway_over(
    servers: dict[str, MCPServer[Any]], settings: GatewaySettings | None = None
) -> AsyncIterator[Gateway]:
    """A running gateway over ``servers`` (registry name -> SDK server), each served over HTTP."""
    upstreams = {name: HttpUpstream(server) for name, server in servers.items()}
    async with anyio.create_task_group() as tg:
        for upstream in upstreams.values():
            await upstream.start(tg)
        registry = StaticRegistry({name: (StaticInstance(url=u.url),) for name, u in upstreams.items()})
        gateway = Gateway(settings or GatewaySettings(), registry)
        try:
            async with gateway.running():
                yield gateway
        finally:
            for upstream in upstreams.values():
                await upstream.stop()


@pytest.fixture
def endpoint_of() -> Callable[[Gateway, View], Any]:
    def make(gateway: Gateway, view: View = ALL) -> Any:
        return Endpoint(gateway, view).server

    return make


@asynccontextmanager
async def gateway_http(
    settings: GatewaySettings | None = None, *, extra_tool: bool = False, suite: Settings | None = None
) -> AsyncIterator[tuple[str, Gateway]]:
    """The gateway's whole HTTP app over two demo replicas (``a``, ``b``), served on a free port.

    Yields the base URL and the gateway. ``extra_tool`` gives replica ``b`` a tool ``a`` lacks (a
    mismatched replica); ``suite`` brings security, as ``mcp-suite gateway`` passes it.
    """
    async with (
        serve_http(demo_server(Replica("a"))) as first,
        serve_http(demo_server(Replica("b"), extra_tool=extra_tool)) as second,
    ):
        registry = StaticRegistry({"demo": (StaticInstance(url=first), StaticInstance(url=second))})
        app, gateway = build_gateway_app(settings or GatewaySettings(max_request_bytes=4096), registry, suite=suite)
        async with serve_app(app) as base:
            yield base, gateway
