"""The Neo4j tools against a real Neo4j: run only when NEO4J_URI is set (with NEO4J_USER / NEO4J_PASSWORD).

No Neo4j server can be installed on the development machines, so these skip there; they are the
tests that prove the integration (the double in neo4j/test_tools.py does not). Every node they
create carries a label unique to the test and is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from mcp.server import MCPServer
from pydantic import SecretStr

from servers.database.neo4j.driver import close_neo4j_drivers
from servers.database.neo4j.tools import neo4j_readiness, register_neo4j_tools
from servers.database.settings import DatabaseConnection
from tests.servers.database.tool_calls import call, data, refused

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="set NEO4J_URI (and NEO4J_USER/NEO4J_PASSWORD)"),
]


def live_url() -> str:
    parts = urlsplit(os.environ["NEO4J_URI"])
    user, password = os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "")
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def server_for(**accesses: str) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("test")
    connections = {name: DatabaseConnection(url=SecretStr(live_url()), access=a) for name, a in accesses.items()}  # type: ignore[arg-type]
    register_neo4j_tools(server, connections)
    return server


@pytest.fixture
async def label() -> AsyncIterator[str]:
    name = f"McpTest{uuid.uuid4().hex[:10]}"
    yield name
    server = server_for(rw="read_write")
    await call(server, "cypher_write", {"query": f"MATCH (n:{name}) DETACH DELETE n"})
    await close_neo4j_drivers()


async def count(label: str) -> int:
    got = data(
        await call(server_for(ro="read_only"), "cypher_read", {"query": f"MATCH (n:{label}) RETURN count(n) AS c"})
    )
    return int(got["rows"][0]["c"])


async def test_a_write_then_a_read_round_trips(label: str) -> None:
    server = server_for(ro="read_only", rw="read_write")
    written = data(
        await call(
            server,
            "cypher_write",
            {
                "connection": "rw",
                "query": f"CREATE (n:{label} {{name: $name}}) RETURN n",
                "parameters": {"name": "ada"},
            },
        )
    )
    assert written["counters"]["nodes_created"] == 1
    node = written["rows"][0]["n"]
    assert node["labels"] == [label] and node["properties"] == {"name": "ada"}
    read = data(
        await call(server, "cypher_read", {"connection": "ro", "query": f"MATCH (n:{label}) RETURN n.name AS name"})
    )
    assert read["rows"] == [{"name": "ada"}] and read["query_type"] == "r"


@pytest.mark.parametrize(
    "template",
    [
        "CREATE (n:{label})",
        "MATCH (n:{label}) DETACH DELETE n",
        "MERGE (n:{label} {{name: 'x'}}) RETURN n",
        "MATCH (n:{label}) SET n.changed = true",
        "CREATE INDEX {label}_idx FOR (n:{label}) ON (n.name)",
        "MATCH (n:{label}) CALL {{ WITH n DELETE n }} RETURN 1",
    ],
)
async def test_cypher_read_refuses_writes_against_a_real_neo4j_and_changes_nothing(label: str, template: str) -> None:
    await call(server_for(rw="read_write"), "cypher_write", {"query": f"CREATE (:{label} {{name: 'kept'}})"})
    before = await count(label)
    result = await call(server_for(ro="read_write"), "cypher_read", {"query": template.format(label=label)})
    refused(result, "refused")
    assert await count(label) == before == 1


async def test_graph_schema_lists_a_created_label(label: str) -> None:
    await call(server_for(rw="read_write"), "cypher_write", {"query": f"CREATE (:{label} {{name: 'x', age: 3}})"})
    schema = data(await call(server_for(ro="read_only"), "graph_schema", {}))
    mine = [entry for entry in schema["labels"] if entry["label"] == label]
    assert mine and {p["name"] for p in mine[0]["properties"]} == {"name", "age"}


async def test_readiness_against_the_real_server() -> None:
    ok, detail = await neo4j_readiness("live", DatabaseConnection(url=SecretStr(live_url())))
    assert ok, detail
    assert os.environ.get("NEO4J_PASSWORD", "\x00never") not in detail
    await close_neo4j_drivers()
