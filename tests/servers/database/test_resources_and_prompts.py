"""Schema resources (compact, cached) and the three prompts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp import Client

from servers.database.server import build_server
from tests.servers.database.support import connection, settings_with


@pytest.mark.anyio
async def test_schema_resources_are_compact_text_and_cached(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items VALUES (1, 'a');"
    )
    conn.close()
    settings = settings_with(tmp_path / "data", shop=connection(f"sqlite:///{path}", "read_write"))
    async with Client(build_server(settings), mode="legacy") as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        schema = (await client.read_resource("db://shop/schema")).contents[0]
        await client.call_tool("sql_execute", {"sql": "CREATE TABLE later (x INTEGER)"})
        cached = (await client.read_resource("db://shop/schema")).contents[0]
        table = (await client.read_resource("db://shop/tables/items")).contents[0]
    assert {"db://{connection}/schema", "db://{connection}/tables/{table}"} <= templates
    text = getattr(schema, "text", "")
    assert "main.items (id* INTEGER, name TEXT not null)  ~1 rows" in text
    assert getattr(cached, "text", "") == text  # within the cache TTL the new table is not yet shown
    assert "main.items" in getattr(table, "text", "")


@pytest.mark.anyio
async def test_prompts_put_the_schema_in_front_of_the_model(tmp_path: Path) -> None:
    settings = settings_with(tmp_path / "data", ws=connection(f"sqlite:///{tmp_path}/w.db", "read_write"))
    async with Client(build_server(settings), mode="legacy") as client:
        await client.call_tool("sql_execute", {"sql": "CREATE TABLE people (id INTEGER PRIMARY KEY, born DATE)"})
        names = {p.name for p in (await client.list_prompts()).prompts}
        query = await client.get_prompt("write_query", {"question": "who was born first?"})
        slow = await client.get_prompt("explain_slow_query", {"sql": "SELECT * FROM people WHERE born > '2000-01-01'"})
        design = await client.get_prompt("design_table", {"description": "addresses of people"})
    assert names == {"write_query", "explain_slow_query", "design_table"}
    assert "who was born first?" in str(query.messages[0].content) and "people" in str(query.messages[0].content)
    assert "SCAN people" in str(slow.messages[0].content)
    assert "CREATE TABLE" in str(design.messages[0].content)
