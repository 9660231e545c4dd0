"""What one request may carry follows ``max_write_bytes`` on every transport, and a refusal writes nothing.

Over HTTP the body limit is derived from ``max_write_bytes`` (JSON escaping included), so a write the
tool takes is never refused on its way in; a larger body gets the JSON-RPC ``too_large`` error naming
the setting. Content over ``max_write_bytes`` itself gets the tool's ``too_large`` result, over HTTP
and stdio alike.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from servers.filesystem.server import DEFINITION
from servers.filesystem.settings import ENVELOPE_BYTES, JSON_TEXT_OVERHEAD, body_limit
from servers.runtime.serve import build_http_app
from tests.servers.filesystem.support import data, refused, settings_for
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
SMALL_CAP = 4096
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@asynccontextmanager
async def filesystem_http(root: Path, tmp_path: Path, **filesystem: Any) -> AsyncIterator[str]:
    settings = settings_for(tmp_path / "data", (root, "rw"), **filesystem)
    async with serve_app(build_http_app(DEFINITION, DEFINITION.build(settings), settings)) as base:
        yield f"{base}/mcp"


def test_the_http_body_limit_leaves_room_for_the_largest_write_in_any_json_escaping(tmp_path: Path) -> None:
    limit = body_limit(settings_for(tmp_path, max_write_bytes=10 * MIB))
    assert limit.max_bytes == 10 * MIB * JSON_TEXT_OVERHEAD + ENVELOPE_BYTES
    assert limit.setting == "filesystem.max_write_bytes"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_nine_mib_write_succeeds_over_http_with_the_default_cap(root: Path, tmp_path: Path, mode: str) -> None:
    content = "line of text\n" * (9 * MIB // 13)
    async with filesystem_http(root, tmp_path) as url, Client(url, mode=mode) as client:
        written = data(await client.call_tool("write_file", {"path": "big.txt", "content": content}))
    assert written["bytes_written"] == len(content) > 8 * MIB
    assert (root / "big.txt").read_text() == content


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_content_over_the_cap_gets_the_tools_too_large_and_writes_nothing(
    root: Path, tmp_path: Path, mode: str
) -> None:
    async with filesystem_http(root, tmp_path, max_write_bytes=SMALL_CAP) as url, Client(url, mode=mode) as client:
        over = await client.call_tool("write_file", {"path": "over.txt", "content": "x" * (SMALL_CAP + 1)})
    refused(over, "too_large")
    refused(over, "filesystem.max_write_bytes")
    assert not (root / "over.txt").exists()


async def test_a_body_over_the_derived_limit_is_refused_naming_the_setting_and_writes_nothing(
    root: Path, tmp_path: Path
) -> None:
    limit = SMALL_CAP * JSON_TEXT_OVERHEAD + ENVELOPE_BYTES
    params = {"name": "write_file", "arguments": {"path": "huge.txt", "content": "x" * limit}}
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    async with filesystem_http(root, tmp_path, max_write_bytes=SMALL_CAP) as url, httpx.AsyncClient() as http:
        response = await http.post(url, json=request, headers=HEADERS)
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert message.startswith("too_large: ")
    assert f"{limit} bytes" in message and "raise filesystem.max_write_bytes" in message
    assert not (root / "huge.txt").exists()


async def test_content_over_the_cap_gets_too_large_over_stdio_and_writes_nothing(root: Path) -> None:
    env = {**os.environ, "MCP_SUITE_FILESYSTEM__MAX_WRITE_BYTES": str(SMALL_CAP)}
    stdio = StdioServerParameters(
        command=sys.executable, args=["-m", "suite.cli", "serve", "filesystem", str(root)], env=env
    )
    async with Client(stdio, mode="auto") as client:
        fits = data(await client.call_tool("write_file", {"path": "fits.txt", "content": "y" * SMALL_CAP}))
        over = await client.call_tool("write_file", {"path": "over.txt", "content": "x" * (SMALL_CAP + 1)})
    assert fits["bytes_written"] == SMALL_CAP
    refused(over, "too_large")
    refused(over, "filesystem.max_write_bytes")
    assert not (root / "over.txt").exists()
