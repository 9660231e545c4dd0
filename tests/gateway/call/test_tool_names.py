"""Through the gateway, prompts and tool errors name tools as the client sees them, and nothing else changes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client

from gateway.call.tool_names import ToolNames
from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from servers.database.server import build_server
from tests.servers.database.support import connection, settings_with
from tests.support.tool_results import text_of
from tests.support.upstreams import serve_app, serve_http

NAMES = ToolNames({"sql_query": "database_sql_query", "sql_explain": "database_sql_explain", "grep": "files_grep"})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("run it with the `sql_query` tool", "run it with the `database_sql_query` tool"),
        ("call `sql_explain`, then `sql_query`.", "call `database_sql_explain`, then `database_sql_query`."),
        ("use `grep`, then grep the output", "use `files_grep`, then grep the output"),
    ],
)
def test_a_marked_tool_name_becomes_the_name_the_client_calls(text: str, shown: str) -> None:
    assert NAMES.text(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "no such column: sql_query",
        "table 'sql_query', column \"sql_explain\", file notes/sql_query.txt",
        "`sql_query_log` and `public.sql_query` are not tools of this server",
        "grep is a word, not a tool call",
    ],
)
def test_a_text_that_merely_contains_a_tool_name_is_left_as_it_is(text: str) -> None:
    assert NAMES.text(text) == text


def test_only_an_error_result_is_rewritten_never_a_results_data() -> None:
    ok = {"content": [{"type": "text", "text": "`sql_query`"}], "structuredContent": {"rows": [["`sql_query`"]]}}
    error = {"content": [{"type": "text", "text": "use `sql_explain`"}], "isError": True}
    assert NAMES.error_result(ok) == ok
    assert NAMES.error_result(error)["content"] == [{"type": "text", "text": "use `database_sql_explain`"}]


@asynccontextmanager
async def gateway_over_the_database(tmp_path: Path) -> AsyncIterator[str]:
    """The real database server (one SQLite connection with a table named like a tool) behind the HTTP gateway."""
    path = tmp_path / "lite.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sql_query (id INTEGER PRIMARY KEY, sql_explain TEXT)")
    settings = settings_with(tmp_path / "data", lite=connection(f"sqlite:///{path}"))
    async with serve_http(build_server(settings)) as upstream:
        registry = StaticRegistry({"database": (StaticInstance(url=upstream),)})
        app, _ = build_gateway_app(GatewaySettings(), registry)
        async with serve_app(app) as base:
            yield base


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_prompt_through_the_gateway_names_the_prefixed_tools_and_keeps_the_schema(
    tmp_path: Path, mode: str
) -> None:
    async with gateway_over_the_database(tmp_path) as base:
        async with Client(f"{base}/mcp", mode=mode) as client:
            prefixed = text_of_prompt(await client.get_prompt("database_write_query", {"question": "how many?"}))
        async with Client(f"{base}/servers/database/mcp", mode=mode) as client:
            plain = text_of_prompt(await client.get_prompt("write_query", {"question": "how many?"}))
    assert "Run it with the `database_sql_query` tool" in prefixed
    assert "Run it with the `sql_query` tool" in plain
    # The schema in the prompt is data: the table and the column named like tools keep their names.
    schema = plain.split("Schema of connection")[1].split("Rules:")[0]
    assert "sql_query" in schema and schema in prefixed


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])  # auto: the gateway's fast lane
async def test_a_tool_error_through_the_gateway_names_the_tool_the_client_can_call(tmp_path: Path, mode: str) -> None:
    sql = {"sql": "SELECT 1", "analyze": True}  # refused on a read_only connection, naming `sql_explain`
    async with gateway_over_the_database(tmp_path) as base:
        async with Client(f"{base}/mcp", mode=mode) as client:
            prefixed = await client.call_tool("database_sql_explain", sql)
            rows = await client.call_tool("database_sql_query", {"sql": "SELECT 'use `sql_explain`' AS sql_query"})
        async with Client(f"{base}/servers/database/mcp", mode=mode) as client:
            plain = await client.call_tool("sql_explain", sql)
    assert prefixed.is_error and plain.is_error
    assert text_of(prefixed) == text_of(plain).replace("`sql_explain`", "`database_sql_explain`")
    assert "`database_sql_explain`" in text_of(prefixed) and "database_" not in text_of(plain)
    assert rows.structured_content is not None and rows.structured_content["rows"] == [["use `sql_explain`"]]
    assert "database_" not in text_of(rows)


def text_of_prompt(result: object) -> str:
    messages = getattr(result, "messages", [])
    return "\n".join(getattr(message.content, "text", "") for message in messages)
