"""SQLite's refusals on a read name the statement that was sent, not the first write SQLite saw."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp import Client

from servers.database.server import build_server
from servers.database.sqlite.statement_guard import statement_kind
from tests.servers.database.support import connection, refused, settings_with

# The statement, and the kind the refusal must name.
REFUSED_ON_A_READ = [
    ("CREATE TABLE evil (x)", "CREATE TABLE"),
    ("create temp table evil (x)", "CREATE TEMP TABLE"),
    ("CREATE UNIQUE INDEX evil ON items (name)", "CREATE UNIQUE INDEX"),
    ("CREATE VIEW evil AS SELECT 1", "CREATE VIEW"),
    ("CREATE VIRTUAL TABLE evil USING fts5(x)", "CREATE VIRTUAL TABLE"),
    ("DROP TABLE items", "DROP TABLE"),
    ("DROP INDEX items_name", "DROP INDEX"),
    ("DROP VIEW names", "DROP VIEW"),
    ("ALTER TABLE items ADD COLUMN extra TEXT", "ALTER TABLE"),
    ("ANALYZE", "ANALYZE"),
    ("-- a comment first\nCREATE TABLE evil (x)", "CREATE TABLE"),
    ("INSERT INTO items (name) VALUES ('x')", "INSERT"),
    ("UPDATE items SET name = 'x'", "UPDATE"),
    ("DELETE FROM items", "DELETE"),
]


@pytest.fixture
def lite(tmp_path: Path) -> Path:
    path = tmp_path / "lite.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX items_name ON items (name);"
        "CREATE VIEW names AS SELECT name FROM items; INSERT INTO items (name) VALUES ('a'), ('b');"
    )
    conn.commit()
    conn.close()
    return path


def _schema_and_rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [
            *conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"),
            *conn.execute("SELECT * FROM items"),
        ]
    finally:
        conn.close()


@pytest.mark.anyio
@pytest.mark.parametrize(("sql", "kind"), REFUSED_ON_A_READ, ids=[kind for _, kind in REFUSED_ON_A_READ])
async def test_sql_query_on_sqlite_names_the_kind_of_statement_it_refused(
    tmp_path: Path, lite: Path, sql: str, kind: str
) -> None:
    settings = settings_with(tmp_path / "data", ro=connection(f"sqlite:///{lite}"))
    before = _schema_and_rows(lite)
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("sql_query", {"sql": sql})
    assert f"refused: {kind} is not a read" in refused(result, "refused")
    assert _schema_and_rows(lite) == before


def test_a_statement_that_is_no_schema_change_has_no_schema_kind() -> None:
    assert statement_kind("SELECT 1") is None
    assert statement_kind("/* CREATE TABLE */ SELECT 1") is None
    assert statement_kind("  drop   trigger t") == "DROP TRIGGER"
