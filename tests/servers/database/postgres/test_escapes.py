"""Write-escape attempts against read-only PostgreSQL access: each is refused and the data stays the same."""

from __future__ import annotations

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.server import build_server
from tests.servers.database.support import error_text, pg_checksum

ESCAPES = [
    "COMMIT; DROP TABLE {s}.orders",
    "SELECT 1; DROP TABLE {s}.orders",
    "; DROP TABLE {s}.orders",
    "DROP TABLE {s}.orders",
    "DELETE FROM {s}.orders",
    "UPDATE {s}.customers SET name = 'x'",
    "INSERT INTO {s}.customers VALUES (999, 'x', 'FR')",
    "WITH d AS (DELETE FROM {s}.orders RETURNING *) SELECT count(*) FROM d",
    "WITH u AS (UPDATE {s}.customers SET name = 'x' RETURNING id) SELECT * FROM u",
    "WITH i AS (INSERT INTO {s}.customers VALUES (998, 'y', 'US') RETURNING *) SELECT 1",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT pg_catalog.pg_cancel_backend(1)",
    "COPY {s}.orders TO PROGRAM 'cat > /dev/null'",
    "COPY (SELECT 1) TO '/tmp/mcp_escape.txt'",
    "SET TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "RESET ALL",
    "BEGIN READ WRITE",
    "DO $$ BEGIN DELETE FROM {s}.orders; END $$",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT nextval('{s}.counter')",
    "SELECT setval('{s}.counter', 100)",
    "SELECT * FROM {s}.orders FOR UPDATE",
    "SELECT * FROM {s}.customers c WHERE id IN (SELECT id FROM {s}.customers FOR SHARE)",
    "SELECT * INTO {s}.stolen FROM {s}.customers",
    "CREATE TABLE {s}.evil AS SELECT 1 AS x",
    "SELECT 1 /* ; */; DROP TABLE {s}.orders",
    "SELECT 1 -- harmless\n; DELETE FROM {s}.orders",
    "SELECT $$;$$; DELETE FROM {s}.orders",
    "SELECT $tag$ '; $tag$; DELETE FROM {s}.orders",
    "SELECT E'\\''; DELETE FROM {s}.orders; --'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT lo_import('/etc/hostname')",
    "SELECT lo_export(1, '/tmp/mcp_escape_lo')",
    "SELECT pg_advisory_lock(42)",
    "SELECT dblink_exec('dbname=test', 'DROP TABLE {s}.orders')",
    "SELECT query_to_xml('DELETE FROM {s}.orders RETURNING 1', true, false, '')",
    "SELECT pg_reload_conf()",
    "CALL {s}.no_such_procedure()",
    "LISTEN mcp_channel",
    "NOTIFY mcp_channel, 'hi'",
    "PREPARE p AS DELETE FROM {s}.orders",
    "EXECUTE p",
    "EXPLAIN ANALYZE DELETE FROM {s}.orders",
    "EXPLAIN ANALYZE SELECT * FROM {s}.orders",
    "TRUNCATE {s}.orders",
    "VACUUM {s}.orders",
    "LOCK TABLE {s}.orders",
    "ALTER SYSTEM SET work_mem = '1GB'",
    "GRANT ALL ON {s}.orders TO PUBLIC",
    "SELECT 1\uff1b DROP TABLE {s}.orders",  # a fullwidth semicolon
    "SELECT 1\u200b; DROP TABLE {s}.orders",  # a zero-width space
    'DELETE FROM {s}.U&"orde\\0072s"',  # a unicode-escaped identifier
    "select 1; COMMIT; drop table {s}.orders",
    "SELECT * FROM {s}.orders;\n\n; DELETE FROM {s}.orders",
]


@pytest.mark.anyio
@pytest.mark.parametrize("connection", ["ro", "rw"])
@pytest.mark.parametrize("attempt", ESCAPES, ids=[f"escape-{i:02d}" for i in range(len(ESCAPES))])
async def test_sql_query_refuses_a_write_escape_and_the_data_is_unchanged(
    pg_settings: Settings, pg_schema: str, connection: str, attempt: str
) -> None:
    before = await pg_checksum(pg_schema, "customers", "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": attempt.format(s=pg_schema), "connection": connection})
        sequence = await client.call_tool("sql_query", {"sql": "SELECT 1 AS alive", "connection": connection})
    text = error_text(result)
    assert "Traceback" not in text
    assert not sequence.is_error
    assert await pg_checksum(pg_schema, "customers", "orders") == before


def test_the_escape_corpus_holds_at_least_thirty_attempts() -> None:
    assert len(ESCAPES) >= 30


@pytest.mark.anyio
async def test_sql_execute_is_refused_on_a_read_only_connection_with_a_pointer_to_a_writable_one(
    pg_settings: Settings, pg_schema: str
) -> None:
    before = await pg_checksum(pg_schema, "customers", "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_execute", {"sql": f"DELETE FROM {pg_schema}.orders", "connection": "ro"})
    text = error_text(result)
    assert "read_only:" in text and "'ro' is read_only" in text and "rw" in text
    assert await pg_checksum(pg_schema, "customers", "orders") == before


@pytest.mark.anyio
@pytest.mark.parametrize(
    "statement",
    [
        "COPY {s}.orders TO PROGRAM 'true'",
        "DO $$ BEGIN NULL; END $$",
        "ALTER SYSTEM SET work_mem = '1GB'",
        "SELECT pg_terminate_backend(1)",
        "BEGIN",
        "COMMIT",
        "DELETE FROM {s}.orders; DELETE FROM {s}.customers",
    ],
)
async def test_sql_execute_on_read_write_refuses_server_level_statements(
    pg_settings: Settings, pg_schema: str, statement: str
) -> None:
    before = await pg_checksum(pg_schema, "customers", "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_execute", {"sql": statement.format(s=pg_schema), "connection": "rw"})
    assert "refused:" in error_text(result)
    assert await pg_checksum(pg_schema, "customers", "orders") == before
