"""How long one attempt may take, and which failures a destructive call may be sent on after.

Two real upstreams behind the gateway. A read-only call that meets a silent instance moves on to the
other one after ``attempt_timeout_seconds`` rather than waiting out the deadline; with no other
instance it keeps the whole deadline. A destructive call whose instance refused the connection never
ran there, so it goes to the other instance.
"""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings, Policy
from tests.support.gateway_fixtures import demo_gateway
from tests.support.observability import parse_exposition, value
from tests.support.tool_results import data
from tests.support.upstreams import LostAnswer

pytestmark = pytest.mark.anyio


def retries(metrics_text: bytes) -> float:
    return value(parse_exposition(metrics_text.decode()), "mcp_gateway_retries_total", server="demo")


async def test_a_read_only_call_to_a_silent_instance_is_answered_by_the_other_before_the_deadline() -> None:
    lost = LostAnswer("echo", how="hang")
    settings = GatewaySettings(policy=Policy(timeout_seconds=10, retries=1, attempt_timeout_seconds=0.3))
    async with (
        demo_gateway(replicas=2, settings=settings, lost=lost) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        result = await client.call_tool("demo_echo", {"text": "hi"})
        exposition = gateway.router.metrics.exposition()
    silent = lost.lost[0]
    other = next(r.label for r in replicas if r.label != silent)
    assert not result.is_error
    assert data(result)["replica"] == other
    assert {r.label: r.calls.get("echo", 0) for r in replicas} == {silent: 1, other: 1}
    assert retries(exposition) == 1


async def test_a_read_only_call_with_no_other_instance_waits_the_whole_deadline() -> None:
    lost = LostAnswer("echo", how="hang")
    settings = GatewaySettings(policy=Policy(timeout_seconds=1, retries=1, attempt_timeout_seconds=0.1))
    async with (
        demo_gateway(replicas=1, settings=settings, lost=lost) as (gateway, _replicas, _),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_echo", {"text": "hi"})
    assert caught.value.code == -32003, caught.value.message
    assert "no answer within 1s" in caught.value.message, caught.value.message


async def test_a_destructive_call_refused_by_one_instance_runs_once_on_the_other() -> None:
    settings = GatewaySettings(policy=Policy(timeout_seconds=5, retries=1))
    async with (
        demo_gateway(replicas=2, settings=settings) as (gateway, replicas, upstreams),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        await upstreams[0].stop()
        results = [await client.call_tool("demo_destroy", {"target": f"t{i}"}) for i in range(4)]
        exposition = gateway.router.metrics.exposition()
    assert [r.is_error for r in results] == [False] * 4
    assert {r.label: r.calls.get("destroy", 0) for r in replicas} == {"a": 0, "b": 4}
    assert retries(exposition) >= 1  # at least one call was picked for the stopped instance first
