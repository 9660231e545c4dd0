"""SQLite connections: the embedded workspace, write escapes against read access, paging, the deadline."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.server import build_server
from suite.settings import SuiteSettings
from tests.servers.database.support import connection, data, error_text, refused, settings_with


def _make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL DEFAULT 0);
        CREATE TABLE tags (item_id INTEGER REFERENCES items(id), tag TEXT);
        CREATE INDEX tags_item ON tags (item_id);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
        INSERT INTO items SELECT i, 'item ' || i, i * 1.5 FROM n;
        INSERT INTO tags SELECT id, 'even' FROM items WHERE id % 2 = 0;
        """
    )
    conn.commit()
    conn.close()
    return path


def _checksum(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    return hashlib.sha256(dump.encode()).hexdigest()


@pytest.fixture
def lite(tmp_path: Path) -> Path:
    return _make_db(tmp_path / "lite.db")


@pytest.fixture
def lite_settings(tmp_path: Path, lite: Path) -> Settings:
    return settings_with(
        tmp_path / "data", ro=connection(f"sqlite:///{lite}"), rw=connection(f"sqlite:///{lite}", "read_write")
    )


SQLITE_ESCAPES = [
    "DELETE FROM items",
    "DROP TABLE items",
    "UPDATE items SET name = 'x'",
    "INSERT INTO items (name) VALUES ('x')",
    "SELECT 1; DELETE FROM items",
    "COMMIT; DROP TABLE items",
    "; DROP TABLE items",
    "SELECT 1 /* ; */; DROP TABLE items",
    "SELECT 1 -- c\n; DELETE FROM items",
    "SELECT ';'; DELETE FROM items",
    "ATTACH DATABASE '/tmp/mcp_attach_escape.db' AS evil",
    "DETACH DATABASE main",
    "PRAGMA query_only = OFF",
    "PRAGMA user_version = 42",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = ON",
    "VACUUM",
    "VACUUM INTO '/tmp/mcp_vacuum_escape.db'",
    "REINDEX",
    "ANALYZE",
    "BEGIN",
    "SAVEPOINT s",
    "CREATE TABLE evil (x)",
    "CREATE TEMP TABLE evil (x)",
    "CREATE TRIGGER t AFTER INSERT ON items BEGIN DELETE FROM items; END",
    "WITH x AS (SELECT 1) DELETE FROM items",
    "SELECT load_extension('/tmp/evil.so')",
    "INSERT INTO items SELECT * FROM items",
    "REPLACE INTO items VALUES (1, 'x', 0)",
    "ALTER TABLE items RENAME TO gone",
    "SELECT 1\uff1b DELETE FROM items",
]


@pytest.mark.anyio
@pytest.mark.parametrize("target", ["ro", "rw"])
@pytest.mark.parametrize("attempt", SQLITE_ESCAPES, ids=[f"sqlite-escape-{i:02d}" for i in range(len(SQLITE_ESCAPES))])
async def test_sql_query_on_sqlite_refuses_a_write_escape_and_the_file_is_unchanged(
    lite_settings: Settings, lite: Path, target: str, attempt: str
) -> None:
    before = _checksum(lite)
    async with Client(build_server(lite_settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": attempt, "connection": target})
        alive = await client.call_tool("sql_query", {"sql": "SELECT count(*) FROM items", "connection": target})
    assert "Traceback" not in error_text(result)
    assert data(alive)["rows"] == [[1000]]
    assert _checksum(lite) == before
    assert not Path("/tmp/mcp_attach_escape.db").exists() and not Path("/tmp/mcp_vacuum_escape.db").exists()


@pytest.mark.anyio
async def test_with_no_connection_configured_the_workspace_is_a_read_write_sqlite_database() -> None:
    settings = SuiteSettings()
    async with Client(build_server(settings), mode="legacy") as client:
        listing = data(await client.call_tool("list_connections", {}))
        created = data(
            await client.call_tool("sql_execute", {"sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"})
        )
        inserted = data(
            await client.call_tool(
                "sql_execute", {"sql": "INSERT INTO notes (body) VALUES (?), (?)", "params": ["a", "b"]}
            )
        )
        rows = data(await client.call_tool("sql_query", {"sql": "SELECT body FROM notes ORDER BY id"}))
    assert listing["connections"][0]["name"] == "workspace" and listing["connections"][0]["access"] == "read_write"
    assert created["statement_kind"] == "CREATE" and inserted["rows_affected"] == 2
    assert rows["rows"] == [["a"], ["b"]]
    assert (settings.data_dir / "database" / "workspace.db").is_file()


@pytest.mark.anyio
async def test_sqlite_pages_continue_exactly_where_the_last_stopped(lite_settings: Settings) -> None:
    sql = "SELECT id FROM items ORDER BY id DESC"
    async with Client(build_server(lite_settings), mode="legacy") as client:
        first = data(await client.call_tool("sql_query", {"sql": sql, "limit": 300}))
        second = data(await client.call_tool("sql_query", {"sql": sql, "limit": 300, "cursor": first["next_cursor"]}))
    assert [r[0] for r in first["rows"]] == list(range(1000, 700, -1))
    assert [r[0] for r in second["rows"]] == list(range(700, 400, -1))


@pytest.mark.anyio
async def test_a_runaway_sqlite_query_is_stopped_at_the_deadline(tmp_path: Path, lite: Path) -> None:
    settings = settings_with(tmp_path / "data", slow=connection(f"sqlite:///{lite}", statement_timeout_ms=200))
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": sql})
    refused(result, "timeout")


@pytest.mark.anyio
async def test_sqlite_writes_preview_then_commit(lite_settings: Settings, lite: Path) -> None:
    before = _checksum(lite)
    async with Client(build_server(lite_settings), mode="legacy") as client:
        preview = data(
            await client.call_tool(
                "sql_execute", {"sql": "DELETE FROM tags WHERE item_id <= ?", "params": [10], "preview": True}
            )
        )
        unchanged = _checksum(lite)
        done = data(
            await client.call_tool("sql_execute", {"sql": "DELETE FROM tags WHERE item_id <= ?", "params": [10]})
        )
        attach = await client.call_tool("sql_execute", {"sql": "ATTACH DATABASE ':memory:' AS x"})
        ro = await client.call_tool("sql_execute", {"sql": "DELETE FROM tags", "connection": "ro"})
    assert preview["estimated_rows"] == 5 and preview["estimate_source"] == "dry_run_rolled_back"
    assert unchanged == before
    assert done["rows_affected"] == 5
    refused(attach, "refused")
    refused(ro, "read_only")


@pytest.mark.anyio
async def test_sqlite_introspection_and_plans(lite_settings: Settings) -> None:
    async with Client(build_server(lite_settings), mode="legacy") as client:
        tables = data(await client.call_tool("list_tables", {}))
        tags = data(await client.call_tool("describe_table", {"table": "tags"}))
        items = data(await client.call_tool("describe_table", {"table": "items"}))
        plan = data(await client.call_tool("sql_explain", {"sql": "SELECT * FROM tags WHERE item_id = 3"}))
        pragma = data(await client.call_tool("sql_query", {"sql": "PRAGMA table_info(items)"}))
    assert [t["name"] for t in tables["tables"]] == ["items", "tags"]
    assert tags["foreign_keys"][0]["references_table"] == "items" and tags["indexes"][0]["name"] == "tags_item"
    assert items["primary_key"] == ["id"] and items["row_estimate"] == 1000
    assert any("tags_item" in line for line in plan["plan"])
    assert pragma["row_count"] == 3
