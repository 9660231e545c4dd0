"""The same client-level behaviour, straight to the filesystem server and through the gateway.

Every test here runs twice: with the SDK client connected to the server itself, and connected to
the gateway's ``/servers/filesystem`` endpoint with that server behind it over streamable HTTP.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import View
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from servers.filesystem.server import build_server
from tests.servers.filesystem.support import data, refused, settings_for, snapshot
from tests.servers.filesystem.support import root as root  # the fixture, used by name
from tests.support.upstreams import HttpUpstream

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["direct", "gateway"])
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def filesystem_client(route: str, root: Path, *, mode: str = "legacy") -> AsyncIterator[Client]:
    settings = settings_for(root.parent / "data", (root, "rw"))
    if route == "direct":
        async with Client(build_server(settings), mode=mode) as client:
            yield client
        return
    upstream = HttpUpstream(build_server(settings))
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            gateway = Gateway(GatewaySettings(), StaticRegistry({"filesystem": (StaticInstance(url=upstream.url),)}))
            async with (
                gateway.running(),
                Client(Endpoint(gateway, View("server", "filesystem")).server, mode=mode) as client,
            ):
                yield client
        finally:
            await upstream.stop()


async def test_the_tool_list_is_the_same(route: str, root: Path) -> None:
    async with filesystem_client(route, root) as client:
        tools = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
    async with filesystem_client("direct", root) as direct:
        expected = {tool.name: tool.input_schema for tool in (await direct.list_tools()).tools}
    assert tools == expected
    assert "edit_file" in tools


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_write_then_a_read_round_trips(route: str, root: Path, mode: str) -> None:
    async with filesystem_client(route, root, mode=mode) as client:
        written = await client.call_tool("write_file", {"path": "new.txt", "content": "one\r\ntwo\r\n"})
        read = await client.call_tool("read_text_file", {"path": "new.txt"})
    assert not written.is_error
    assert data(read)["total_lines"] == 2
    assert (root / "new.txt").read_bytes() == b"one\r\ntwo\r\n"


async def test_an_edit_with_a_stale_hash_is_refused_and_changes_nothing(route: str, root: Path) -> None:
    before = (root / "notes.txt").read_bytes()
    async with filesystem_client(route, root) as client:
        result = await client.call_tool(
            "edit_file",
            {
                "path": "notes.txt",
                "edits": [{"oldText": "beta", "newText": "BETA"}],
                "expected_sha256": hashlib.sha256(b"something else").hexdigest(),
            },
        )
    refused(result, "stale")
    assert (root / "notes.txt").read_bytes() == before


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", ".env", "src/../../x"])
async def test_a_path_outside_the_policy_is_refused_and_the_disk_is_unchanged(
    route: str, root: Path, path: str
) -> None:
    before = snapshot(root.parent)
    async with filesystem_client(route, root) as client:
        read = await client.call_tool("read_text_file", {"path": path})
        write = await client.call_tool("write_file", {"path": path, "content": "x"})
    assert read.is_error and write.is_error
    assert snapshot(root.parent) == before


async def test_an_edit_returns_the_same_diff(route: str, root: Path) -> None:
    async with filesystem_client(route, root) as client:
        result = await client.call_tool(
            "edit_file", {"path": "notes.txt", "edits": [{"oldText": "gamma", "newText": "delta"}], "dry_run": True}
        )
    assert "-gamma" in data(result)["diff"]
    assert "+delta" in data(result)["diff"]


async def test_an_unknown_tool_is_an_error(route: str, root: Path) -> None:
    async with filesystem_client(route, root) as client:
        try:
            result = await client.call_tool("format_disk", {})
        except MCPError as exc:  # the gateway answers with a protocol error
            assert exc.code == -32602
        else:  # the SDK server answers with a tool error
            assert result.is_error
