"""The client reads X-Consul-Results-Filtered-By-ACLs: a filtered answer is never taken for an empty catalog or KV.

Run against the ConsulDouble, which filters as Consul's default-deny ACLs do (a double, not a live agent).
"""

from __future__ import annotations

import anyio
import pytest

from mesh.consul import ConsulEndpoint, ConsulHttp, ConsulRegistry
from mesh.consul.kv import KvEntry, watch_kv
from mesh.consul.watch import Backoff
from suite.settings import SuiteSettings
from tests.support.consul_double import ConsulDouble, eventually
from tests.support.consul_model import MANAGEMENT, AclRules, service_reader

pytestmark = pytest.mark.anyio


def registry_for(double: ConsulDouble, token: str) -> ConsulRegistry:
    settings = SuiteSettings(
        registry={"kind": "consul", "consul": {"address": double.address, "token": token, "watch_wait_seconds": 30}},  # type: ignore[arg-type]
    )
    return ConsulRegistry(settings, servers=["demo"], backoff_cap_seconds=0.1)


async def test_a_response_says_when_consul_filtered_it_by_acls() -> None:
    double = ConsulDouble(tokens={"weak": AclRules()})
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        double.add_service("mcp-demo", "demo-a", 9001)
        http = ConsulHttp(ConsulEndpoint(base_url=double.url, token="weak"))
        try:
            response = await http.request("GET", "/v1/health/service/mcp-demo")
        finally:
            await http.aclose()
            await double.stop()
    assert (response.status, response.json(), response.filtered) == (200, [], True)


async def test_a_registry_whose_token_loses_service_read_keeps_its_catalog_and_is_degraded_naming_the_rule() -> None:
    double = ConsulDouble(tokens={"gateway": service_reader("mcp-")})
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        double.add_service("mcp-demo", "demo-a", 9001)
        registry = registry_for(double, "gateway")
        async with registry.running():
            assert [i.instance_id for i in registry.instances("demo")] == ["demo-a"]
            double.tokens["gateway"] = AclRules()  # the policy lost its service rule
            double.add_service("mcp-demo", "demo-b", 9002)  # wakes the blocking query
            await eventually(lambda: registry.degraded_reason is not None, what="degraded")
            during = [i.instance_id for i in registry.instances("demo")]
            reason = registry.degraded_reason or ""
            double.tokens["gateway"] = service_reader("mcp-")  # granted again: no index moves
            await eventually(lambda: registry.degraded_reason is None, what="recovered")
            after = sorted(i.instance_id for i in registry.instances("demo"))
        await double.stop()
    assert during == ["demo-a"]  # the last catalog, not an empty one
    assert "X-Consul-Results-Filtered-By-ACLs" in reason and "service:read" in reason and "mcp-demo" in reason
    assert "serving the last known catalog (1 instances)" in reason
    assert after == ["demo-a", "demo-b"]


async def test_a_registry_never_sees_an_instance_when_filtered_from_the_start_and_says_so() -> None:
    double = ConsulDouble(acl_token="root")
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        double.add_service("mcp-demo", "demo-a", 9001)
        settings = SuiteSettings(registry={"kind": "consul", "consul": {"address": double.address}})  # type: ignore[arg-type]
        registry = ConsulRegistry(settings, servers=["demo"], backoff_cap_seconds=0.1)  # no token: anonymous
        async with registry.running():
            await eventually(lambda: registry.degraded_reason is not None, what="degraded")
            status = registry.status()
        await double.stop()
    assert registry.instances("demo") == []
    assert status["degraded"] is True and "service:read" in status["reason"]


async def test_a_kv_watch_does_not_take_keys_filtered_by_acls_for_deleted_ones() -> None:
    double = ConsulDouble(tokens={"app": AclRules(key_read=("app/",))})
    changes: list[dict[str, KvEntry]] = []
    errors: list[str] = []

    async def on_change(entries: dict[str, KvEntry]) -> None:
        changes.append(entries)

    async with anyio.create_task_group() as tg:
        await double.start(tg)
        double.put_key("app/a", b"1")
        http = ConsulHttp(ConsulEndpoint(base_url=double.url, token="app"))
        tg.start_soon(
            lambda: watch_kv(
                http,
                "app/",
                recurse=True,
                wait_seconds=30,
                on_change=on_change,
                on_error=errors.append,
                backoff=Backoff(cap_seconds=0.05),
            )
        )
        await eventually(lambda: len(changes) == 1, what="the first answer")
        double.tokens["app"] = AclRules()  # key:read taken away
        double.put_key("app/b", b"2")
        await eventually(lambda: errors != [], what="the filtered answer reported")
        double.tokens["app"] = MANAGEMENT
        await eventually(lambda: len(changes) == 2, what="the keys read again")
        tg.cancel_scope.cancel()
        await http.aclose()
        await double.stop()
    assert list(changes[0]) == ["app/a"]
    assert sorted(changes[1]) == ["app/a", "app/b"]  # never an empty dict in between
    assert "key:read" in errors[0]
