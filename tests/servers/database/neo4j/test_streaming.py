"""The Neo4j tools when the server is slow or fails while rows stream, against Neo4jDriverDouble.

THE DOUBLE DOES NOT PROVE A LIVE INTEGRATION (see tests/support/neo4j_double.py): it raises the
driver's own exception types at the moments the driver raises them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server import MCPServer
from neo4j._codec.packstream import Structure
from neo4j.exceptions import ServiceUnavailable
from pydantic import SecretStr

from servers.database.neo4j.driver import use_driver_factory
from servers.database.neo4j.tools import register_neo4j_tools
from servers.database.settings import DatabaseConnection
from tests.servers.database.neo4j.test_values import node, wire
from tests.servers.database.tool_calls import call, data, refused
from tests.support.neo4j_double import Neo4jDriverDouble, server_error

pytestmark = pytest.mark.anyio

URL = "neo4j://app:n30-secret@graph.example:7687/movies"
PEOPLE = "MATCH (p:Person) RETURN p.name AS name"
ROWS = [{"name": f"p{i}"} for i in range(20)]


def server_for(**limits: Any) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("test")
    register_neo4j_tools(server, {"graph": DatabaseConnection(url=SecretStr(URL), **limits)})
    return server


@pytest.fixture
def double() -> Iterator[Neo4jDriverDouble]:
    fake = Neo4jDriverDouble()
    with use_driver_factory(fake.factory):
        yield fake


async def test_a_query_slower_than_the_statement_timeout_gives_a_timeout_error_and_no_rows(
    double: Neo4jDriverDouble,
) -> None:
    double.script(PEOPLE, "r", rows=ROWS, delay=30.0)
    started = time.monotonic()
    result = await call(server_for(statement_timeout_ms=200), "cypher_read", {"query": PEOPLE})
    message = refused(result, "timeout")
    assert time.monotonic() - started < 10, "the tool waited for the slow server instead of its own timeout"
    assert "200 ms" in message and "p0" not in message
    assert result.structured_content is None and double.pulled == 0


async def test_a_query_within_the_statement_timeout_returns_every_row(double: Neo4jDriverDouble) -> None:
    double.script(PEOPLE, "r", rows=ROWS, delay=0.05)
    result = data(await call(server_for(statement_timeout_ms=5_000), "cypher_read", {"query": PEOPLE}))
    assert result["row_count"] == 20 and not result["truncated"]


@pytest.mark.parametrize(
    ("failure", "code", "named"),
    [
        (server_error("Neo.ClientError.Statement.ArithmeticError", "/ by zero"), "cypher_error", "ArithmeticError"),
        (ServiceUnavailable("Failed to read from defunct connection"), "unreachable", "defunct connection"),
        (
            server_error("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", "timed out"),
            "timeout",
            "timed out",
        ),
    ],
    ids=["query-error", "connection-lost", "server-timeout"],
)
async def test_an_error_while_rows_stream_is_a_coded_error_and_no_partial_result(
    double: Neo4jDriverDouble, failure: Exception, code: str, named: str
) -> None:
    double.script(PEOPLE, "r", rows=ROWS, fail_after=7, failure=failure)
    result = await call(server_for(), "cypher_read", {"query": PEOPLE})
    message = refused(result, code)
    assert named in message and "n30-secret" not in message
    assert result.structured_content is None, "rows read before the failure were presented as a result"
    assert double.pulled == 7  # the failure came mid-stream, after rows had arrived


async def test_a_failure_past_the_row_budget_still_fails_the_call(double: Neo4jDriverDouble) -> None:
    # the budget stops reading at 5 rows; discarding the rest runs the query to its failure on the server
    failure = server_error("Neo.ClientError.Statement.ArithmeticError", "/ by zero")
    double.script(PEOPLE, "r", rows=ROWS, fail_after=12, failure=failure)
    result = await call(server_for(max_rows=5), "cypher_read", {"query": PEOPLE})
    assert "ArithmeticError" in refused(result, "cypher_error")
    assert result.structured_content is None


async def test_graph_values_from_the_driver_come_back_as_json_through_the_tool(double: Neo4jDriverDouble) -> None:
    path = wire(
        Structure(
            b"P",
            [node(1, ["Person"], name="Keanu"), node(2, ["Movie"], title="M")],
            [Structure(b"r", 7, "ACTED_IN", {}, "5:db:7")],
            [1, 1],
        )
    )
    born = wire(Structure(b"i", 1700000000, 0, "Europe/Paris"))
    query = "MATCH p = (:Person)-[:ACTED_IN]->(:Movie) RETURN p, $at AS at"
    double.script(query, "r", rows=[{"p": path, "at": born}])
    result = data(await call(server_for(), "cypher_read", {"query": query}))
    (row,) = result["rows"]
    assert [n["properties"] for n in row["p"]["nodes"]] == [{"name": "Keanu"}, {"title": "M"}]
    assert row["p"]["relationships"][0]["start_element_id"] == "4:db:1"
    assert row["at"] == "2023-11-14T23:13:20.000000000+01:00[Europe/Paris]"
