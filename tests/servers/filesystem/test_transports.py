"""The filesystem server over real transports: stdio (a child process) and streamable HTTP, both eras."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client, StdioServerParameters

from mesh.serving.listen import bind_socket
from servers.filesystem.server import DEFINITION
from servers.runtime.serve import build_http_app
from tests.servers.filesystem.support import data, refused, settings_for


def _stdio(*words: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "suite.cli", "serve", "filesystem", *words], env=dict(os.environ)
    )


@pytest.mark.anyio
async def test_the_server_works_over_stdio_in_both_eras(root: Path, mode: str) -> None:
    async with Client(_stdio(str(root)), mode=mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        read = data(await client.call_tool("read_text_file", {"path": "notes.txt"}))
        edit = data(
            await client.call_tool(
                "edit_file", {"path": "notes.txt", "edits": [{"oldText": "beta", "newText": "B"}], "dryRun": True}
            )
        )
        escape = await client.call_tool("read_text_file", {"path": "../outside/secret.txt"})
    assert "write_file" in names
    assert read["total_lines"] == 3
    assert "+B" in edit["diff"]
    refused(escape, "outside_roots")


@pytest.mark.anyio
async def test_a_read_only_directory_on_the_command_line_removes_write_tools(root: Path) -> None:
    async with Client(_stdio(f"{root}:ro"), mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "write_file" not in names and "read_text_file" in names


@asynccontextmanager
async def http_server(root: Path, tmp_path: Path) -> AsyncIterator[str]:
    settings = settings_for(tmp_path / "data", (root, "rw"))
    server = DEFINITION.build(settings)
    app = build_http_app(DEFINITION, server, settings)
    sock = bind_socket("127.0.0.1", 0)
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    runner = uvicorn.Server(config)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: runner.serve(sockets=[sock]))
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            runner.should_exit = True


@pytest.mark.anyio
async def test_the_server_works_over_streamable_http_in_both_eras(root: Path, tmp_path: Path) -> None:
    async with http_server(root, tmp_path) as base:
        for mode in ("legacy", "auto"):
            async with Client(f"{base}/mcp", mode=mode) as client:
                written = data(
                    await client.call_tool(
                        "write_file", {"path": f"http-{mode}.txt", "content": mode, "exclusive": True}
                    )
                )
                info = data(await client.call_tool("get_file_info", {"path": f"http-{mode}.txt"}))
                denied = await client.call_tool("read_text_file", {"path": ".env"})
            assert written["created"] and info["size"] == len(mode)
            refused(denied, "denied")
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{base}/health")
    assert health.status_code == 200
    body = health.json()
    assert body["server"] == "filesystem" and body["ready"] is True
    assert body["checks"][f"root {root}"] == "ok (rw)"


@pytest.mark.anyio
async def test_health_is_degraded_when_a_root_disappears(root: Path, tmp_path: Path) -> None:
    async with http_server(root, tmp_path) as base:
        (root / "notes.txt").unlink()
        os.rename(root, tmp_path / "gone")
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{base}/health")
    assert health.status_code == 503
    assert health.json()["ready"] is False
