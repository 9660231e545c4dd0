"""Policies set at gateway, supervisor, server and tool level: the nearest one wins."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL, View
from gateway.call.policies import resolve_policy
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import BreakerPolicy, GatewaySettings, Policy, ServerGroupSettings, SupervisorSettings
from tests.support.gateway_fixtures import demo_gateway

pytestmark = pytest.mark.anyio


def layered() -> GatewaySettings:
    return GatewaySettings(
        policy=Policy(max_concurrent=50, queue_limit=100, timeout_seconds=30, retries=1, priority=0),
        supervisors={
            "research": SupervisorSettings(
                servers=("demo",), policy=Policy(max_concurrent=8, breaker=BreakerPolicy(cooldown_seconds=3))
            )
        },
        servers={
            "demo": ServerGroupSettings(
                policy=Policy(timeout_seconds=10),
                tools={"slow": Policy(max_concurrent=1, queue_limit=1, timeout_seconds=5, retries=0)},
            )
        },
    )


def test_each_field_comes_from_the_nearest_level_that_sets_it() -> None:
    tool = resolve_policy(layered(), supervisor="research", server="demo", tool="slow")
    server = resolve_policy(layered(), supervisor="research", server="demo", tool="echo")
    assert (tool.max_concurrent, tool.queue_limit, tool.timeout_seconds, tool.retries) == (1, 1, 5.0, 0)
    assert tool.bulkhead_scope == "tool:demo/slow"
    assert (server.max_concurrent, server.queue_limit, server.timeout_seconds, server.retries) == (8, 100, 10.0, 1)
    assert server.bulkhead_scope == "supervisor:research"
    assert server.breaker.cooldown_seconds == 3


def test_without_a_supervisor_the_gateway_level_applies() -> None:
    policy = resolve_policy(layered(), supervisor=None, server="demo", tool="echo")
    assert policy.max_concurrent == 50
    assert policy.bulkhead_scope == "gateway"


async def test_a_full_bulkhead_answers_busy_and_runs_nothing_more() -> None:
    async with (
        demo_gateway(settings=layered()) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server) as first,
        Client(Endpoint(gateway, ALL).server) as second,
        Client(Endpoint(gateway, ALL).server) as third,
    ):
        replicas[0].gate = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.call_tool, "demo_slow", {"steps": 0})
            await replicas[0].entered.wait()  # one call holds the only slot
            tg.start_soon(second.call_tool, "demo_slow", {"steps": 0})
            while gateway.router.bulkheads()["tool:demo/slow"]["queued"] < 1:
                await anyio.lowlevel.checkpoint()  # the second waits in the queue of one
            with pytest.raises(MCPError) as caught:
                await third.call_tool("demo_slow", {"steps": 0})
            replicas[0].gate.set()
    assert caught.value.code == -32002
    assert caught.value.message.startswith("busy")
    assert replicas[0].calls["slow"] == 2


async def test_queued_calls_are_served_highest_priority_first() -> None:
    settings = GatewaySettings(
        servers={"demo": ServerGroupSettings(tools={"slow": Policy(max_concurrent=1, queue_limit=10)})}
    )
    order: list[int] = []
    async with demo_gateway(settings=settings) as (gateway, replicas, _):
        replicas[0].gate = anyio.Event()
        server = Endpoint(gateway, ALL).server

        async def call(priority: int) -> None:
            async with Client(server) as client:
                await client.call_tool("demo_slow", {"steps": 0}, meta={"io.mcp-suite/priority": priority})
                order.append(priority)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, 0)
            await replicas[0].entered.wait()
            for priority in (1, 5, 3):
                tg.start_soon(call, priority)
            while gateway.router.bulkheads()["tool:demo/slow"]["queued"] < 3:
                await anyio.lowlevel.checkpoint()
            replicas[0].gate.set()
    assert order == [0, 5, 3, 1]


async def test_a_supervisor_endpoint_shows_only_its_group() -> None:
    settings = GatewaySettings(
        supervisors={
            "research": SupervisorSettings(servers=("demo",)),
            "media": SupervisorSettings(tools=("demo_echo",)),
            "ops": SupervisorSettings(include_gateway_tools=True),
        }
    )
    async with demo_gateway(settings=settings) as (gateway, _, _):
        seen = {}
        for name in ("research", "media", "ops"):
            async with Client(Endpoint(gateway, View("supervisor", name)).server) as client:
                seen[name] = {t.name for t in (await client.list_tools()).tools}
        async with Client(Endpoint(gateway, View("supervisor", "media")).server) as client:
            with pytest.raises(MCPError):
                await client.call_tool("demo_destroy", {"target": "x"})
    assert seen["research"] == {"demo_echo", "demo_slow", "demo_destroy", "demo_fail", "demo_touch", "demo_grow"}
    assert seen["media"] == {"demo_echo"}
    assert seen["ops"] == {"gateway_status", "gateway_capabilities"}
