"""The tool surface over PostgreSQL: listing, introspection, parameters, explain, execute and its preview."""

from __future__ import annotations

from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.server import build_server
from tests.servers.database.support import PG_URL, connection, data, error_text, pg_checksum, refused, settings_with


@pytest.mark.anyio
async def test_a_server_with_only_read_only_connections_lists_no_write_tools(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, a=connection(PG_URL), b=connection(f"sqlite:///{tmp_path}/x.db"))
    async with Client(build_server(settings), mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert "sql_execute" not in names
    assert {"list_connections", "sql_query", "sql_explain", "describe_table", "top_queries", "db_health"} <= names
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools.values())


@pytest.mark.anyio
async def test_list_connections_shows_every_connection_without_its_secret(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, pg=connection("postgresql://app:hunter2secret@db.internal:5432/prod"))
    async with Client(build_server(settings), mode="legacy") as client:
        listing = data(await client.call_tool("list_connections", {}))
    assert listing["connections"][0]["url"] == "postgresql://app:***@db.internal:5432/prod"
    assert "hunter2secret" not in str(listing)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres:s3cr3t-pw@127.0.0.1:1/test", "postgresql://postgres:s3cr3t-pw@127.0.0.1:5432/nosuchdb"],
)
async def test_an_unreachable_database_names_the_connection_but_never_the_password(tmp_path: Path, url: str) -> None:
    settings = settings_with(tmp_path, broken=connection(url))
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": "SELECT 1"})
    text = refused(result, "unavailable")
    assert "'broken'" in text and "s3cr3t-pw" not in text


@pytest.mark.anyio
async def test_an_unknown_connection_is_refused_with_the_known_names(pg_settings: Settings) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": "SELECT 1", "connection": "prod"})
    text = refused(result, "unknown_connection")
    assert "ro" in text and "rw" in text


@pytest.mark.anyio
async def test_list_and_describe_tables_show_keys_indexes_and_estimates(pg_settings: Settings, pg_schema: str) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        schemas = data(await client.call_tool("list_schemas", {}))
        tables = data(await client.call_tool("list_tables", {"schema": pg_schema}))
        orders = data(await client.call_tool("describe_table", {"table": f"{pg_schema}.orders"}))
        missing = await client.call_tool("describe_table", {"table": "nope", "schema": pg_schema})
    assert any(s["name"] == pg_schema and s["tables"] == 3 for s in schemas["schemas"])
    assert [t["name"] for t in tables["tables"]] == ["big", "customers", "orders"]
    assert orders["primary_key"] == ["id"] and orders["comment"] == "one row per order"
    assert orders["foreign_keys"][0]["columns"] == ["customer_id"]
    assert orders["foreign_keys"][0]["references_columns"] == ["id"]
    assert {i["name"] for i in orders["indexes"]} == {"orders_pkey", "orders_customer_idx"}
    amount = next(c for c in orders["columns"] if c["name"] == "amount")
    assert amount["type"] == "numeric(10,2)" and amount["nullable"] is False
    placed = next(c for c in orders["columns"] if c["name"] == "placed")
    assert placed["default"] == "CURRENT_DATE"
    refused(missing, "not_found")


@pytest.mark.anyio
async def test_params_bind_json_values_to_postgres_types(pg_settings: Settings, pg_schema: str) -> None:
    sql = f"SELECT count(*) AS n FROM {pg_schema}.orders WHERE placed >= $1 AND amount > $2 AND customer_id = $3"
    async with Client(build_server(pg_settings), mode="legacy") as client:
        counted = data(await client.call_tool("sql_query", {"sql": sql, "params": ["2024-06-01", "10.5", 3]}))
        wrong = await client.call_tool("sql_query", {"sql": sql, "params": ["not a date", 1, 1]})
        missing = await client.call_tool("sql_query", {"sql": sql, "params": ["2024-06-01"]})
    assert isinstance(counted["rows"][0][0], int)
    assert "$1" in refused(wrong, "bad_parameter")
    assert "pass exactly 3" in refused(missing, "bad_parameter")


@pytest.mark.anyio
async def test_sql_errors_carry_the_sqlstate(pg_settings: Settings) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": "SELECT * FROM no_such_table_here"})
        syntax = await client.call_tool("sql_query", {"sql": "SELEC 1"})
    assert "42P01" in refused(result, "sql_error")
    refused(syntax, "syntax_error")


@pytest.mark.anyio
async def test_sql_explain_plans_and_analyze_is_refused_on_read_only(pg_settings: Settings, pg_schema: str) -> None:
    sql = f"SELECT * FROM {pg_schema}.orders WHERE id = 5"
    async with Client(build_server(pg_settings), mode="legacy") as client:
        plan = data(await client.call_tool("sql_explain", {"sql": sql, "connection": "ro"}))
        analyzed = data(await client.call_tool("sql_explain", {"sql": sql, "connection": "rw", "analyze": True}))
        denied = await client.call_tool("sql_explain", {"sql": sql, "connection": "ro", "analyze": True})
        write_plan = await client.call_tool(
            "sql_explain", {"sql": f"DELETE FROM {pg_schema}.orders", "connection": "ro"}
        )
    assert "orders" in plan["plan"][0] and plan["estimated_rows"] == 1
    assert "actual time" in analyzed["plan"][0]
    refused(denied, "read_only")
    refused(write_plan, "refused")


@pytest.mark.anyio
async def test_explain_analyze_of_a_write_is_rolled_back(pg_settings: Settings, pg_schema: str) -> None:
    before = await pg_checksum(pg_schema, "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = data(
            await client.call_tool(
                "sql_explain", {"sql": f"DELETE FROM {pg_schema}.orders", "connection": "rw", "analyze": True}
            )
        )
    assert result["estimated_rows"] == 300 and "rolled back" in result["notes"][0]
    assert await pg_checksum(pg_schema, "orders") == before


@pytest.mark.anyio
async def test_sql_execute_previews_then_writes_and_reports_rows_affected(
    pg_settings: Settings, pg_schema: str
) -> None:
    before = await pg_checksum(pg_schema, "customers")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        preview = data(
            await client.call_tool(
                "sql_execute",
                {
                    "sql": f"UPDATE {pg_schema}.customers SET country = $1 WHERE id <= 3",
                    "params": ["NL"],
                    "preview": True,
                },
            )
        )
        unchanged = await pg_checksum(pg_schema, "customers")
        inserted = data(
            await client.call_tool(
                "sql_execute",
                {"sql": f"INSERT INTO {pg_schema}.customers VALUES (1001, $1, 'NL') RETURNING id", "params": ["new"]},
            )
        )
        deleted = data(
            await client.call_tool("sql_execute", {"sql": f"DELETE FROM {pg_schema}.customers WHERE id = 1001"})
        )
    assert preview["preview"] and preview["estimate_source"] == "planner" and 1 <= preview["estimated_rows"] <= 10
    assert unchanged == before
    assert inserted["rows_affected"] == 1 and inserted["rows"] == [[1001]]
    assert deleted["rows_affected"] == 1
    assert await pg_checksum(pg_schema, "customers") == before


@pytest.mark.anyio
async def test_a_failed_write_is_rolled_back_and_explained(pg_settings: Settings, pg_schema: str) -> None:
    before = await pg_checksum(pg_schema, "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool(
            "sql_execute", {"sql": f"INSERT INTO {pg_schema}.orders (id, customer_id, amount) VALUES (1, 1, 1)"}
        )
    assert "23505" in error_text(result)
    assert await pg_checksum(pg_schema, "orders") == before


@pytest.mark.anyio
async def test_top_queries_says_how_to_enable_pg_stat_statements_and_db_health_reports(pg_settings: Settings) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        top = data(await client.call_tool("top_queries", {}))
        health = data(await client.call_tool("db_health", {}))
    if not top["available"]:
        assert "shared_preload_libraries" in top["message"] and "CREATE EXTENSION" in top["message"]
    assert health["connections_max"] >= health["connections_used"] >= 1
    assert health["server_version"]


@pytest.mark.anyio
async def test_a_connection_through_postgresqls_unix_socket_answers_and_is_listed_as_configured(tmp_path: Path) -> None:
    admin = await asyncpg.connect(PG_URL)
    try:
        directory = str(await admin.fetchval("SHOW unix_socket_directories")).split(",")[0].strip()
    finally:
        await admin.close()
    url = f"postgresql://postgres@/test?host={directory}"
    async with Client(build_server(settings_with(tmp_path, local=connection(url))), mode="legacy") as client:
        answer = data(await client.call_tool("sql_query", {"sql": "SELECT inet_client_addr() IS NULL AS over_socket"}))
        listing = data(await client.call_tool("list_connections", {}))
    assert answer["rows"] == [[True]]  # no client address: the session came through the socket, not TCP
    assert listing["connections"][0]["url"] == url and listing["connections"][0]["engine"] == "postgres"
