"""The gateway follows Consul: new replicas get traffic within one watch cycle, leaving ones drain."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from gateway.call.catalog import ALL
from gateway.door.mcp_endpoint import Endpoint
from tests.support.consul_double import eventually
from tests.support.consul_fixtures import consul_mesh

pytestmark = pytest.mark.anyio


async def test_a_replica_registered_in_consul_is_routed_to_within_one_watch_cycle() -> None:
    # The blocking query waits up to 30 s: only the index moving can explain a quick pick-up.
    async with (
        consul_mesh(replicas=2, registered=1, wait=30.0) as mesh,
        Client(Endpoint(mesh.gateway, ALL).server) as client,
    ):
        assert mesh.serving() == ["mcp-demo-a"]
        new_id = mesh.register(1)
        took = await eventually(lambda: new_id in mesh.serving(), timeout=5, what="the new replica serving")
        for i in range(10):
            result = await client.call_tool("demo_echo", {"text": str(i)})
            assert not result.is_error
    assert took < 1.5
    assert mesh.replicas[1].calls.get("echo", 0) >= 4  # round robin over two replicas
    assert mesh.replicas[0].calls.get("echo", 0) >= 4


@pytest.mark.parametrize("wire", ["stateless", "session"])
async def test_a_replica_turning_critical_stops_getting_traffic_and_its_call_in_flight_finishes(wire: str) -> None:
    async with consul_mesh(replicas=2, registered=2, handshake_only=wire == "session") as mesh:
        for replica in mesh.replicas:
            replica.gate = anyio.Event()
        async with Client(Endpoint(mesh.gateway, ALL).server) as client:
            outcome: dict[str, object] = {}

            async def slow_call() -> None:
                outcome["result"] = await client.call_tool("demo_slow", {"steps": 1})

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow_call)
                with anyio.fail_after(5):
                    while not any(r.entered.is_set() for r in mesh.replicas):
                        await anyio.sleep(0.01)
                busy = next(i for i, r in enumerate(mesh.replicas) if r.entered.is_set())
                other = 1 - busy
                leaving = f"mcp-demo-{mesh.replicas[busy].label}"
                mesh.double.set_check(leaving, "critical", "HTTP GET /health: 503")
                await eventually(lambda: leaving not in mesh.gateway.pools["demo"].members, what="the replica leaving")
                for replica in mesh.replicas:
                    assert replica.gate is not None
                    replica.gate.set()
            result = outcome["result"]
            assert not result.is_error  # type: ignore[attr-defined]
            assert result.content[0].text == f"done by {mesh.replicas[busy].label}"  # type: ignore[attr-defined]
            before = mesh.replicas[busy].calls.get("echo", 0)
            for i in range(6):
                assert not (await client.call_tool("demo_echo", {"text": str(i)})).is_error
            assert mesh.replicas[busy].calls.get("echo", 0) == before
            assert mesh.replicas[other].calls["echo"] == 6


async def test_a_killed_replica_that_consul_removes_gets_no_more_calls() -> None:
    async with consul_mesh(replicas=2, registered=2) as mesh, Client(Endpoint(mesh.gateway, ALL).server) as client:
        await mesh.upstreams[0].stop()  # the process dies; Consul's check then fails and the agent reaps it
        mesh.double.set_check("mcp-demo-a", "critical", "connection refused")
        await eventually(lambda: mesh.serving() == ["mcp-demo-b"], what="only b serving")
        results = [await client.call_tool("demo_echo", {"text": str(i)}) for i in range(5)]
    assert [r.is_error for r in results] == [False] * 5
    assert mesh.replicas[1].calls["echo"] == 5
