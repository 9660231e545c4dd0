"""ConsulRegistry against the ConsulDouble: registration, the watched catalog, degraded mode, KV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from mesh.config import Settings
from mesh.consul import ConsulEndpoint, ConsulHttp, ConsulRegistry, ConsulUnavailable
from mesh.consul.kv import KvEntry, kv_delete, kv_put, watch_kv
from mesh.registry import ServiceInstance
from suite.settings import SuiteSettings
from tests.support.consul_double import ConsulDouble, eventually

pytestmark = pytest.mark.anyio


def consul_settings(double: ConsulDouble, **consul: object) -> Settings:
    return SuiteSettings(registry={"kind": "consul", "consul": {"address": double.address, **consul}})  # type: ignore[arg-type]


@asynccontextmanager
async def registry_on(double: ConsulDouble, **consul: object) -> AsyncIterator[ConsulRegistry]:
    registry = ConsulRegistry(
        consul_settings(double, watch_wait_seconds=30.0, **consul), servers=["demo"], backoff_cap_seconds=0.2
    )
    async with registry.running():
        yield registry


async def changed(registry: ConsulRegistry, timeout: float = 3.0) -> None:
    """Wait for the registry's next catalog change."""
    event = anyio.Event()
    registry.subscribe(lambda _server: event.set())
    with anyio.fail_after(timeout):
        await event.wait()


async def test_a_server_registers_with_name_tags_meta_and_an_http_health_check() -> None:
    double = ConsulDouble(acl_token="tok")
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(consul_settings(double, token="tok", check_interval_seconds=3))
        instance = ServiceInstance(
            server="memory",
            url="http://127.0.0.1:8504/mcp",
            meta={"protocols": "2025-11-25,2026-07-28", "supervisor": "intelligence"},
        )
        await anyio.to_thread.run_sync(registry.register, instance)
        body = next(iter(double.services.values())).registered
        await anyio.to_thread.run_sync(registry.deregister, instance)
        await registry.http.aclose()
        await double.stop()
    assert body["Name"] == "mcp-memory"
    assert body["ID"] == "mcp-memory-127.0.0.1-8504"
    assert (body["Address"], body["Port"]) == ("127.0.0.1", 8504)
    assert body["Tags"][:2] == ["mcp", "memory"] and body["Tags"][2].startswith("v")
    assert body["Meta"]["protocols"] == "2025-11-25,2026-07-28"
    assert body["Meta"]["supervisor"] == "intelligence"
    assert body["Meta"]["transport"] == "streamable-http"
    assert body["Check"] == {
        "Name": "mcp-memory /health",
        "HTTP": "http://127.0.0.1:8504/health",
        "Method": "GET",
        "Interval": "3s",
        "Timeout": "2s",
        "DeregisterCriticalServiceAfter": "60s",
    }
    assert double.services == {}  # deregistered
    assert {r.token for r in double.requests} == {"tok"}


async def test_a_wildcard_bind_registers_the_advertised_address() -> None:
    double = ConsulDouble()
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(consul_settings(double, advertise_address="10.1.2.3"))
        await anyio.to_thread.run_sync(
            registry.register, ServiceInstance(server="search", url="http://0.0.0.0:8505/mcp")
        )
        registry.stop_keeping()
        await registry.http.aclose()
        await double.stop()
    (service,) = double.services.values()
    assert (service.address, service.id) == ("10.1.2.3", "mcp-search-10.1.2.3-8505")
    assert service.check is not None and service.check.http == "http://10.1.2.3:8505/health"


async def test_registering_while_consul_is_away_fails_after_its_retries() -> None:
    double = ConsulDouble()  # not started
    registry = ConsulRegistry(consul_settings(double), register_attempts=2, backoff_cap_seconds=0.05)
    with pytest.raises(ConsulUnavailable):
        await anyio.to_thread.run_sync(
            registry.register, ServiceInstance(server="search", url="http://127.0.0.1:8505/mcp")
        )
    registry.http.close()


async def test_the_catalog_follows_passing_instances_and_drops_critical_ones() -> None:
    double = ConsulDouble()
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        double.add_service("mcp-demo", "demo-a", 9001, meta={"path": "/mcp"})
        async with registry_on(double) as registry:
            assert [i.url for i in registry.instances("demo")] == ["http://127.0.0.1:9001/mcp"]
            assert registry.servers() == ["demo"]
            double.add_service("mcp-demo", "demo-b", 9002)
            await changed(registry)
            assert sorted(i.instance_id for i in registry.instances("demo")) == ["demo-a", "demo-b"]
            double.set_check("demo-a", "critical", "HTTP GET: connection refused")
            await changed(registry)
            assert [i.instance_id for i in registry.instances("demo")] == ["demo-b"]
            assert registry.degraded_reason is None
        await double.stop()


async def test_a_crashed_instance_is_reaped_by_the_next_reaper_pass_after_deregister_critical_service_after() -> None:
    double = ConsulDouble(reap_interval=30)  # the double's reaper runs every 30 s of its clock, as Consul's
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        registry = ConsulRegistry(consul_settings(double))
        instance = ServiceInstance(server="demo", url="http://127.0.0.1:9009/mcp")
        await anyio.to_thread.run_sync(registry.register, instance)
        (service_id,) = double.services
        double.set_check(service_id, "critical")
        double.advance(59)
        assert service_id in double.services  # still within the critical period
        double.advance(2)
        assert service_id in double.services  # past it, but the reaper has not run again yet
        double.advance(30)
        assert service_id not in double.services
        registry.stop_keeping()
        await registry.http.aclose()
        await double.stop()


async def test_consul_going_away_keeps_the_last_catalog_reports_degraded_and_recovers() -> None:
    double = ConsulDouble()
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        double.add_service("mcp-demo", "demo-a", 9001)
        async with registry_on(double) as registry:
            await double.stop()
            await eventually(lambda: registry.degraded_reason is not None, what="degraded")
            assert "last known catalog (1 instances)" in (registry.degraded_reason or "")
            assert [i.instance_id for i in registry.instances("demo")] == ["demo-a"]
            assert registry.status()["degraded"] is True
            double.add_service("mcp-demo", "demo-b", 9002)  # written while nobody could read it
            await double.start(tg)
            await changed(registry, timeout=5)
            assert sorted(i.instance_id for i in registry.instances("demo")) == ["demo-a", "demo-b"]
            assert registry.degraded_reason is None
        await double.stop()


async def test_a_kv_watch_reports_puts_and_deletes_and_ignores_idle_wake_ups() -> None:
    double = ConsulDouble()
    changes: list[dict[str, KvEntry]] = []
    got = anyio.Event()

    async def on_change(entries: dict[str, KvEntry]) -> None:
        nonlocal got
        changes.append(entries)
        got.set()

    async with anyio.create_task_group() as tg:
        await double.start(tg)
        http = ConsulHttp(ConsulEndpoint(base_url=double.url))
        tg.start_soon(
            lambda: watch_kv(http, "mcp-suite/", recurse=True, wait_seconds=0.2, on_change=on_change, on_error=print)
        )
        with anyio.fail_after(3):
            await got.wait()
            got = anyio.Event()
            await kv_put(http, "mcp-suite/gateway", b"refresh_interval_seconds: 2")
            await got.wait()
            got = anyio.Event()
            await double.wait_for_requests(
                "/v1/kv/mcp-suite/", len(double.seen("/v1/kv/mcp-suite/")) + 2
            )  # idle wake-ups
            await kv_put(http, "elsewhere/x", b"1")  # outside the prefix
            await kv_delete(http, "mcp-suite/gateway")
            await got.wait()
        tg.cancel_scope.cancel()
    await http.aclose()
    await double.stop()
    assert changes[0] == {}
    assert changes[1]["mcp-suite/gateway"].value == b"refresh_interval_seconds: 2"
    assert changes[2] == {}
    assert len(changes) == 3
