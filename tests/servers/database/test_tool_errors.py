"""The database server's tool errors start with their stable code, on the fast path and the SDK's."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.database.server import DEFINITION
from servers.database.sqlite.engine import SqliteEngine
from servers.runtime.serve import build_http_app
from tests.servers.database.support import connection, settings_with
from tests.support.tool_results import text_of
from tests.support.upstreams import serve_app

FAILURES = [
    ("sql_query", {"sql": "CREATE TABLE evil (x)"}, "refused: CREATE TABLE is not a read"),
    ("sql_query", {"sql": "SELECT * FROM missing"}, "sql_error: "),
    ("sql_query", {"sql": "SELECT 1", "connection": "nope"}, "unknown_connection: "),
    ("sql_query", {"sql": "SELECT 1", "limit": -1}, "invalid_arguments: limit: "),
    ("sql_query", {}, "invalid_arguments: sql: Field required"),
    ("no_such_tool", {}, "unknown_tool: "),
]


@asynccontextmanager
async def client_of(tmp_path: Path, mode: str) -> AsyncIterator[Client]:
    """A client of the database server served by the runtime over HTTP, on a read-only SQLite file."""
    sqlite3.connect(tmp_path / "lite.db").close()
    settings = settings_with(tmp_path / "data", lite=connection(f"sqlite:///{tmp_path}/lite.db"))
    app = build_http_app(DEFINITION, DEFINITION.build(settings), settings)
    async with serve_app(app) as base, Client(f"{base}/mcp", mode=mode) as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])  # auto: stateless 2026-07-28, the runtime's fast path
async def test_every_failure_over_http_starts_with_its_code(tmp_path: Path, mode: str) -> None:
    async with client_of(tmp_path, mode) as client:
        results = [await client.call_tool(tool, arguments) for tool, arguments, _ in FAILURES]
    for (tool, _, start), result in zip(FAILURES, results, strict=True):
        assert result.is_error and text_of(result).startswith(start), (tool, text_of(result))


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_crash_in_the_engine_is_an_internal_error_without_its_text(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection string sqlite:///secret.db password=hunter2")

    monkeypatch.setattr(SqliteEngine, "query", broken)
    async with client_of(tmp_path, mode) as client:
        result = await client.call_tool("sql_query", {"sql": "SELECT 1"})
    text = text_of(result)
    assert result.is_error and text.startswith("internal_error: the tool `sql_query` failed unexpectedly"), text
    assert "hunter2" not in text and "Traceback" not in text
