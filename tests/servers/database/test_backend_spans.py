"""Backend spans of the database server: one CLIENT span per use of PostgreSQL, SQLite, Redis or Neo4j,
a child of the SDK's SERVER span for the ``tools/call``, in the trace of whoever called.

PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379, database 15) and SQLite are real; Neo4j is
Neo4jDriverDouble (a double of the driver, not a live integration). Every URL here carries a
password the servers accept or ignore, and no span may show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer
from opentelemetry.trace import StatusCode
from pydantic import SecretStr

from mesh import tracing
from mesh.config import Settings
from servers.database.neo4j.driver import use_driver_factory
from servers.database.neo4j.tools import neo4j_readiness, register_neo4j_tools, span_operation
from servers.database.redis.tools import close_redis_clients, redis_readiness
from servers.database.server import build_server
from servers.database.settings import DatabaseConnection
from servers.database.sqlite.engine import span_operation as sqlite_operation
from tests.servers.database.redis.support import Seeded, seeded
from tests.servers.database.redis.support import connection as redis_connection
from tests.servers.database.redis.support import server_for as redis_server
from tests.servers.database.support import connection, data, refused, settings_with
from tests.servers.spans import UNTOUCHABLE_TRACER, attributes, span_texts, traced_calls
from tests.support.neo4j_double import Neo4jDriverDouble
from tests.support.observability import captured_spans, run_python

pytestmark = pytest.mark.anyio

__all__ = ["seeded"]

SECRET = "s3cr3t-pw-42"
PG_WITH_PASSWORD = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/test"  # trust auth: the password is never asked
REDIS_WITH_PASSWORD = f"redis://default:{SECRET}@127.0.0.1:6379/15"  # the nopass default user accepts any
NEO4J_URL = f"neo4j://app:{SECRET}@graph.example:7687/movies"


def assert_secret_free(text: str, *also: str) -> None:
    for secret in (SECRET, PG_WITH_PASSWORD, REDIS_WITH_PASSWORD, NEO4J_URL, *also):
        assert secret not in text


@pytest.fixture
def pg(tmp_path: Path, pg_schema: str) -> Settings:
    return settings_with(
        tmp_path / "data", pg=connection(PG_WITH_PASSWORD), pgrw=connection(PG_WITH_PASSWORD, "read_write")
    )


# -- PostgreSQL -------------------------------------------------------------------------------------------


async def test_a_postgres_query_gets_one_client_span_under_the_server_span_of_its_call(
    pg: Settings, pg_schema: str
) -> None:
    traced = await traced_calls(
        build_server(pg), ("sql_query", {"sql": f"SELECT id FROM {pg_schema}.customers WHERE id = $1", "params": [3]})
    )
    assert data(traced.results[0])["rows"] == [[3]]
    span = traced.only_backend("sql_query")
    assert span.name == "postgresql SELECT"
    assert attributes(span) == {"db.system": "postgresql", "db.operation.name": "SELECT", "db.namespace": "pg"}
    assert span.status.status_code is StatusCode.UNSET
    assert_secret_free(span_texts(traced.spans))


async def test_postgres_spans_are_named_by_the_statement_kind(pg: Settings, pg_schema: str) -> None:
    untouched = f"UPDATE {pg_schema}.customers SET name = name WHERE id = -1"
    traced = await traced_calls(
        build_server(pg),
        ("sql_explain", {"sql": f"SELECT * FROM {pg_schema}.orders", "connection": "pg"}),
        ("sql_execute", {"sql": untouched, "connection": "pgrw"}),
        ("describe_table", {"table": "orders", "schema": pg_schema, "connection": "pg"}),
        ("list_schemas", {"connection": "pg"}),
    )
    assert data(traced.results[1])["rows_affected"] == 0
    names = {tool: [s.name for s in traced.backend(tool)] for tool in ("sql_explain", "sql_execute", "list_schemas")}
    assert names == {
        "sql_explain": ["postgresql EXPLAIN"],
        "sql_execute": ["postgresql UPDATE"],
        "list_schemas": ["postgresql SELECT"],
    }
    describe = traced.backend("describe_table")
    assert describe and {s.name for s in describe} == {"postgresql SELECT"}
    assert attributes(traced.only_backend("sql_execute"))["db.namespace"] == "pgrw"
    assert_secret_free(span_texts(traced.spans), "Alice")


async def test_a_failed_postgres_statement_marks_its_span_an_error_without_the_message(pg: Settings) -> None:
    traced = await traced_calls(build_server(pg), ("sql_query", {"sql": "SELECT 'Alice-Private-99'::int"}))
    assert "Alice-Private-99" in refused(traced.results[0], "sql_error")  # the client is told, the trace is not
    span = traced.only_backend("sql_query")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "sql_error"
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("exception", {"exception.type": "servers.database.errors.DbError"})
    ]
    assert_secret_free(span_texts(traced.spans), "Alice-Private-99")


async def test_an_unreachable_postgres_fails_its_span_without_the_url_or_password(tmp_path: Path) -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test"
    traced = await traced_calls(
        build_server(settings_with(tmp_path, down=connection(url))), ("sql_query", {"sql": "SELECT 1"})
    )
    refused(traced.results[0], "unavailable")
    span = traced.only_backend("sql_query")
    assert span.name == "postgresql SELECT"
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "unavailable"
    assert_secret_free(span_texts(traced.spans), url, "127.0.0.1:1")


async def test_a_statement_the_guard_refuses_reaches_no_backend_and_gets_no_backend_span(pg: Settings) -> None:
    traced = await traced_calls(build_server(pg), ("sql_query", {"sql": "DELETE FROM pg_class"}))
    refused(traced.results[0], "refused")
    assert traced.backend("sql_query") == []


# -- SQLite -----------------------------------------------------------------------------------------------


async def test_sqlite_reads_and_writes_get_spans_named_by_their_keyword(tmp_path: Path) -> None:
    path = tmp_path / "lite.db"
    settings = settings_with(tmp_path / "data", lite=connection(f"sqlite:///{path}", "read_write"))
    traced = await traced_calls(
        build_server(settings),
        ("sql_execute", {"sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"}),
        ("sql_query", {"sql": "SELECT count(*) FROM items"}),
        ("sql_explain", {"sql": "SELECT * FROM items"}),
        ("list_tables", {}),
    )
    assert data(traced.results[1])["rows"] == [[0]]
    spans = {tool: traced.only_backend(tool) for tool in ("sql_execute", "sql_query", "sql_explain", "list_tables")}
    assert {tool: s.name for tool, s in spans.items()} == {
        "sql_execute": "sqlite CREATE",
        "sql_query": "sqlite SELECT",
        "sql_explain": "sqlite EXPLAIN",
        "list_tables": "sqlite SELECT",
    }
    assert attributes(spans["sql_query"]) == {
        "db.system": "sqlite",
        "db.operation.name": "SELECT",
        "db.namespace": "lite",
    }
    assert str(path) not in span_texts(traced.spans)


async def test_a_failed_sqlite_statement_marks_its_span_an_error(tmp_path: Path) -> None:
    settings = settings_with(tmp_path / "data", lite=connection(f"sqlite:///{tmp_path}/lite.db", "read_write"))
    traced = await traced_calls(build_server(settings), ("sql_query", {"sql": "SELECT * FROM no_table_named_bob"}))
    refused(traced.results[0], "sql_error")
    span = traced.only_backend("sql_query")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "sql_error"
    assert "no_table_named_bob" not in span_texts([span])


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("select 1", "SELECT"),
        ("  WITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("insert into t values (1)", "INSERT"),
        ("-- a comment first\nSELECT 1", "OTHER"),
        ("hunter2 SELECT", "OTHER"),
        ("", "OTHER"),
    ],
)
def test_a_sqlite_span_is_named_by_a_known_leading_keyword_and_never_other_text(statement: str, operation: str) -> None:
    assert sqlite_operation(statement) == operation


# -- Redis ------------------------------------------------------------------------------------------------


async def test_a_redis_command_gets_a_span_per_round_trip_named_by_the_command(seeded: Seeded) -> None:
    key = seeded.key("greeting")
    await seeded.raw.set(key, "hello")
    server = redis_server(cache=redis_connection(url=REDIS_WITH_PASSWORD))
    traced = await traced_calls(server, ("redis_read", {"command": "GET", "args": [key]}))
    assert data(traced.results[0])["result"] == "hello"
    spans = traced.backend("redis_read")
    assert "redis GET" in [s.name for s in spans]
    get = next(s for s in spans if s.name == "redis GET")
    assert attributes(get) == {"db.system": "redis", "db.operation.name": "GET", "db.namespace": "cache"}
    assert all(attributes(s)["db.system"] == "redis" for s in spans)
    assert_secret_free(span_texts(traced.spans), key, "hello")


async def test_a_failed_redis_command_marks_its_span_an_error_with_the_tool_error_code(seeded: Seeded) -> None:
    key = seeded.key("list")
    await seeded.raw.rpush(key, "a")
    server = redis_server(cache=redis_connection(url=REDIS_WITH_PASSWORD))
    traced = await traced_calls(server, ("redis_read", {"command": "HGET", "args": [key, "field"]}))
    refused(traced.results[0], "redis_error")  # WRONGTYPE
    failed = [s for s in traced.backend("redis_read") if s.status.status_code is StatusCode.ERROR]
    assert [s.name for s in failed] == ["redis HGET"]
    assert attributes(failed[0])["error.type"] == "redis_error"
    assert_secret_free(span_texts(traced.spans), key)


# -- Neo4j (Neo4jDriverDouble: a double of the driver) -------------------------------------------------------


@pytest.fixture
def neo4j_double() -> Iterator[Neo4jDriverDouble]:
    fake = Neo4jDriverDouble()
    fake.script("MATCH (p:Person {name: $name}) RETURN p.born AS born", "r", rows=[{"born": 1964}])
    fake.script("CALL db.labels() YIELD label RETURN label", "r", rows=[{"label": "Person"}])
    fake.script("CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType", "r")
    for procedure, first in (("nodeTypeProperties", "nodeLabels"), ("relTypeProperties", "relType")):
        fake.script(
            f"CALL db.schema.{procedure}() YIELD {first}, propertyName, propertyTypes, mandatory "
            f"RETURN {first}, propertyName, propertyTypes, mandatory",
            "r",
        )
    with use_driver_factory(fake.factory):
        yield fake


def neo4j_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("test")
    register_neo4j_tools(server, {"graph": DatabaseConnection(url=SecretStr(NEO4J_URL))})
    return server


async def test_neo4j_double_a_cypher_read_gets_a_span_named_by_its_leading_clause(
    neo4j_double: Neo4jDriverDouble,
) -> None:
    query = "MATCH (p:Person {name: $name}) RETURN p.born AS born"
    traced = await traced_calls(
        neo4j_server(),
        ("cypher_read", {"query": query, "parameters": {"name": "Keanu-Private"}}),
        ("graph_schema", {}),
    )
    assert data(traced.results[0])["rows"] == [{"born": 1964}]
    span = traced.only_backend("cypher_read")
    assert span.name == "neo4j MATCH"
    assert attributes(span) == {"db.system": "neo4j", "db.operation.name": "MATCH", "db.namespace": "graph"}
    assert traced.only_backend("graph_schema").name == "neo4j CALL"
    assert_secret_free(span_texts(traced.spans), "Keanu-Private", "graph.example", "movies")


async def test_neo4j_double_a_failed_query_marks_its_span_an_error_without_the_query(
    neo4j_double: Neo4jDriverDouble,
) -> None:
    query = "MATCH (p:Person {name: 'Alice-Private'}) RETURN p"  # unscripted: the double answers SyntaxError
    traced = await traced_calls(neo4j_server(), ("cypher_read", {"query": query}))
    refused(traced.results[0], "cypher_error")
    span = traced.only_backend("cypher_read")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "cypher_error"
    assert_secret_free(span_texts(traced.spans), "Alice-Private")


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        ("MATCH (n) RETURN n", "MATCH"),
        ("// who\n  merge (n:X) RETURN n", "MERGE"),
        ("/* c */ CALL db.labels()", "CALL"),
        ("`hunter2` RETURN 1", "RETURN"),  # a back-quoted name is blanked like a comment
        ("Alice RETURN 1", "OTHER"),
    ],
)
def test_a_neo4j_span_is_named_by_a_known_leading_clause_and_never_other_text(query: str, operation: str) -> None:
    assert span_operation(query) == operation


# -- readiness probes --------------------------------------------------------------------------------------


async def test_readiness_probes_make_no_backend_span(neo4j_double: Neo4jDriverDouble) -> None:
    """A health check every few seconds would fill the trace store with one-span traces (Neo4j: the double)."""
    with captured_spans() as exporter:
        try:
            redis_ready = await redis_readiness("cache", redis_connection(url=REDIS_WITH_PASSWORD))
        finally:
            await close_redis_clients()
        neo4j_ready = await neo4j_readiness("graph", DatabaseConnection(url=SecretStr(NEO4J_URL)))
        with tracing.backend_span("redis", "GET"):  # the capture itself works
            pass
        names = [s.name for s in exporter.get_finished_spans()]
    assert redis_ready[0] and neo4j_ready[0]
    assert names == ["redis GET"]


# -- tracing off ------------------------------------------------------------------------------------------

OFF = """
import anyio
from mcp import Client
from opentelemetry import trace
from mesh import tracing
from servers.database.settings import DatabaseConnection, DatabaseSettings
from pydantic import SecretStr
from servers.database.server import build_server
from suite.settings import SuiteSettings

async def main():
    connections = {
        "lite": DatabaseConnection(url=SecretStr("sqlite:///" + DB), access="read_write"),
        "pg": DatabaseConnection(url=SecretStr("postgresql://postgres@127.0.0.1:5432/test")),
        "cache": DatabaseConnection(url=SecretStr("redis://127.0.0.1:6379/15")),
    }
    settings = SuiteSettings(data_dir=DATA, database=DatabaseSettings(connections=connections))
    async with Client(build_server(settings), mode="legacy") as client:
        for tool, arguments in [
            ("sql_execute", {"sql": "CREATE TABLE t (id INTEGER)", "connection": "lite"}),
            ("sql_query", {"sql": "SELECT count(*) FROM t", "connection": "lite"}),
            ("sql_query", {"sql": "SELECT 1", "connection": "pg"}),
            ("sql_query", {"sql": "SELECT 'x'::int", "connection": "pg"}),
            ("redis_read", {"command": "GET", "args": ["mcp-off-test-missing"], "connection": "cache"}),
        ]:
            result = await client.call_tool(tool, arguments)
            print(tool, "error" if result.is_error else "ok", result.content[0].text[:80] if result.is_error else "")

anyio.run(main)
assert not tracing.active()
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
assert tracing.backend_span("postgresql", "SELECT", {"db.namespace": "x"}) is tracing.NULL_SPAN
print("off")
"""


def test_with_tracing_off_no_backend_span_is_started_and_no_provider_is_installed(tmp_path: Path) -> None:
    """In a fresh interpreter (a provider, once installed, stays for the process) with no trace destination."""
    code = f"DB = {str(tmp_path / 'off.db')!r}\nDATA = {str(tmp_path / 'data')!r}\n" + UNTOUCHABLE_TRACER + OFF
    done = run_python(code, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "off"
    outcomes = [line.split()[:2] for line in lines[:-1]]
    assert outcomes == [
        ["sql_execute", "ok"],
        ["sql_query", "ok"],
        ["sql_query", "ok"],
        ["sql_query", "error"],  # a failure takes the same untraced path
        ["redis_read", "ok"],
    ], done.stdout
    assert "a span was started" not in done.stdout + done.stderr
