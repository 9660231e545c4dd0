"""SIGTERM lets an in-flight call finish, and the instance registers while up and deregisters on the way out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest

from tests.support.upstreams import free_port

pytestmark = pytest.mark.anyio

SCRIPT = """
import sys, anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mesh.config import Settings
from mesh.registry import StaticRegistry
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import serve_http
from suite.settings import SuiteSettings

events = open(sys.argv[2], "a", buffering=1)

class Recorder(StaticRegistry):
    def register(self, instance):
        events.write("register " + instance.url + "\\n")
    def deregister(self, instance):
        events.write("deregister " + instance.url + "\\n")

def build(settings):
    server = MCPServer("slow")

    @server.tool()
    async def slow(ctx: Context) -> str:
        await ctx.report_progress(1, 2, "started")
        await anyio.sleep(1.0)  # the work in flight when SIGTERM arrives
        return "finished"

    return server

definition = ServerDefinition(name="slow", build=build)
anyio.run(lambda: serve_http(definition, SuiteSettings(shutdown_grace_seconds=10), host="127.0.0.1", port=int(sys.argv[1]), registry=Recorder()))
"""


async def test_sigterm_lets_the_call_in_flight_finish_and_deregisters(tmp_path: Path) -> None:
    script = tmp_path / "slow_server.py"
    script.write_text(SCRIPT)
    events = tmp_path / "events.log"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), str(events)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never came up"
                await anyio.sleep(0.05)
        assert events.read_text() == f"register http://127.0.0.1:{port}/mcp\n"

        # One stateless call with a progress token: the response is an event stream whose first
        # event (progress) proves the call is in flight; SIGTERM goes then, and the stream must
        # still end with the result.
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "slow",
                "arguments": {},
                "_meta": {
                    "progressToken": "p",
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        headers = {
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call",
            "mcp-name": "slow",
        }
        messages: list[dict[str, object]] = []
        async with (
            httpx.AsyncClient(timeout=30) as http,
            http.stream("POST", f"http://127.0.0.1:{port}/mcp", json=body, headers=headers) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:]))
                    if messages[-1].get("method") == "notifications/progress":
                        process.send_signal(signal.SIGTERM)
        assert messages[0]["method"] == "notifications/progress"
        assert messages[-1]["result"]["content"][0]["text"] == "finished"  # type: ignore[index]
        # uvicorn re-raises the captured SIGTERM once it has drained, so the exit is 0 or "by SIGTERM"
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        assert events.read_text().splitlines()[-1] == f"deregister http://127.0.0.1:{port}/mcp"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
