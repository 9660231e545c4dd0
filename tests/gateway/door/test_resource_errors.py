"""Reading a resource no server offers: a clear error that names the URI, and nothing forwarded."""

from __future__ import annotations

import pytest
from mcp import Client, types
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL
from gateway.door.mcp_endpoint import Endpoint
from tests.support.gateway_fixtures import demo_gateway

pytestmark = pytest.mark.anyio

MISSING = "test://nonexistent-resource-for-conformance-testing"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_unknown_resource_is_invalid_params_naming_its_uri(mode: str) -> None:
    async with demo_gateway() as (gateway, replicas, _), Client(Endpoint(gateway, ALL).server, mode=mode) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(MISSING)
        greeting = await client.read_resource("demo://greeting")
    assert refused.value.error.code == types.INVALID_PARAMS
    assert refused.value.error.data == {"uri": MISSING}
    assert replicas[0].calls == {}
    assert "hello from a" in str(greeting.contents[0])
