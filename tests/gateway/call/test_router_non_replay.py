"""A call that reached an instance and lost its answer: a destructive one is never replayed, a read-only one is.

Two real upstreams (``a``, ``b``) behind the gateway; whichever gets the first call of the tool runs it and
then drops the connection (or stays silent past the deadline) before any byte of the answer, while the
other stays healthy.
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
from tests.support.upstreams import LostAnswer, Replica

pytestmark = pytest.mark.anyio

ONE_RETRY = GatewaySettings(policy=Policy(timeout_seconds=5, retries=1))
SHORT_DEADLINE = GatewaySettings(policy=Policy(timeout_seconds=1, retries=1))


def calls(replicas: list[Replica], tool: str) -> dict[str, int]:
    return {r.label: r.calls.get(tool, 0) for r in replicas}


def retries(metrics_text: bytes) -> float:
    return value(parse_exposition(metrics_text.decode()), "mcp_gateway_retries_total", server="demo")


@pytest.mark.parametrize(("how", "settings"), [("drop", ONE_RETRY), ("hang", SHORT_DEADLINE)])
async def test_a_destructive_call_that_ran_and_lost_its_answer_runs_once_and_is_reported_not_retried(
    how: str, settings: GatewaySettings
) -> None:
    lost = LostAnswer("destroy", how=how)  # type: ignore[arg-type]
    async with (
        demo_gateway(replicas=2, settings=settings, lost=lost) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_destroy", {"target": "db"})
        first = lost.lost[0]
        other = next(r.label for r in replicas if r.label != first)
        after = await client.call_tool("demo_destroy", {"target": "other"})  # the healthy one still serves
        exposition = gateway.router.metrics.exposition()
    assert lost.lost == [first]
    assert caught.value.code == -32001
    assert caught.value.message.startswith("not_retried: "), caught.value.message
    assert "not retried" in caught.value.message and "destructive" in caught.value.message
    assert calls(replicas, "destroy")[first] == 1
    assert calls(replicas, "destroy")[other] == 1  # only the second, separate call
    assert not after.is_error and retries(exposition) == 0


async def test_a_read_only_call_that_lost_its_answer_is_tried_exactly_twice_and_gets_the_second_answer() -> None:
    lost = LostAnswer("echo")
    async with (
        demo_gateway(replicas=2, settings=ONE_RETRY, lost=lost) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        result = await client.call_tool("demo_echo", {"text": "hi"})
        exposition = gateway.router.metrics.exposition()
    first = lost.lost[0]
    other = next(r.label for r in replicas if r.label != first)
    assert not result.is_error
    answered = data(result)["replica"]
    # Two attempts in all, the second answering: the pool sends a read on a reused connection closed
    # before its answer once more to the same instance (no router retry), or, on a fresh connection,
    # the router retries it on the other one.
    if answered == first:
        assert calls(replicas, "echo") == {first: 2, other: 0}
        assert retries(exposition) == 0
    else:
        assert answered == other
        assert calls(replicas, "echo") == {first: 1, other: 1}
        assert retries(exposition) == 1


async def test_a_destructive_call_with_every_instance_down_says_it_reached_none_and_ran_nowhere() -> None:
    async with (
        demo_gateway(replicas=2, settings=ONE_RETRY) as (gateway, replicas, upstreams),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        for upstream in upstreams:
            await upstream.stop()
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_destroy", {"target": "db"})
    assert caught.value.message.startswith("upstream_unavailable: "), caught.value.message
    assert "reached no instance" in caught.value.message
    assert sum(member.failures for member in gateway.pools["demo"].members.values()) == 2  # both tried
    assert calls(replicas, "destroy") == {"a": 0, "b": 0}
