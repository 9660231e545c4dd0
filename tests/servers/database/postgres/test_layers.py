"""Each read-only layer on its own: the transaction, one statement, the parse check, the timeout, the role."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.connections import NamedConnection
from servers.database.errors import DbError
from servers.database.postgres.engine import PostgresEngine
from servers.database.postgres.statement_guard import check_read
from servers.database.server import build_server
from tests.servers.database.support import PG_URL, connection, data, pg_checksum, refused, settings_with


@pytest.mark.anyio
async def test_the_read_only_transaction_alone_refuses_a_write_that_skipped_the_parse_check(
    pg_schema: str,
) -> None:
    engine = PostgresEngine(NamedConnection("rw", connection(PG_URL, "read_write")), 2)
    before = await pg_checksum(pg_schema, "orders")
    try:
        with pytest.raises(DbError) as error:
            async with engine.reading() as conn:
                await conn.execute(f"DELETE FROM {pg_schema}.orders")
    finally:
        await engine.close()
    assert error.value.code == "read_only" and "25006" in str(error.value)
    assert await pg_checksum(pg_schema, "orders") == before


@pytest.mark.anyio
async def test_a_read_only_connection_opens_sessions_that_default_to_read_only(pg_schema: str) -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL)), 2)
    try:
        pool = await engine.pool()
        async with pool.connection() as conn:
            assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
    finally:
        await engine.close()


def test_the_single_statement_rule_counts_statements_not_semicolons() -> None:
    assert check_read("SELECT ';' AS a, $$;$$ AS b -- ; trailing").kind == "select"
    with pytest.raises(DbError) as refused_error:
        check_read("SELECT 1; SELECT 2")
    assert refused_error.value.code == "refused"


@pytest.mark.parametrize(
    "sql",
    [
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "SELECT * FROM t FOR UPDATE",
        "SELECT * INTO x FROM t",
        "SELECT pg_catalog.set_config('a.b', 'c', false)",
        "SELECT DBLINK('x', 'y')",
        "SELECT (SELECT nextval('s'))",
        "SHOW all; SELECT 1",
    ],
)
def test_the_parse_check_refuses_side_effects_anywhere_in_the_tree(sql: str) -> None:
    with pytest.raises(DbError) as refused_error:
        check_read(sql)
    assert refused_error.value.code == "refused"


@pytest.mark.anyio
async def test_the_statement_timeout_cancels_a_long_query(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, slow=connection(PG_URL, statement_timeout_ms=200))
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": "SELECT pg_sleep(3)"})
        after = await client.call_tool("sql_query", {"sql": "SELECT 1 AS ok"})
    text = refused(result, "timeout")
    assert "57014" in text
    assert data(after)["rows"] == [[1]]


@pytest.mark.anyio
async def test_a_read_only_role_narrows_what_reads_may_see(tmp_path: Path, pg_schema: str) -> None:
    role = f"mcp_reader_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(
        f"CREATE ROLE {role} NOLOGIN; GRANT USAGE ON SCHEMA {pg_schema} TO {role}; "
        f"GRANT SELECT ON {pg_schema}.customers TO {role}"
    )
    try:
        settings = settings_with(tmp_path, ro=connection(PG_URL, read_only_role=role))
        async with Client(build_server(settings), mode="legacy") as client:
            who = data(await client.call_tool("sql_query", {"sql": "SELECT current_user AS who"}))
            allowed = await client.call_tool("sql_query", {"sql": f"SELECT count(*) FROM {pg_schema}.customers"})
            denied = await client.call_tool("sql_query", {"sql": f"SELECT count(*) FROM {pg_schema}.orders"})
        assert who["rows"] == [[role]]
        assert data(allowed)["rows"] == [[30]]
        assert "42501" in refused(denied, "sql_error")
    finally:
        await admin.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
        await admin.close()


@pytest.mark.anyio
async def test_sql_query_on_a_read_write_connection_is_still_read_only(pg_settings: Settings, pg_schema: str) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": f"DELETE FROM {pg_schema}.orders", "connection": "rw"})
    assert "not a read" in refused(result, "refused")
