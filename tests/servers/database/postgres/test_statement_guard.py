"""PostgreSQL's refusals name the statement as it was written: CREATE TABLE, DROP INDEX, GRANT, COPY."""

from __future__ import annotations

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.errors import DbError
from servers.database.postgres.statement_guard import check_explain, check_read, check_write
from servers.database.server import build_server
from tests.servers.database.support import pg_checksum, refused

# The statement, and the kind a refusal on a read must name.
REFUSED_ON_A_READ = [
    ("CREATE TABLE t (a int)", "CREATE TABLE"),
    ("CREATE TEMP TABLE t (a int)", "CREATE TABLE"),
    ("CREATE TABLE t AS SELECT 1", "CREATE TABLE AS"),
    ("CREATE MATERIALIZED VIEW m AS SELECT 1", "CREATE MATERIALIZED VIEW"),
    ("CREATE INDEX i ON t (a)", "CREATE INDEX"),
    ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
    ("CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql", "CREATE FUNCTION"),
    ("CREATE ROLE r", "CREATE ROLE"),
    ("CREATE SCHEMA s", "CREATE SCHEMA"),
    ("CREATE TYPE e AS ENUM ('a')", "CREATE TYPE"),
    ("DROP TABLE t", "DROP TABLE"),
    ("DROP INDEX i", "DROP INDEX"),
    ("DROP MATERIALIZED VIEW m", "DROP MATERIALIZED VIEW"),
    ("DROP DATABASE d", "DROP DATABASE"),
    ("ALTER TABLE t ADD COLUMN b int", "ALTER TABLE"),
    ("ALTER TABLE t RENAME TO u", "ALTER TABLE RENAME"),
    ("ALTER TABLE t SET SCHEMA s", "ALTER TABLE SET SCHEMA"),
    ("ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM"),
    ("GRANT SELECT ON t TO PUBLIC", "GRANT"),
    ("REVOKE ALL ON t FROM PUBLIC", "REVOKE"),
    ("COPY t TO '/tmp/x'", "COPY"),
    ("TRUNCATE t", "TRUNCATE"),
    ("VACUUM t", "VACUUM"),
    ("ANALYZE t", "ANALYZE"),
    ("REFRESH MATERIALIZED VIEW m", "REFRESH MATERIALIZED VIEW"),
    ("COMMENT ON TABLE t IS 'x'", "COMMENT"),
    ("INSERT INTO t VALUES (1)", "INSERT"),
    ("UPDATE t SET a = 1", "UPDATE"),
    ("DELETE FROM t", "DELETE"),
    ("MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", "MERGE"),
    ("BEGIN", "BEGIN"),
    ("START TRANSACTION", "START TRANSACTION"),
    ("SET work_mem = '1GB'", "SET"),
    ("RESET work_mem", "RESET"),
    ("DO $$ BEGIN END $$", "DO"),
    ("CALL p()", "CALL"),
    ("LOCK t", "LOCK"),
]


@pytest.mark.parametrize(("sql", "kind"), REFUSED_ON_A_READ, ids=[sql for sql, _ in REFUSED_ON_A_READ])
def test_a_statement_refused_on_a_read_is_named_by_its_kind(sql: str, kind: str) -> None:
    with pytest.raises(DbError) as error:
        check_read(sql)
    assert error.value.code == "refused"
    assert str(error.value).startswith(f"refused: {kind} is not a read"), str(error.value)


def test_a_writable_cte_names_the_data_change_it_hides() -> None:
    with pytest.raises(DbError) as error:
        check_read("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone")
    assert "a data-modifying statement (DELETE) inside the query" in str(error.value)


def test_a_statement_refused_on_read_write_and_in_explain_is_named_by_its_kind() -> None:
    with pytest.raises(DbError) as write:
        check_write("CREATE DATABASE d", "read_write")
    with pytest.raises(DbError) as explain:
        check_explain("DROP TABLE t", True, "read_write")
    assert str(write.value).startswith("refused: CREATE DATABASE is refused on a read_write connection")
    assert str(explain.value).startswith("refused: DROP TABLE cannot be explained")


@pytest.mark.anyio
async def test_sql_query_refuses_create_table_as_create_table_and_creates_nothing(
    pg_settings: Settings, pg_schema: str
) -> None:
    before = await pg_checksum(pg_schema, "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": f"CREATE TABLE {pg_schema}.evil (a int)"})
    assert "refused: CREATE TABLE is not a read" in refused(result, "refused")
    assert await pg_checksum(pg_schema, "orders") == before
