"""``mcp-suite serve database`` over stdio answers the SDK client alike with the stdio fast path on and off.

A real server process on PostgreSQL, driven by the official SDK client over stdio in both protocol
modes (``auto`` speaks the 2026-07-28 wire, where ``sql_query`` takes the fast path; ``legacy`` the
2025-11-25 handshake), once with ``MCP_SUITE_FAST_PATH`` on (the default) and once off.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.servers.database.support import PG_URL

pytestmark = pytest.mark.anyio

MODES = ("auto", "legacy")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def schema() -> AsyncIterator[str]:
    name = f"stdio_fp_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(
            f"CREATE SCHEMA {name}; CREATE TABLE {name}.kv (id integer PRIMARY KEY, name text NOT NULL);"
            f"INSERT INTO {name}.kv SELECT g, 'name ' || g FROM generate_series(1, 100) g;"
        )
        yield name
    finally:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await conn.close()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("stdio-fast-path")
    path = directory / "suite.yaml"
    database = {"connections": {"main": {"url": PG_URL, "access": "read_only"}}}
    path.write_text(yaml.safe_dump({"data_dir": str(directory / "data"), "log_level": "info", "database": database}))
    yield path


def server_env(fast_path: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MCP_SUITE_")}
    env["MCP_SUITE_FAST_PATH"] = "true" if fast_path else "false"
    return env


def params(config: Path, fast_path: bool) -> StdioServerParameters:
    words = ["-m", "suite.cli", "serve", "database", "--config", str(config)]
    return StdioServerParameters(command=sys.executable, args=words, env=server_env(fast_path))


async def session_answers(config: Path, schema: str, mode: str, fast_path: bool) -> list[Any]:
    """What one client session sees: the tool names, a lookup, a refused write, a bad query."""
    lookup = {"sql": f"SELECT id, name FROM {schema}.kv WHERE id = $1", "params": [42]}
    async with Client(params(config, fast_path), mode=mode) as client:  # type: ignore[arg-type]
        tools = sorted(tool.name for tool in (await client.list_tools()).tools)
        answers: list[Any] = [tools]
        for arguments in (lookup, {"sql": f"DELETE FROM {schema}.kv"}, {"sql": "SELEC nothing"}):
            result = await client.call_tool("sql_query", arguments)
            texts = [getattr(block, "text", None) for block in result.content]
            answers.append((result.is_error, timeless(result.structured_content), [timeless(t) for t in texts]))
    return answers


def timeless(value: Any) -> Any:
    """A result without its ``elapsed_ms`` (the one field two runs of one query differ in); text parsed if JSON."""
    if isinstance(value, str) and value.startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key != "elapsed_ms"}
    return value


@pytest.mark.parametrize("mode", MODES)
async def test_the_sdk_client_gets_the_same_answers_with_the_stdio_fast_path_on_and_off(
    config: Path, schema: str, mode: str
) -> None:
    on = await session_answers(config, schema, mode, fast_path=True)
    off = await session_answers(config, schema, mode, fast_path=False)
    assert on == off
    lookup = on[1]
    assert lookup[0] is False and lookup[1]["rows"] == [[42, "name 42"]]
    assert on[2][0] is True and on[3][0] is True  # the write refused, the bad query refused


def test_a_served_process_picks_the_runtime_transport_on_pipes_and_keeps_stdout_to_protocol(
    config: Path, schema: str
) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    lookup = {"sql": f"SELECT name FROM {schema}.kv WHERE id = $1", "params": [7]}
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "sql_query", "arguments": lookup, "_meta": meta},
        },
    ]
    words = [sys.executable, "-m", "suite.cli", "serve", "database", "--config", str(config)]
    stdin = "".join(json.dumps(line) + "\n" for line in lines)
    done = subprocess.run(words, input=stdin, capture_output=True, text=True, env=server_env(True), timeout=120)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]  # every stdout line is one JSON-RPC message
    assert [answer["id"] for answer in sorted(answers, key=lambda answer: answer["id"])] == [1, 2]
    found = next(answer for answer in answers if answer["id"] == 2)
    assert found["result"]["structuredContent"]["rows"] == [["name 7"]]
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any(entry.get("msg") == "serving over stdio" and entry.get("transport") == "runtime" for entry in logged)
