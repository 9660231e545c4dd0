"""A server notices that the agent lost its registration and registers again; a bad check interval changes nothing.

The agent restart is the ConsulDouble's ``restart_agent`` (a double of an agent restarted without its data dir).
"""

from __future__ import annotations

import anyio
import pytest

from mesh.config import Settings
from mesh.consul import ConsulRegistry
from mesh.registry import ServiceInstance
from suite.settings import SuiteSettings
from tests.support.consul_double import ConsulDouble, eventually

pytestmark = pytest.mark.anyio
INSTANCE = ServiceInstance(server="demo", url="http://127.0.0.1:9011/mcp")
SERVICE_ID = "mcp-demo-127.0.0.1-9011"


def settings_for(double: ConsulDouble, **consul: object) -> Settings:
    return SuiteSettings(registry={"kind": "consul", "consul": {"address": double.address, **consul}})  # type: ignore[arg-type]


async def test_a_registration_lost_in_an_agent_restart_is_made_again() -> None:
    double = ConsulDouble()
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(settings_for(double), keep_interval_seconds=0.05)
        await anyio.to_thread.run_sync(registry.register, INSTANCE)
        await double.stop()
        assert double.restart_agent() == [SERVICE_ID]
        await double.start(tg)
        await eventually(lambda: SERVICE_ID in double.services, what="registered again")
        again = double.services[SERVICE_ID].registered
        await anyio.to_thread.run_sync(registry.deregister, INSTANCE)
        await registry.http.aclose()
        await double.stop()
    assert registry.reregistrations == 1
    assert again["Check"]["HTTP"] == "http://127.0.0.1:9011/health"
    assert double.seen(f"/v1/agent/service/{SERVICE_ID}") != []


async def test_a_deregistered_instance_is_not_registered_again_after_an_agent_restart() -> None:
    double = ConsulDouble()
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(settings_for(double), keep_interval_seconds=0.05)
        await anyio.to_thread.run_sync(registry.register, INSTANCE)
        await anyio.to_thread.run_sync(registry.deregister, INSTANCE)
        double.restart_agent()
        # A second instance's keeper reading twice shows time passed for the first one's keeper too.
        other = ServiceInstance(server="demo", url="http://127.0.0.1:9012/mcp")
        await anyio.to_thread.run_sync(registry.register, other)
        await double.wait_for_requests("/v1/agent/service/mcp-demo-127.0.0.1-9012", 2)
        registry.stop_keeping()
        await registry.http.aclose()
        await double.stop()
    assert SERVICE_ID not in double.services
    assert registry.reregistrations == 0


async def test_a_check_interval_under_one_second_is_refused_with_a_reason_and_registers_nothing() -> None:
    double = ConsulDouble()
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(settings_for(double, check_interval_seconds=0.5))
        with pytest.raises(ValueError, match=r"check_interval_seconds is 0.5s; Consul runs a check at most every 1s"):
            await anyio.to_thread.run_sync(registry.register, INSTANCE)
        await registry.http.aclose()
        await double.stop()
    assert double.services == {} and double.requests == []
