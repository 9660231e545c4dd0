"""``mcp_gateway_registry_degraded`` on the gateway's /metrics follows Consul going away and coming back."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from gateway.call.service import Gateway
from gateway.door.metrics_endpoint import metrics_route
from gateway.door.rest import rest_routes
from gateway.settings import GatewaySettings
from mesh.registry import StaticRegistry
from tests.support.consul_double import eventually
from tests.support.consul_fixtures import consul_mesh
from tests.support.observability import parse_exposition

pytestmark = pytest.mark.anyio

DEGRADED = "mcp_gateway_registry_degraded"


def metrics_and_ready(gateway: Gateway) -> httpx.AsyncClient:
    app = Starlette(routes=[metrics_route(gateway), *rest_routes(gateway)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def degraded_gauge(http: httpx.AsyncClient) -> float:
    response = await http.get("/metrics")
    assert response.status_code == 200
    (only,) = parse_exposition(response.text)[DEGRADED].values()  # one series, no labels
    return only


async def test_the_gauge_is_1_while_consul_is_away_and_0_again_once_it_answers() -> None:
    async with consul_mesh(replicas=1, registered=1) as mesh, metrics_and_ready(mesh.gateway) as http:
        before = await degraded_gauge(http)
        await mesh.double.stop()
        await eventually(lambda: mesh.registry.degraded_reason is not None, what="degraded")
        during = await degraded_gauge(http)
        ready_during = (await http.get("/ready")).json()
        await mesh.double.start(mesh.tg)
        await eventually(lambda: mesh.registry.degraded_reason is None, what="recovered")
        after = await degraded_gauge(http)
        serving = mesh.serving()
    assert (before, during, after) == (0, 1, 0)
    assert ready_during["degraded"] is True  # the gauge says what /ready says
    assert serving == ["mcp-demo-a"]  # the last known catalog was served throughout


async def test_a_gateway_over_the_static_registry_is_never_degraded() -> None:
    gateway = Gateway(GatewaySettings(), StaticRegistry({}))
    async with metrics_and_ready(gateway) as http:
        assert await degraded_gauge(http) == 0
