"""Live configuration stays when Consul stops letting the gateway read its key (the ConsulDouble's ACLs, a double)."""

from __future__ import annotations

import pytest

from gateway.call.live_config import live_config_running
from gateway.settings import GatewaySettings
from tests.support.consul_double import eventually
from tests.support.consul_fixtures import consul_mesh
from tests.support.consul_model import AclRules, service_reader

pytestmark = pytest.mark.anyio
KEY = "mcp-suite/gateway"
READ_ALL = AclRules(service_read=("mcp-",), key_read=("mcp-suite/",))


async def test_a_token_that_loses_key_read_keeps_the_live_settings_and_says_why() -> None:
    base = GatewaySettings(refresh_interval_seconds=30)
    async with (
        consul_mesh(replicas=1, registered=1, gateway_settings=base, tokens={"gw": READ_ALL}, token="gw") as mesh,
        live_config_running(mesh.gateway) as live,
    ):
        assert live is not None
        mesh.double.put_key(KEY, b'{"refresh_interval_seconds": 2}')
        await eventually(lambda: live.applied == 1, what="applied")
        mesh.double.tokens["gw"] = service_reader("mcp-")  # key:read taken away
        mesh.double.put_key(KEY, b'{"refresh_interval_seconds": 3}')  # wakes the watch: 403 Permission denied
        await eventually(lambda: live.stale is not None, what="the watch failing")
        during = mesh.gateway.settings.refresh_interval_seconds
        shown_stale = mesh.gateway.gateway_tool("gateway_status", {})["structuredContent"]["config"]
        stale = live.stale or ""
        mesh.double.tokens["gw"] = READ_ALL
        await eventually(lambda: live.stale is None and live.applied == 2, what="read again")
        after = mesh.gateway.settings.refresh_interval_seconds
        shown_again = mesh.gateway.gateway_tool("gateway_status", {})["structuredContent"]["config"]
    assert during == 2  # the live value, neither the file's 30 nor the unread 3
    assert "403" in stale and "'key:read' on \"mcp-suite/gateway\"" in stale
    assert after == 3
    assert shown_stale["degraded"] and shown_stale["stale"] == stale and shown_stale["key"] == KEY
    assert not shown_again["degraded"] and shown_again["stale"] is None
