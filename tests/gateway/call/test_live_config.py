"""Gateway settings from Consul KV apply live; a bad value is rejected with a reason and the old one kept."""

from __future__ import annotations

import pytest
from mcp import Client

from gateway.call.catalog import ALL
from gateway.call.live_config import LiveConfigError, live_config_running, parse_live_settings
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.registry import StaticRegistry
from tests.support.consul_double import eventually
from tests.support.consul_fixtures import consul_mesh

pytestmark = pytest.mark.anyio
KEY = "mcp-suite/gateway"


async def test_a_kv_change_of_a_server_groups_strategy_and_a_policy_timeout_applies_live() -> None:
    async with (
        consul_mesh(replicas=2, registered=2) as mesh,
        live_config_running(mesh.gateway) as live,
        Client(Endpoint(mesh.gateway, ALL).server) as client,
    ):
        assert live is not None
        await eventually(lambda: mesh.double.seen("/v1/kv/") != [], what="the KV watch started")
        pool = mesh.gateway.pools["demo"]
        assert pool.strategy == "round_robin"
        mesh.double.put_key(
            KEY,
            b"servers:\n  demo:\n    strategy: consistent_hash\n    hash_argument: text\n"
            b"policy:\n  timeout_seconds: 7\n",
        )
        took = await eventually(lambda: live.applied == 1, what="the KV value applied")
        for _ in range(8):
            assert not (await client.call_tool("demo_echo", {"text": "same-key"})).is_error
        timeout = mesh.gateway.policy_for(ALL, "demo", "echo").timeout_seconds
    assert took < 1.0
    assert (pool.strategy, pool.hash_argument) == ("consistent_hash", "text")
    assert timeout == 7
    counts = sorted(r.calls.get("echo", 0) for r in mesh.replicas)
    assert counts == [0, 8]  # one key, one replica
    assert mesh.serving() == ["mcp-demo-a", "mcp-demo-b"]  # connections kept


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"policy:\n  timeout_seconds: -1\n", "timeout_seconds"),
        (b"port: 9999\n", "cannot change live"),
        (b"servers: [\n", "not valid YAML"),
        (b"- a list\n", "must hold a mapping"),
        (b'{"supervisors": {"extra": {"servers": ["demo"]}}}', "needs a restart"),
    ],
)
async def test_a_bad_kv_value_is_rejected_with_a_reason_and_the_settings_in_force_stay(
    value: bytes, reason: str
) -> None:
    async with consul_mesh(replicas=1, registered=1) as mesh, live_config_running(mesh.gateway) as live:
        assert live is not None
        mesh.double.put_key(KEY, b"policy:\n  timeout_seconds: 9\n")
        await eventually(lambda: live.applied == 1, what="the good value applied")
        in_force = mesh.gateway.settings
        mesh.double.put_key(KEY, value)
        await eventually(lambda: live.rejected is not None, what="the bad value rejected")
        rejected = live.rejected or ""
        assert mesh.gateway.settings is in_force
        assert mesh.gateway.policy_for(ALL, "demo", "echo").timeout_seconds == 9
    assert reason in rejected
    assert "Consul KV mcp-suite/gateway" in rejected


async def test_deleting_the_key_goes_back_to_the_file_settings() -> None:
    base = GatewaySettings(refresh_interval_seconds=30)
    async with (
        consul_mesh(replicas=1, registered=1, gateway_settings=base) as mesh,
        live_config_running(mesh.gateway) as live,
    ):
        assert live is not None
        mesh.double.put_key(KEY, b'{"refresh_interval_seconds": 2}')
        await eventually(lambda: live.applied == 1, what="applied")
        assert mesh.gateway.settings.refresh_interval_seconds == 2
        mesh.double.remove_key(KEY)
        await eventually(lambda: live.applied == 2, what="reverted")
        assert mesh.gateway.settings == base


def test_an_empty_value_means_the_file_settings() -> None:
    base = GatewaySettings()
    assert parse_live_settings(b"  \n", base, origin="k") is base
    with pytest.raises(LiveConfigError, match="allowed keys"):
        parse_live_settings(b"host: 0.0.0.0", base, origin="k")


async def test_unhealthy_after_failures_is_a_live_key_and_a_bad_value_is_refused() -> None:
    async with consul_mesh(replicas=1, registered=1) as mesh, live_config_running(mesh.gateway) as live:
        assert live is not None
        mesh.double.put_key(KEY, b"unhealthy_after_failures: 5\n")
        await eventually(lambda: live.applied == 1, what="applied")
        applied = mesh.gateway.settings.unhealthy_after_failures
        mesh.double.put_key(KEY, b"unhealthy_after_failures: 0\n")
        await eventually(lambda: live.rejected is not None, what="the bad value rejected")
        kept = mesh.gateway.settings.unhealthy_after_failures
        shown = mesh.gateway.gateway_tool("gateway_status", {})["structuredContent"]["config"]
    assert applied == 5 and kept == 5
    assert "unhealthy_after_failures" in (live.rejected or "")
    assert shown["source"] == "consul_kv" and shown["rejected"] == live.rejected and not shown["degraded"]


def test_without_consul_gateway_status_says_the_settings_come_from_the_file() -> None:
    status = Gateway(GatewaySettings(), StaticRegistry({})).status()
    assert status["config"] == {"source": "file", "degraded": False}
