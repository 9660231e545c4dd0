"""A gateway whose Consul token loses ``service:read`` keeps serving its last catalog and says why it is degraded.

Consul here is the ConsulDouble, filtering answers as default-deny ACLs do (a double, not a live agent).
"""

from __future__ import annotations

import pytest
from mcp import Client

from gateway.call.catalog import ALL
from gateway.door.mcp_endpoint import Endpoint
from tests.gateway.door.test_registry_degraded_metric import degraded_gauge, metrics_and_ready
from tests.support.consul_double import eventually
from tests.support.consul_fixtures import consul_mesh
from tests.support.consul_model import AclRules, service_reader

pytestmark = pytest.mark.anyio


async def test_a_gateway_whose_token_loses_service_read_keeps_its_tools_and_reports_degraded_everywhere() -> None:
    async with (
        consul_mesh(replicas=2, registered=1, tokens={"gw": service_reader("mcp-")}, token="gw") as mesh,
        metrics_and_ready(mesh.gateway) as http,
        Client(Endpoint(mesh.gateway, ALL).server) as client,
    ):
        before = await degraded_gauge(http)
        mesh.double.tokens["gw"] = AclRules()  # the token's policy lost its service rule
        mesh.register(1)  # a change wakes the watch; its answer comes back filtered: 200, [], the header
        await eventually(lambda: mesh.registry.degraded_reason is not None, what="degraded")
        during = await degraded_gauge(http)
        ready = (await http.get("/ready")).json()
        status = (await client.call_tool("gateway_status", {})).structured_content
        call = await client.call_tool("demo_echo", {"text": "still here"})
        serving = mesh.serving()
        mesh.double.tokens["gw"] = service_reader("mcp-")
        await eventually(lambda: mesh.registry.degraded_reason is None, what="recovered")
        await eventually(lambda: len(mesh.serving()) == 2, what="the second replica serving")
        after = await degraded_gauge(http)
    assert (before, during, after) == (0, 1, 0)
    assert serving == ["mcp-demo-a"] and not call.is_error  # the last catalog, not an empty one
    assert ready["ready"] is True and ready["degraded"] is True
    assert "service:read" in ready["registry"]["reason"] and "Filtered-By-ACLs" in ready["registry"]["reason"]
    assert status is not None and status["registry"]["degraded"] is True
    assert status["registry"]["reason"] == ready["registry"]["reason"]
