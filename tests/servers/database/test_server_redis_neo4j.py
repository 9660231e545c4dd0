"""Redis and Neo4j connections through the database server's own build_server and readiness.

The Neo4j parts use Neo4jDriverDouble, which does not prove a live integration (see
tests/support/neo4j_double.py); Redis is the real one at 127.0.0.1:6379.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.neo4j.driver import use_driver_factory
from servers.database.redis.tools import close_redis_clients
from servers.database.server import build_server, readiness
from suite.settings import SuiteSettings
from tests.servers.database.redis.support import REDIS_URL, Seeded, seeded
from tests.servers.database.tool_calls import data, refused
from tests.support.neo4j_double import Neo4jDriverDouble

__all__ = ["seeded"]
pytestmark = pytest.mark.anyio


def settings(**connections: dict[str, Any]) -> Settings:
    return SuiteSettings.model_validate({"database": {"connections": connections}})


async def test_a_read_only_redis_connection_gets_the_read_tools_and_no_write_tool(seeded: Seeded) -> None:
    await seeded.raw.set(seeded.key("k"), "v")
    server = build_server(settings(cache={"url": REDIS_URL, "access": "read_only"}))
    async with Client(server, mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"redis_read", "redis_scan", "redis_info"} <= names
        assert not names & {"redis_write", "redis_admin", "cypher_write", "sql_execute"}
        got = data(await client.call_tool("redis_read", {"command": "GET", "args": [seeded.key("k")]}))
        assert got["result"] == "v"
        refused(await client.call_tool("redis_read", {"command": "FLUSHALL", "args": []}), "command_not_allowed")
    assert await seeded.raw.get(seeded.key("k")) == b"v"


async def test_redis_and_neo4j_connections_side_by_side() -> None:
    double = Neo4jDriverDouble()
    double.script("RETURN 1 AS one", "r", rows=[{"one": 1}])
    config = settings(
        cache={"url": REDIS_URL, "access": "read_write"},
        graph={"url": "neo4j://app:pw-n30@graph.example:7687", "access": "read_only"},
    )
    with use_driver_factory(double.factory):
        async with Client(build_server(config), mode="legacy") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"redis_write", "cypher_read", "graph_schema"} <= names and "cypher_write" not in names
            got = data(await client.call_tool("cypher_read", {"query": "RETURN 1 AS one"}))
            assert got["rows"] == [{"one": 1}]
    await close_redis_clients()


async def test_readiness_checks_redis_and_hides_an_unreachable_ones_password() -> None:
    config = settings(
        cache={"url": REDIS_URL},
        down={"url": "redis://app:hunter2-pw@127.0.0.1:1/0"},
    )
    report = await readiness(config)
    await close_redis_clients()
    assert report.ready is False
    assert "PING" in report.checks["connection cache"]
    assert "hunter2-pw" not in report.checks["connection down"] and "cannot reach" in report.checks["connection down"]


async def test_the_servers_lifespan_closes_the_redis_clients_and_neo4j_drivers_it_opened(seeded: Seeded) -> None:
    from servers.database.neo4j import driver as neo4j_driver
    from servers.database.redis import client as redis_client

    double = Neo4jDriverDouble()
    double.script("RETURN 1 AS one", "r", rows=[{"one": 1}])
    config = settings(
        cache={"url": REDIS_URL, "access": "read_only"},
        graph={"url": "neo4j://app:pw@graph.example:7687", "access": "read_only"},
    )
    with use_driver_factory(double.factory):
        async with Client(build_server(config), mode="legacy") as client:
            await client.call_tool("redis_read", {"command": "GET", "args": [seeded.key("k")]})
            await client.call_tool("cypher_read", {"query": "RETURN 1 AS one"})
            assert redis_client._handles and neo4j_driver._handles
    assert not redis_client._handles
    assert not neo4j_driver._handles
