"""A gateway that follows a ConsulDouble, over real SDK demo upstreams served on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc
from pydantic import SecretStr

from gateway.call.service import Gateway
from gateway.settings import GatewaySettings
from mesh.config import Settings
from mesh.consul import ConsulRegistry
from suite.settings import SuiteSettings
from tests.scenarios.test_upstream_kinds import HandshakeOnly
from tests.support.consul_double import ConsulDouble
from tests.support.consul_model import AclRules
from tests.support.upstreams import HttpUpstream, Replica, demo_server


@dataclass
class Mesh:
    double: ConsulDouble
    registry: ConsulRegistry
    gateway: Gateway
    replicas: list[Replica]
    upstreams: list[HttpUpstream]
    tg: anyio.abc.TaskGroup

    def register(self, index: int) -> str:
        """Put replica ``index`` in the double's catalog (passing) as another host's agent would; its ID."""
        service_id = f"mcp-demo-{self.replicas[index].label}"
        self.double.add_service("mcp-demo", service_id, self.upstreams[index].port, meta={"path": "/mcp"})
        return service_id

    def serving(self) -> list[str]:
        pool = self.gateway.pools.get("demo")
        return sorted(m.instance_id for m in pool.serving()) if pool else []


def consul_settings(double: ConsulDouble, wait: float) -> Settings:
    return SuiteSettings(
        registry={"kind": "consul", "consul": {"address": double.address, "watch_wait_seconds": wait}},  # type: ignore[arg-type]
    )


@asynccontextmanager
async def consul_mesh(
    replicas: int = 2,
    *,
    registered: int = 1,
    wait: float = 30.0,
    gateway_settings: GatewaySettings | None = None,
    acl_token: str | None = None,
    tokens: dict[str, AclRules] | None = None,
    token: str | None = None,
    handshake_only: bool = False,
) -> AsyncIterator[Mesh]:
    """``replicas`` demo upstreams, the first ``registered`` of them in the double, a gateway following it.

    ``acl_token`` is the double's management token, ``tokens`` its other tokens; the gateway uses
    ``token`` (default ``acl_token``).

    ``handshake_only`` makes the upstreams answer like 2025-11-25 servers, so the gateway holds a session to each.
    """
    double = ConsulDouble(acl_token=acl_token, tokens=tokens)
    token = token or acl_token
    states = [Replica(chr(ord("a") + i)) for i in range(replicas)]
    wrap = HandshakeOnly if handshake_only else None
    upstreams = [HttpUpstream(demo_server(r), wrap=wrap) for r in states]
    settings = consul_settings(double, wait)
    if token is not None:
        consul = settings.registry.consul.model_copy(update={"token": SecretStr(token)})
        settings = settings.model_copy(update={"registry": settings.registry.model_copy(update={"consul": consul})})
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        for upstream in upstreams:
            await upstream.start(tg)
        registry = ConsulRegistry(settings, servers=["demo"], backoff_cap_seconds=0.2)
        gateway = Gateway(gateway_settings or GatewaySettings(refresh_interval_seconds=30), registry)
        mesh = Mesh(double, registry, gateway, states, upstreams, tg)
        for index in range(registered):
            mesh.register(index)
        try:
            async with gateway.running():
                yield mesh
        finally:
            for upstream in upstreams:
                await upstream.stop()
            await double.stop()
            tg.cancel_scope.cancel()
