"""Every server's HTTP app serves ``GET /metrics``: its calls by tool and outcome, in the Prometheus text format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from mesh.config import Settings
from servers.filesystem.server import DEFINITION as FILESYSTEM
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import build_http_app
from suite.settings import SuiteSettings
from tests.support.observability import captured_spans, parse_exposition, value
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio


def build_sample(_settings: Settings) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("sample")

    @server.tool()
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool()
    def refuse() -> str:
        raise ToolError("refused: call add instead")

    @server.resource("sample://greeting")
    def greeting() -> str:
        return "hello"

    return server


SAMPLE = ServerDefinition(name="sample", build=build_sample)


@asynccontextmanager
async def served(definition: ServerDefinition, settings: Settings) -> AsyncIterator[str]:
    async with serve_app(build_http_app(definition, definition.build(settings), settings)) as base:
        yield base


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_servers_metrics_count_its_calls_by_tool_and_outcome(mode: str) -> None:
    async with served(SAMPLE, SuiteSettings()) as base, httpx.AsyncClient(base_url=base) as http:
        before = await http.get("/metrics")
        async with Client(f"{base}/mcp", mode=mode) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).structured_content == {"result": 3}
            assert not (await client.call_tool("add", {"a": 2, "b": 2})).is_error
            assert (await client.call_tool("refuse", {})).is_error
            await client.read_resource("sample://greeting")
            await client.list_tools()
        after = await http.get("/metrics")
        health = await http.get("/health")
    assert before.status_code == after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert health.status_code == 200
    start, end = parse_exposition(before.text), parse_exposition(after.text)
    assert value(start, "mcp_server_calls_total", server="sample", tool="add", outcome="ok") == 0
    assert value(end, "mcp_server_calls_total", server="sample", tool="add", outcome="ok") == 2
    assert value(end, "mcp_server_calls_total", server="sample", tool="refuse", outcome="tool_error") == 1
    assert value(end, "mcp_server_calls_total", server="sample", tool="resources/read", outcome="ok") == 1
    assert value(end, "mcp_server_call_duration_seconds_count", server="sample", tool="add") == 2
    assert "tools/list" not in after.text  # listings are not calls


async def test_a_protocol_error_is_counted_as_error() -> None:
    async with served(SAMPLE, SuiteSettings()) as base, httpx.AsyncClient(base_url=base) as http:
        async with Client(f"{base}/mcp") as client:
            with pytest.raises(MCPError):
                await client.read_resource("sample://missing")
        samples = parse_exposition((await http.get("/metrics")).text)
    assert value(samples, "mcp_server_calls_total", server="sample", tool="resources/read", outcome="error") == 1


async def test_the_filesystem_server_serves_metrics_with_its_own_name(tmp_path: Any) -> None:
    (tmp_path / "note.txt").write_text("hi")
    settings = FILESYSTEM.apply_arguments(SuiteSettings(), [str(tmp_path)])
    async with served(FILESYSTEM, settings) as base, httpx.AsyncClient(base_url=base) as http:
        async with Client(f"{base}/mcp") as client:
            assert not (await client.call_tool("list_allowed_directories", {})).is_error
        samples = parse_exposition((await http.get("/metrics")).text)
    assert (
        value(samples, "mcp_server_calls_total", server="filesystem", tool="list_allowed_directories", outcome="ok")
        == 1
    )


async def test_a_server_span_continues_the_trace_context_the_caller_put_in_meta() -> None:
    with captured_spans() as exporter:
        async with served(SAMPLE, SuiteSettings()) as base, Client(f"{base}/mcp") as client:
            await client.call_tool("add", {"a": 1, "b": 1})
        spans = list(exporter.get_finished_spans())
    # The SDK client injects its CLIENT span's context into _meta; the request crosses real HTTP.
    (sent,) = [s for s in spans if s.name == "MCP send tools/call add"]
    (served_span,) = [s for s in spans if s.name == "tools/call add" and s.kind.name == "SERVER"]
    sent_context, served_context = sent.get_span_context(), served_span.get_span_context()
    assert sent_context is not None and served_context is not None
    assert served_context.trace_id == sent_context.trace_id
    assert served_span.parent is not None and served_span.parent.span_id == sent_context.span_id
