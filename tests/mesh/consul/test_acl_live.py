"""Live twins of the double's tests, against a real Consul agent: run only when CONSUL_HTTP_ADDR is set.

The ACL test also needs ACLs on (``default_policy = deny``, as docker-compose.yml configures) and a
management token in CONSUL_HTTP_TOKEN; it creates a policy and a token of its own and deletes them.

CONSUL_HTTP_ADDR=127.0.0.1:8500 CONSUL_HTTP_TOKEN=... .venv/bin/pytest -q -m live tests/mesh/consul/test_acl_live.py
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from mesh.config import ConsulSettings
from mesh.consul import ConsulEndpoint, ConsulHttp, ConsulRefused, ConsulRegistry, ConsulUnavailable
from mesh.consul.kv import KvEntry, kv_delete, kv_put, watch_kv
from mesh.consul.watch import Backoff
from mesh.registry import ServiceInstance
from suite.settings import SuiteSettings
from tests.support.consul_double import eventually

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.environ.get("CONSUL_HTTP_ADDR"), reason="set CONSUL_HTTP_ADDR to run against Consul"),
]


def settings_for(prefix: str, token: str | None = None) -> SuiteSettings:
    consul: dict[str, object] = {"service_prefix": prefix, "watch_wait_seconds": 5}
    if token is not None:
        consul["token"] = token
    return SuiteSettings(registry={"kind": "consul", "consul": consul})  # type: ignore[arg-type]


@asynccontextmanager
async def weak_token(http: ConsulHttp, rules: str) -> AsyncIterator[str]:
    """A token with only ``rules`` (HCL), made with the management token and deleted afterwards."""
    try:
        await http.request("GET", "/v1/acl/token/self")
    except (ConsulRefused, ConsulUnavailable) as exc:
        pytest.skip(f"needs ACLs on and a management token in CONSUL_HTTP_TOKEN: {exc}")
    name = f"mcp-live-{uuid.uuid4().hex[:8]}"
    policy = (await http.request("PUT", "/v1/acl/policy", json_body={"Name": name, "Rules": rules})).json()
    token = (await http.request("PUT", "/v1/acl/token", json_body={"Policies": [{"ID": policy["ID"]}]})).json()
    try:
        yield str(token["SecretID"])
    finally:
        await http.request("DELETE", f"/v1/acl/token/{token['AccessorID']}")
        await http.request("DELETE", f"/v1/acl/policy/{policy['ID']}")


async def test_live_a_token_without_service_read_leaves_the_registry_degraded_not_empty_and_quiet() -> None:
    prefix = f"mcp-live-{uuid.uuid4().hex[:6]}-"
    admin = ConsulRegistry(settings_for(prefix))
    instance = ServiceInstance(server="demo", url="http://127.0.0.1:1/mcp")
    await anyio.to_thread.run_sync(admin.register, instance)  # critical, but ACLs filter before ?passing does
    try:
        async with weak_token(admin.http, 'key_prefix "mcp-live-" { policy = "read" }') as token:
            registry = ConsulRegistry(settings_for(prefix, token), servers=["demo"], backoff_cap_seconds=0.5)
            async with registry.running():
                await eventually(lambda: registry.degraded_reason is not None, timeout=10, what="degraded")
                reason = registry.degraded_reason or ""
    finally:
        await anyio.to_thread.run_sync(admin.deregister, instance)
        await admin.http.aclose()
    assert "service:read" in reason


async def test_live_a_kv_prefix_the_token_cannot_read_is_reported_never_taken_for_deleted() -> None:
    key = f"mcp-live-{uuid.uuid4().hex[:6]}/a"
    admin = ConsulHttp(ConsulEndpoint.from_settings(ConsulSettings()))
    changes: list[dict[str, KvEntry]] = []
    errors: list[str] = []

    async def on_change(entries: dict[str, KvEntry]) -> None:
        changes.append(entries)

    await kv_put(admin, key, b"1")
    try:
        async with weak_token(admin, 'service_prefix "" { policy = "read" }') as token:
            http = ConsulHttp(ConsulEndpoint.from_settings(ConsulSettings(token=token)))  # type: ignore[arg-type]
            async with anyio.create_task_group() as tg:
                prefix = key.rsplit("/", 1)[0] + "/"
                watch = watch_kv(
                    http,
                    prefix,
                    recurse=True,
                    wait_seconds=5,
                    on_change=on_change,
                    on_error=errors.append,
                    backoff=Backoff(cap_seconds=0.5),
                )
                tg.start_soon(lambda: watch)
                await eventually(lambda: errors != [], timeout=10, what="the filtered answer reported")
                tg.cancel_scope.cancel()
            await http.aclose()
    finally:
        await kv_delete(admin, key)
        await admin.aclose()
    assert changes == [] and "key:read" in errors[0]


async def test_live_a_registration_the_agent_lost_is_made_again() -> None:
    prefix = f"mcp-live-{uuid.uuid4().hex[:6]}-"
    registry = ConsulRegistry(settings_for(prefix), keep_interval_seconds=0.2)
    instance = ServiceInstance(server="demo", url="http://127.0.0.1:1/mcp")
    service_id = f"{prefix}demo-127.0.0.1-1"
    await anyio.to_thread.run_sync(registry.register, instance)
    other = ConsulHttp(registry.endpoint)
    try:
        await other.request("PUT", f"/v1/agent/service/deregister/{service_id}")  # the agent forgets it
        await eventually(lambda: registry.reregistrations >= 1, timeout=10, what="registered again")
        back = await other.request("GET", f"/v1/agent/service/{service_id}", allow=(404,))
    finally:
        await anyio.to_thread.run_sync(registry.deregister, instance)
        await registry.http.aclose()
        await other.aclose()
    assert back.status == 200
