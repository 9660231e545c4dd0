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
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import HttpUpstream, Replica, demo_server


@asynccontextmanager
async def demo_gateway(
    replicas: int = 1, settings: GatewaySettings | None = None, **server_options: Any
) -> AsyncIterator[tuple[Gateway, list[Replica], list[HttpUpstream]]]:
    """``replicas`` demo upstreams over HTTP behind a running gateway (registry name ``demo``).

    Each upstream can be stopped and started again on its port by the test.
    """
    states = [Replica(chr(ord("a") + i)) for i in range(replicas)]
    upstreams = [HttpUpstream(demo_server(r, **server_options)) for r in states]
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
