"""The Neo4j tools driven through the MCP client against Neo4jDriverDouble.

THE DOUBLE DOES NOT PROVE A LIVE INTEGRATION: it reproduces the driver's documented session
behaviour (EXPLAIN summaries with query_type, AccessMode errors for writes in READ sessions) so
the classification, budget and error logic can be tested here. neo4j/test_live.py runs the same
kind of checks against a real Neo4j when NEO4J_URI is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server import MCPServer
from pydantic import SecretStr

from servers.database.neo4j.driver import use_driver_factory
from servers.database.neo4j.tools import neo4j_readiness, register_neo4j_tools
from servers.database.settings import DatabaseConnection
from tests.servers.database.tool_calls import call, data, refused, text_of, tool_names
from tests.support.neo4j_double import Neo4jDriverDouble

pytestmark = pytest.mark.anyio

URL = "neo4j://app:n30-secret@graph.example:7687/movies"


def connection(access: str = "read_only", url: str = URL, **limits: Any) -> DatabaseConnection:
    return DatabaseConnection(url=SecretStr(url), access=access, **limits)  # type: ignore[arg-type]


def server_for(**connections: DatabaseConnection) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("test")
    register_neo4j_tools(server, connections)
    return server


@pytest.fixture
def double() -> Iterator[Neo4jDriverDouble]:
    fake = Neo4jDriverDouble()
    fake.script(
        "MATCH (p:Person) RETURN p.name AS name ORDER BY name", "r", rows=[{"name": f"p{i}"} for i in range(50)]
    )
    fake.script("MATCH (p:Person {name: $name}) RETURN p.born AS born", "r", rows=[{"born": 1964}])
    fake.script(
        "CREATE (p:Person {name: $name}) RETURN p.name AS name",
        "w",
        rows=[{"name": "new"}],
        counters={"nodes_created": 1, "properties_set": 1, "labels_added": 1},
    )
    fake.script("MATCH (p:Person) SET p.seen = true", "w", counters={"properties_set": 50})
    fake.script("MERGE (p:Person {name: 'x'}) RETURN p", "rw", rows=[])
    fake.script("CREATE INDEX person_name FOR (p:Person) ON (p.name)", "s")
    with use_driver_factory(fake.factory):
        yield fake


async def test_a_read_only_server_lists_no_write_tool(double: Neo4jDriverDouble) -> None:
    assert await tool_names(server_for(graph=connection())) == {"cypher_read", "graph_schema"}
    assert "cypher_write" in await tool_names(server_for(graph=connection(), rw=connection("read_write")))


async def test_cypher_read_runs_a_parameterised_read_in_a_read_session(double: Neo4jDriverDouble) -> None:
    got = data(
        await call(
            server_for(graph=connection()),
            "cypher_read",
            {"query": "MATCH (p:Person {name: $name}) RETURN p.born AS born", "parameters": {"name": "Keanu"}},
        )
    )
    assert got["rows"] == [{"born": 1964}] and got["columns"] == ["born"] and got["query_type"] == "r"
    assert double.executed[-1].access_mode == "READ" and double.executed[-1].parameters == {"name": "Keanu"}
    assert double.executed[-1].database == "movies" and double.executed[-1].timeout == 5.0


async def test_the_driver_gets_credentials_as_auth_and_never_in_the_uri(double: Neo4jDriverDouble) -> None:
    data(
        await call(
            server_for(graph=connection()),
            "cypher_read",
            {"query": "MATCH (p:Person) RETURN p.name AS name ORDER BY name"},
        )
    )
    assert double.opened_with == [("neo4j://graph.example:7687", ("app", "n30-secret"))]


@pytest.mark.parametrize(
    "query",
    [
        "CREATE (p:Person {name: $name}) RETURN p.name AS name",
        "MATCH (p:Person) SET p.seen = true",
        "MERGE (p:Person {name: 'x'}) RETURN p",
        "CREATE INDEX person_name FOR (p:Person) ON (p.name)",
    ],
)
async def test_cypher_read_refuses_what_explain_classifies_as_a_write_and_runs_nothing(
    double: Neo4jDriverDouble, query: str
) -> None:
    result = await call(
        server_for(graph=connection("read_write")), "cypher_read", {"query": query, "parameters": {"name": "x"}}
    )
    assert "cypher_write" in refused(result, "refused")
    assert double.executed == []


async def test_the_read_session_is_a_second_layer_when_explain_is_fooled(double: Neo4jDriverDouble) -> None:
    # Planned as a read (a procedure declared READ) but writing when run: Neo4j's READ session refuses it.
    fooled = "MATCH (n) CALL db.labels() YIELD label RETURN label"
    double.script(fooled, "w", planned_as="r")
    result = await call(server_for(graph=connection()), "cypher_read", {"query": fooled})
    assert "READ session" in refused(result, "read_only")
    assert double.executed == []


async def test_cypher_write_creates_and_reports_counters(double: Neo4jDriverDouble) -> None:
    got = data(
        await call(
            server_for(rw=connection("read_write")),
            "cypher_write",
            {"query": "CREATE (p:Person {name: $name}) RETURN p.name AS name", "parameters": {"name": "new"}},
        )
    )
    assert got["rows"] == [{"name": "new"}] and got["query_type"] == "w"
    assert got["counters"] == {"nodes_created": 1, "properties_set": 1, "labels_added": 1}
    assert double.executed[-1].access_mode == "WRITE"


async def test_cypher_write_refuses_a_read_only_connection_and_runs_nothing(double: Neo4jDriverDouble) -> None:
    server = server_for(graph=connection(), rw=connection("read_write"))
    result = await call(server, "cypher_write", {"connection": "graph", "query": "MATCH (p:Person) SET p.seen = true"})
    refused(result, "read_only")
    assert double.executed == []


async def test_schema_changes_need_an_admin_connection(double: Neo4jDriverDouble) -> None:
    query = {"query": "CREATE INDEX person_name FOR (p:Person) ON (p.name)"}
    refused(await call(server_for(rw=connection("read_write")), "cypher_write", query), "refused")
    assert double.executed == []
    data(await call(server_for(ops=connection("admin")), "cypher_write", query))
    assert len(double.executed) == 1


async def test_a_large_result_stops_at_the_row_budget_and_pulls_no_further(double: Neo4jDriverDouble) -> None:
    got = data(
        await call(
            server_for(graph=connection(max_rows=10)),
            "cypher_read",
            {"query": "MATCH (p:Person) RETURN p.name AS name ORDER BY name"},
        )
    )
    assert got["rows"] == [{"name": f"p{i}"} for i in range(10)]
    assert got["truncated"] is True and got["truncated_reason"] == "max_rows" and "SKIP/LIMIT" in got["hint"]
    assert double.pulled == 11  # the one past the budget tells there is more; the rest is discarded
    assert double.sessions[-1]["fetch_size"] == 11


async def test_a_large_result_stops_at_the_byte_budget(double: Neo4jDriverDouble) -> None:
    double.script("MATCH (d:Doc) RETURN d.body AS body", "r", rows=[{"body": "z" * 400} for _ in range(20)])
    got = data(
        await call(
            server_for(graph=connection(max_bytes=2048)),
            "cypher_read",
            {"query": "MATCH (d:Doc) RETURN d.body AS body"},
        )
    )
    assert got["truncated_reason"] == "max_bytes" and 0 < got["row_count"] < 20


async def test_a_query_neo4j_cannot_parse_gives_the_servers_error(double: Neo4jDriverDouble) -> None:
    message = refused(
        await call(server_for(graph=connection()), "cypher_read", {"query": "MATCH (n RETURN n"}), "cypher_error"
    )
    assert "Neo.ClientError.Statement.SyntaxError" in message


async def test_an_unreachable_neo4j_gives_a_clear_error_without_the_password() -> None:
    fake = Neo4jDriverDouble(unreachable=True)
    with use_driver_factory(fake.factory):
        result = await call(server_for(graph=connection()), "cypher_read", {"query": "RETURN 1"})
        message = refused(result, "unreachable")
        assert "n30-secret" not in message
        ok, detail = await neo4j_readiness("graph", connection())
    assert not ok and "n30-secret" not in detail and "cannot reach" in detail


async def test_bad_credentials_are_reported_as_such_without_the_password() -> None:
    fake = Neo4jDriverDouble(bad_auth=True)
    with use_driver_factory(fake.factory):
        result = await call(server_for(graph=connection()), "cypher_read", {"query": "RETURN 1"})
    assert "n30-secret" not in refused(result, "auth_failed")


async def test_readiness_reports_a_reachable_server_by_its_public_url(double: Neo4jDriverDouble) -> None:
    ok, detail = await neo4j_readiness("graph", connection())
    assert ok and "graph.example" in detail and "n30-secret" not in detail


async def test_graph_schema_groups_properties_by_label_and_type(double: Neo4jDriverDouble) -> None:
    double.script(
        "CALL db.labels() YIELD label RETURN label",
        "r",
        rows=[{"label": "Person"}, {"label": "Movie"}, {"label": "Empty"}],
    )
    double.script(
        "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType",
        "r",
        rows=[{"relationshipType": "ACTED_IN"}],
    )
    double.script(
        "CALL db.schema.nodeTypeProperties() YIELD nodeLabels, propertyName, propertyTypes, mandatory "
        "RETURN nodeLabels, propertyName, propertyTypes, mandatory",
        "r",
        rows=[
            {"nodeLabels": ["Person"], "propertyName": "name", "propertyTypes": ["String"], "mandatory": True},
            {"nodeLabels": ["Person"], "propertyName": "born", "propertyTypes": ["Long"], "mandatory": False},
            {"nodeLabels": ["Movie"], "propertyName": "title", "propertyTypes": ["String"], "mandatory": True},
            {"nodeLabels": ["Empty"], "propertyName": None, "propertyTypes": None, "mandatory": False},
        ],
    )
    double.script(
        "CALL db.schema.relTypeProperties() YIELD relType, propertyName, propertyTypes, mandatory "
        "RETURN relType, propertyName, propertyTypes, mandatory",
        "r",
        rows=[
            {"relType": ":`ACTED_IN`", "propertyName": "roles", "propertyTypes": ["StringArray"], "mandatory": False}
        ],
    )
    got = data(await call(server_for(graph=connection()), "graph_schema", {}))
    labels = {entry["label"]: entry["properties"] for entry in got["labels"]}
    assert [p["name"] for p in labels["Person"]] == ["born", "name"] and labels["Empty"] == []
    assert got["relationship_types"] == [
        {"type": "ACTED_IN", "properties": [{"name": "roles", "types": ["StringArray"], "mandatory": False}]}
    ]
    assert all(s["default_access_mode"] == "READ" for s in double.sessions)


async def test_an_unknown_connection_is_refused_with_the_known_names(double: Neo4jDriverDouble) -> None:
    result = await call(
        server_for(graph=connection(), other=connection()), "cypher_read", {"query": "RETURN 1", "connection": "nope"}
    )
    message = refused(result, "unknown_connection")
    assert "graph" in message and "other" in message and "n30-secret" not in text_of(result)
