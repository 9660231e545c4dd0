"""Servers over stdio answer alike with the stdio fast path on and off, in both protocol eras.

``mcp-suite serve database``: a real server process on PostgreSQL, driven by the official SDK client
over stdio in both protocol modes (``auto`` speaks the 2026-07-28 wire, ``legacy`` the 2025-11-25
handshake; ``sql_query`` takes the fast path in both), once with ``MCP_SUITE_FAST_PATH`` on (the
default) and once off. The filesystem server, whose tools take a ``Context``: the same lines through
the runtime's stdio transport and the SDK's give the same bytes, the fast path answering every call
of a client that declared no roots.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.server import MCPServer

from servers.filesystem.server import build_server as build_filesystem
from servers.filesystem.settings import FilesystemRoot
from servers.runtime.protocol_features import add_protocol_features
from suite.settings import SuiteSettings
from tests.servers.database.support import PG_URL
from tests.servers.runtime.stdio_support import INITIALIZED, META, OPENING, call, parity, spy_fast_calls

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


# -- the filesystem server: tools that take a Context -------------------------------------------------


@pytest.fixture
def fs_root(tmp_path: Path) -> Path:
    """A small allowed directory whose access times no read changes (so two runs stat alike)."""
    base = tmp_path / "root"
    (base / "docs").mkdir(parents=True)
    (base / "notes.txt").write_text("alpha\nbeta\ngamma\n", encoding="utf-8")
    (base / "docs" / "guide.md").write_text("# Guide\n\nUse the tools.\n", encoding="utf-8")
    now = time.time()
    for path in (base / "notes.txt", base / "docs" / "guide.md", base / "docs", base):
        os.utime(path, (now + 3600, now - 3600))
    return base


def fs_builder(fs_root: Path, data_dir: Path) -> Callable[[], MCPServer[Any]]:
    """A fresh filesystem server on ``fs_root``, with what an earlier run wrote removed first."""

    def build() -> MCPServer[Any]:
        (fs_root / "new.txt").unlink(missing_ok=True)
        settings = SuiteSettings(data_dir=data_dir, filesystem={"roots": (FilesystemRoot(path=fs_root, mode="rw"),)})
        server = build_filesystem(settings)
        add_protocol_features(server)
        return server

    return build


def fs_calls(call: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        call("read_text_file", {"path": "notes.txt", "head": 2}, request_id=10),
        call("get_file_info", {"path": "docs/guide.md"}, request_id=11),
        call("list_directory", {"path": "."}, request_id=12),
        call("read_text_file", {"path": "../outside.txt"}, request_id=13),
        call("write_file", {"path": "new.txt", "content": "written\n"}, request_id=14),
        call("read_text_file", {"path": "nope.txt"}, request_id=15),
    ]


def handshake_tool_call(tool: str, arguments: dict[str, Any], *, request_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }


def initialize(capabilities: dict[str, Any]) -> dict[str, Any]:
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities,
        "clientInfo": {"name": "t", "version": "1"},
    }
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


async def test_filesystem_tools_answer_alike_over_stdio_with_and_without_the_fast_path_in_the_handshake_era(
    fs_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = spy_fast_calls(monkeypatch)
    messages = [initialize({}), INITIALIZED, *fs_calls(handshake_tool_call)]
    lines = await parity(messages, 7, await_opening=True, build=fs_builder(fs_root, tmp_path / "data"))
    answers = {json.loads(line)["id"]: json.loads(line)["result"] for line in lines}
    assert answers[10]["structuredContent"]["content"] == "alpha\nbeta\n"
    assert answers[13]["isError"] is True and answers[13]["content"][0]["text"].startswith("outside_roots:")
    assert answers[14]["isError"] is False and (fs_root / "new.txt").read_text() == "written\n"
    assert sorted(fast) == sorted(["read_text_file", "get_file_info", "list_directory", "read_text_file",
                                   "write_file", "read_text_file"])  # fmt: skip


async def test_filesystem_tools_answer_alike_over_stdio_with_and_without_the_fast_path_in_the_modern_era(
    fs_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = spy_fast_calls(monkeypatch)
    messages = [OPENING, *fs_calls(call)]
    lines = await parity(messages, 7, await_opening=True, build=fs_builder(fs_root, tmp_path / "data"))
    answers = {json.loads(line)["id"]: json.loads(line)["result"] for line in lines}
    assert answers[11]["structuredContent"]["line_count"] == 3
    assert answers[15]["content"][0]["text"].startswith("not_found:")
    assert len(fast) == 6


async def test_a_filesystem_client_that_declared_roots_is_served_by_the_sdk(
    fs_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = spy_fast_calls(monkeypatch)
    modern_roots = {**META, "io.modelcontextprotocol/clientCapabilities": {"roots": {}}}
    messages = [OPENING, call("read_text_file", {"path": "notes.txt"}, request_id=10, **modern_roots)]
    lines = await parity(messages, 2, await_opening=True, build=fs_builder(fs_root, tmp_path / "data"))
    asked = json.loads(next(line for line in lines if json.loads(line)["id"] == 10))["result"]
    assert asked["resultType"] == "input_required"  # the roots round trip: only the SDK's session can seal it
    assert fast == []


def fs_params(root: Path, fast_path: bool) -> StdioServerParameters:
    words = ["-m", "suite.cli", "serve", "filesystem", str(root)]
    return StdioServerParameters(command=sys.executable, args=words, env=server_env(fast_path))


async def fs_session_answers(root: Path, mode: str, fast_path: bool) -> list[Any]:
    """What one SDK client session of the filesystem server sees: reads, a stat, a refusal, a write."""
    (root / "new.txt").unlink(missing_ok=True)
    async with Client(fs_params(root, fast_path), mode=mode) as client:  # type: ignore[arg-type]
        answers: list[Any] = []
        for tool, arguments in (
            ("read_text_file", {"path": "notes.txt", "tail": 1}),
            ("get_file_info", {"path": "docs/guide.md"}),
            ("read_text_file", {"path": "../outside.txt"}),
            ("write_file", {"path": "new.txt", "content": "written\n"}),
        ):
            result = await client.call_tool(tool, arguments)
            answers.append(
                (result.is_error, result.structured_content, [getattr(b, "text", None) for b in result.content])
            )
    return answers


@pytest.mark.parametrize("mode", MODES)
async def test_the_sdk_client_gets_the_same_filesystem_answers_with_the_stdio_fast_path_on_and_off(
    fs_root: Path, mode: str
) -> None:
    on = await fs_session_answers(fs_root, mode, fast_path=True)
    off = await fs_session_answers(fs_root, mode, fast_path=False)
    assert on == off
    assert on[0][1]["content"] == "gamma\n" and on[2][0] is True and on[3][0] is False
