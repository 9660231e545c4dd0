"""Live tests against a real Consul agent: run only when CONSUL_HTTP_ADDR is set (CONSUL_HTTP_TOKEN if ACLs are on).

CONSUL_HTTP_ADDR=127.0.0.1:8500 .venv/bin/pytest -q -m live tests/mesh/test_consul_live.py
"""

from __future__ import annotations

import os
import uuid

import anyio
import pytest

from mesh.config import Settings
from mesh.consul import ConsulRegistry
from mesh.consul.kv import kv_delete, kv_get, kv_put
from mesh.registry import ServiceInstance
from suite.settings import SuiteSettings
from tests.support.consul_double import eventually

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.environ.get("CONSUL_HTTP_ADDR"), reason="set CONSUL_HTTP_ADDR to run against Consul"),
]


def live_settings(prefix: str) -> Settings:
    return SuiteSettings(registry={"kind": "consul", "consul": {"service_prefix": prefix, "watch_wait_seconds": 5}})  # type: ignore[arg-type]


async def test_a_registration_is_watched_and_a_deregistration_leaves_the_catalog() -> None:
    prefix = f"mcp-live-{uuid.uuid4().hex[:6]}-"
    settings = live_settings(prefix)
    registry = ConsulRegistry(settings, servers=["demo"])
    instance = ServiceInstance(server="demo", url="http://127.0.0.1:1/mcp")
    async with registry.running():
        body_id = f"{prefix}demo-127.0.0.1-1"
        await anyio.to_thread.run_sync(registry.register, instance)
        try:
            # A fresh HTTP check starts critical, so the passing-only catalog must not list it.
            assert all(i.instance_id != body_id for i in registry.instances("demo"))
            assert registry.degraded_reason is None
        finally:
            await anyio.to_thread.run_sync(registry.deregister, instance)
        await eventually(lambda: registry.instances("demo") == [], timeout=10, what="deregistered")


async def test_a_kv_round_trip_keeps_bytes_and_reports_a_modify_index() -> None:
    settings = live_settings("mcp-live-")
    registry = ConsulRegistry(settings, servers=[])
    key = f"mcp-suite-live/{uuid.uuid4().hex[:8]}"
    try:
        assert await kv_put(registry.http, key, b"policy:\n  timeout_seconds: 5\n")
        entries = await kv_get(registry.http, key)
        assert entries[key].value == b"policy:\n  timeout_seconds: 5\n"
        assert entries[key].modify_index > 0
    finally:
        await kv_delete(registry.http, key)
        await registry.http.aclose()
