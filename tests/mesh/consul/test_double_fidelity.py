"""The ConsulDouble fails as Consul does: default-deny ACLs, critical checks, the interval floor, the reaper, jitter.

These check the double against Consul's documented behaviour, so the suite's tests meet real failure modes;
they prove nothing about a live agent (tests/mesh/consul/test_acl_live.py does, with CONSUL_HTTP_ADDR set).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from tests.support.consul_double import ConsulDouble
from tests.support.consul_model import FILTERED_HEADER, AclRules, service_reader

pytestmark = pytest.mark.anyio

CHECKED = {
    "Name": "mcp-demo",
    "ID": "demo-1",
    "Address": "127.0.0.1",
    "Port": 9001,
    "Check": {"HTTP": "http://127.0.0.1:9001/health", "Interval": "5s", "DeregisterCriticalServiceAfter": "1m"},
}


@asynccontextmanager
async def serving(double: ConsulDouble) -> AsyncIterator[httpx.AsyncClient]:
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        try:
            async with httpx.AsyncClient(base_url=double.url, trust_env=False) as http:
                yield http
        finally:
            await double.stop()


def as_token(token: str) -> dict[str, str]:
    return {"X-Consul-Token": token}


async def test_the_double_answers_a_read_without_service_read_with_an_empty_filtered_200() -> None:
    double = ConsulDouble(acl_token="root", tokens={"kv-only": AclRules(key_read=("",))})
    async with serving(double) as http:
        double.add_service("mcp-demo", "demo-a", 9001)
        weak = await http.get("/v1/health/service/mcp-demo", headers=as_token("kv-only"))
        anonymous = await http.get("/v1/health/service/mcp-demo")
        strong = await http.get("/v1/health/service/mcp-demo", headers=as_token("root"))
    for filtered in (weak, anonymous):
        assert (filtered.status_code, filtered.json(), filtered.headers.get(FILTERED_HEADER)) == (200, [], "true")
    assert [e["Service"]["ID"] for e in strong.json()] == ["demo-a"]
    assert FILTERED_HEADER not in strong.headers


async def test_the_double_filters_only_the_services_a_prefix_rule_does_not_cover() -> None:
    double = ConsulDouble(tokens={"demo-reader": service_reader("mcp-demo")})
    async with serving(double) as http:
        double.add_service("mcp-demo", "demo-a", 9001)
        double.add_service("mcp-other", "other-a", 9002)
        readable = await http.get("/v1/health/service/mcp-demo", headers=as_token("demo-reader"))
        hidden = await http.get("/v1/health/service/mcp-other", headers=as_token("demo-reader"))
    assert len(readable.json()) == 1 and FILTERED_HEADER not in readable.headers
    assert hidden.json() == [] and hidden.headers[FILTERED_HEADER] == "true"


async def test_the_double_refuses_an_unknown_token_with_acl_not_found() -> None:
    double = ConsulDouble(acl_token="root")
    async with serving(double) as http:
        read = await http.get("/v1/health/service/mcp-demo", headers=as_token("nobody"))
        write = await http.put("/v1/agent/service/register", json=CHECKED, headers=as_token("nobody"))
    assert (read.status_code, read.text) == (403, "ACL not found")
    assert (write.status_code, write.text) == (403, "ACL not found")
    assert double.services == {}


async def test_the_double_refuses_a_write_without_service_write_and_registers_nothing() -> None:
    double = ConsulDouble(tokens={"reader": service_reader("")})
    async with serving(double) as http:
        refused = await http.put("/v1/agent/service/register", json=CHECKED, headers=as_token("reader"))
    assert refused.status_code == 403
    assert refused.text.startswith("Permission denied") and "'service:write' on \"mcp-demo\"" in refused.text
    assert double.services == {}


async def test_the_double_refuses_one_unreadable_kv_key_and_filters_a_prefix_read() -> None:
    double = ConsulDouble(tokens={"app": AclRules(key_read=("app/",))})
    async with serving(double) as http:
        double.put_key("app/a", b"1")
        double.put_key("secret/b", b"2")
        key = await http.get("/v1/kv/secret/b", headers=as_token("app"))
        prefix = await http.get("/v1/kv/secret/", params={"recurse": "1"}, headers=as_token("app"))
        mixed = await http.get("/v1/kv/", params={"recurse": "1"}, headers=as_token("app"))
    assert key.status_code == 403 and "'key:read' on \"secret/b\"" in key.text
    assert (prefix.status_code, prefix.headers[FILTERED_HEADER]) == (404, "true")  # empty after filtering
    assert [e["Key"] for e in mixed.json()] == ["app/a"] and mixed.headers[FILTERED_HEADER] == "true"


async def test_the_double_starts_a_check_critical_unless_the_registration_gives_a_status() -> None:
    double = ConsulDouble()
    async with serving(double) as http:
        assert (await http.put("/v1/agent/service/register", json=CHECKED)).status_code == 200
        given = {**CHECKED, "ID": "demo-2", "Check": {**CHECKED["Check"], "Status": "passing"}}  # type: ignore[dict-item]
        assert (await http.put("/v1/agent/service/register", json=given)).status_code == 200
        passing = await http.get("/v1/health/service/mcp-demo", params={"passing": "1"})
    assert {sid: s.check.status for sid, s in double.services.items() if s.check} == {
        "demo-1": "critical",
        "demo-2": "passing",
    }
    assert [e["Service"]["ID"] for e in passing.json()] == ["demo-2"]


async def test_the_double_stretches_an_interval_under_one_second_as_consul_does() -> None:
    double = ConsulDouble()
    short = {**CHECKED, "Check": {**CHECKED["Check"], "Interval": "200ms", "DeregisterCriticalServiceAfter": "10s"}}  # type: ignore[dict-item]
    async with serving(double) as http:
        assert (await http.put("/v1/agent/service/register", json=short)).status_code == 200
    check = double.services["demo-1"].check
    assert check is not None and (check.interval, check.deregister_after) == (1.0, 60.0)
    assert any("interval below minimum" in w for w in double.warnings)


async def test_the_double_set_to_reject_refuses_an_interval_under_one_second_and_registers_nothing() -> None:
    double = ConsulDouble(short_interval="reject")
    short = {**CHECKED, "Check": {**CHECKED["Check"], "Interval": "500ms"}}  # type: ignore[dict-item]
    async with serving(double) as http:
        refused = await http.put("/v1/agent/service/register", json=short)
    assert refused.status_code == 400 and "below 1s" in refused.text
    assert double.services == {}


def test_the_double_refuses_an_unknown_short_interval_mode() -> None:
    with pytest.raises(ValueError, match="short_interval must be"):
        ConsulDouble(short_interval="ignore")


def test_the_doubles_reaper_runs_on_its_interval_not_on_every_change() -> None:
    double = ConsulDouble(reap_interval=30)
    double.add_service("mcp-demo", "demo-a", 9001)
    check = double.services["demo-a"].check
    assert check is not None
    check.deregister_after = 60
    double.set_check("demo-a", "critical")
    double.advance(31)  # a reaper pass: critical for 31 s, kept
    double.advance(29.5)  # critical for 60.5 s: past DeregisterCriticalServiceAfter, but no pass yet
    kept_between_passes = "demo-a" in double.services
    double.advance(1)  # the next pass
    assert kept_between_passes
    assert "demo-a" not in double.services


async def test_the_double_answers_a_blocking_query_that_saw_no_change_up_to_wait_over_16_late() -> None:
    double = ConsulDouble(late=lambda wait: wait / 16)  # always the latest Consul may answer
    async with serving(double) as http:
        double.add_service("mcp-demo", "demo-a", 9001)
        first = await http.get("/v1/health/service/mcp-demo")
        started = time.monotonic()
        await http.get(
            "/v1/health/service/mcp-demo", params={"index": first.headers["X-Consul-Index"], "wait": "800ms"}
        )
        took = time.monotonic() - started
    assert 0.8 + 0.05 <= took < 0.8 + 0.05 + 0.5


async def test_an_agent_restart_in_the_double_loses_what_it_registered_and_keeps_other_agents_services() -> None:
    double = ConsulDouble()
    async with serving(double) as http:
        assert (await http.put("/v1/agent/service/register", json=CHECKED)).status_code == 200
        double.add_service("mcp-demo", "elsewhere", 9002)
        lost = double.restart_agent()
        gone = await http.get("/v1/agent/service/demo-1")
    assert lost == ["demo-1"]
    assert sorted(double.services) == ["elsewhere"]
    assert gone.status_code == 404 and "Unknown service ID" in gone.text
