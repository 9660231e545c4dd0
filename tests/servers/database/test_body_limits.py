"""One HTTP request to the database server carries at most ``database.max_request_bytes``; over it, nothing runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from mcp import Client
from pydantic import SecretStr, ValidationError

from servers.database.server import DEFINITION
from servers.database.settings import DatabaseConnection, DatabaseSettings
from servers.runtime.serve import build_http_app
from suite.settings import SuiteSettings
from tests.servers.database.support import data
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def limited(tmp_path: Path) -> SuiteSettings:
    lite = DatabaseConnection(url=SecretStr(f"sqlite:///{tmp_path}/l.db"), access="read_write")
    return SuiteSettings(
        data_dir=tmp_path, database=DatabaseSettings(connections={"lite": lite}, max_request_bytes=LIMIT)
    )


def rows(tmp_path: Path) -> list[int]:
    with sqlite3.connect(tmp_path / "l.db") as db:
        return [length for (length,) in db.execute("SELECT length(v) FROM t")]


async def test_a_body_over_max_request_bytes_is_refused_naming_it_and_runs_nothing(tmp_path: Path) -> None:
    settings = limited(tmp_path)
    insert = {"sql": "INSERT INTO t (v) VALUES (?)", "connection": "lite"}
    async with serve_app(build_http_app(DEFINITION, DEFINITION.build(settings), settings)) as base:
        async with Client(f"{base}/mcp") as client:
            data(await client.call_tool("sql_execute", {"sql": "CREATE TABLE t (v TEXT)", "connection": "lite"}))
            data(await client.call_tool("sql_execute", {**insert, "params": ["a" * (LIMIT // 2)]}))
        params = {"name": "sql_execute", "arguments": {**insert, "params": ["b" * LIMIT]}}
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{base}/mcp", json=request, headers=HEADERS)
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert message.startswith("too_large: ")
    assert f"{LIMIT} bytes" in message and "raise database.max_request_bytes" in message
    assert rows(tmp_path) == [LIMIT // 2]


def test_the_body_limit_follows_the_setting_and_refuses_a_limit_too_small_for_a_statement() -> None:
    assert DEFINITION.body_limit(SuiteSettings(database={"max_request_bytes": LIMIT})).max_bytes == LIMIT
    assert DEFINITION.body_limit(SuiteSettings()).max_bytes == 4 * 1024 * 1024
    with pytest.raises(ValidationError, match="max_request_bytes"):
        DatabaseSettings(max_request_bytes=1000)
