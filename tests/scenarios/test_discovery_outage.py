"""Consul going away and coming back changes nothing for clients; the gateway says it is degraded meanwhile."""

from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import Client
from pydantic import SecretStr
from starlette.applications import Starlette

from gateway.call.catalog import ALL
from gateway.door.mcp_endpoint import Endpoint
from gateway.door.rest import rest_routes
from mesh.consul import ConsulRegistry
from tests.support.consul_double import ConsulDouble, eventually
from tests.support.consul_fixtures import consul_mesh, consul_settings

pytestmark = pytest.mark.anyio


async def test_consul_going_away_and_coming_back_changes_nothing_for_clients() -> None:
    async with consul_mesh(replicas=3, registered=2) as mesh, Client(Endpoint(mesh.gateway, ALL).server) as client:
        await mesh.double.stop()
        await eventually(lambda: mesh.registry.degraded_reason is not None, what="degraded")
        during = [await client.call_tool("demo_echo", {"text": str(i)}) for i in range(6)]
        status = (await client.call_tool("gateway_status", {})).structured_content
        assert mesh.serving() == ["mcp-demo-a", "mcp-demo-b"]  # the last known catalog

        mesh.register(2)  # a replica joins while the gateway cannot see Consul
        await mesh.double.start(mesh.tg)
        await eventually(lambda: mesh.registry.degraded_reason is None, what="recovered")
        await eventually(lambda: "mcp-demo-c" in mesh.serving(), what="the new replica serving")
        after = (await client.call_tool("gateway_status", {})).structured_content
    assert [r.is_error for r in during] == [False] * 6
    assert status is not None and status["registry"]["degraded"] is True
    assert "last known catalog" in status["registry"]["reason"]
    assert after is not None and after["registry"] == {**after["registry"], "degraded": False, "reason": None}


async def test_ready_reports_a_degraded_registry_and_stays_ready_while_instances_serve() -> None:
    async with consul_mesh(replicas=1, registered=1) as mesh:
        transport = httpx.ASGITransport(app=Starlette(routes=rest_routes(mesh.gateway)))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            healthy = (await http.get("/ready")).json()
            await mesh.double.stop()
            await eventually(lambda: mesh.registry.degraded_reason is not None, what="degraded")
            response = await http.get("/ready")
    assert healthy["degraded"] is False and healthy["ready"] is True
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True and body["degraded"] is True
    assert body["registry"]["kind"] == "consul" and "serving the last known catalog" in body["registry"]["reason"]


async def test_a_gateway_with_an_unknown_acl_token_is_degraded_with_a_reason_naming_the_token() -> None:
    double = ConsulDouble(acl_token="right")  # a double: Consul answers an unknown token 403 "ACL not found"
    settings = consul_settings(double, 1.0)
    consul = settings.registry.consul.model_copy(update={"token": SecretStr("wrong")})
    settings = settings.model_copy(update={"registry": settings.registry.model_copy(update={"consul": consul})})
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(settings, servers=["demo"], backoff_cap_seconds=0.2)
        async with registry.running():
            await eventually(lambda: registry.degraded_reason is not None, what="degraded")
            reason = registry.degraded_reason or ""
        await double.stop()
    assert "403" in reason and "ACL not found" in reason and "CONSUL_HTTP_TOKEN" in reason
    assert "wrong" not in reason
