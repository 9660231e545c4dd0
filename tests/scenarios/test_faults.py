"""A failing instance is cut off without breaking anyone's session; unsafe calls are never replayed."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import BreakerPolicy, GatewaySettings, Policy
from tests.support.gateway_fixtures import demo_gateway

pytestmark = pytest.mark.anyio

FAST_BREAKER = GatewaySettings(
    policy=Policy(
        timeout_seconds=5,
        retries=1,
        breaker=BreakerPolicy(failure_threshold=2, cooldown_seconds=0.3, window=20, min_calls=10),
    )
)


async def test_killing_one_of_three_replicas_fails_no_read_only_call_and_it_rejoins_when_back() -> None:
    async with (
        demo_gateway(replicas=3, settings=FAST_BREAKER) as (gateway, replicas, upstreams),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        dead = gateway.pools["demo"].members[gateway.registry.instances("demo")[2].instance_id]
        await upstreams[2].stop()
        outcomes = [await client.call_tool("demo_echo", {"text": str(i)}) for i in range(30)]
        assert [r.is_error for r in outcomes] == [False] * 30
        assert dead.breaker.state in ("open", "half_open")
        assert replicas[2].calls.get("echo", 0) == 0
        assert replicas[0].calls["echo"] + replicas[1].calls["echo"] == 30

        async with anyio.create_task_group() as tg:
            await upstreams[2].start(tg)
            deadline = time.monotonic() + 10
            while replicas[2].calls.get("echo", 0) == 0:
                assert time.monotonic() < deadline, "the revived replica never got a call"
                await gateway.refresh()
                assert not (await client.call_tool("demo_echo", {"text": "again"})).is_error
            assert dead.breaker.state == "closed"
            await upstreams[2].stop()


async def test_a_read_only_call_is_retried_once_on_another_instance() -> None:
    async with (
        demo_gateway(replicas=2, settings=FAST_BREAKER) as (gateway, replicas, upstreams),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        await upstreams[0].stop()
        results = [await client.call_tool("demo_echo", {"text": "x"}) for _ in range(4)]
    assert all(not r.is_error for r in results)
    assert replicas[1].calls["echo"] == 4


async def test_a_hanging_instance_is_cut_off_by_the_deadline() -> None:
    settings = GatewaySettings(policy=Policy(timeout_seconds=0.5, retries=0))
    async with (
        demo_gateway(replicas=1, settings=settings) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        replicas[0].gate = anyio.Event()  # never set: the tool hangs
        started = time.monotonic()
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_slow", {"steps": 0})
        elapsed = time.monotonic() - started
        replicas[0].gate.set()
    assert caught.value.code == -32001
    assert "within" in caught.value.message
    assert elapsed < 3


async def test_a_caller_deadline_shortens_the_policy_timeout() -> None:
    async with (
        demo_gateway(replicas=1) as (gateway, replicas, _),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        replicas[0].gate = anyio.Event()
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_slow", {"steps": 0}, meta={"io.mcp-suite/timeoutMs": 300})
        replicas[0].gate.set()
    assert "0.3s" in caught.value.message


async def test_a_server_whose_instances_are_down_disappears_and_the_client_is_told() -> None:
    changes: list[str] = []

    async def on_message(message: object) -> None:
        changes.append(type(message).__name__)

    async with (
        demo_gateway(replicas=1) as (gateway, _, upstreams),
        Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=on_message) as client,
    ):
        assert "demo_echo" in {t.name for t in (await client.list_tools()).tools}
        await upstreams[0].stop()
        for _ in range(gateway.settings.unhealthy_after_failures):  # consecutive failed probes take it out
            await gateway.refresh()
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"gateway_status", "gateway_capabilities"}
        # the gateway stays up and keeps answering its own tools
        assert not (await client.call_tool("gateway_status", {})).is_error
    assert any("ToolListChanged" in change for change in changes), changes


async def test_an_upstream_list_change_reaches_the_client() -> None:
    seen: list[str] = []

    async def on_message(message: object) -> None:
        seen.append(type(message).__name__)

    async with (
        demo_gateway(replicas=1) as (gateway, _, upstreams),
        Client(Endpoint(gateway, ALL).server, mode="legacy", message_handler=on_message) as client,
    ):
        await client.list_tools()

        def added() -> str:
            return "new"

        upstreams[0].server.add_tool(added, name="added", description="appears at run time")
        await gateway.refresh()
        names = {t.name for t in (await client.list_tools()).tools}
    assert "demo_added" in names
    assert any("ToolListChanged" in name for name in seen), seen
