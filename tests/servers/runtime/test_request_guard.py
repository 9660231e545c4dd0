"""A server's /mcp answers a body over its own limit, or one that is no JSON-RPC message, with one error.

The refusal comes before the SDK (and before any tool) sees the request, on the fast path and the SDK
path alike; the server keeps serving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer

from mesh.config import Settings
from servers.runtime.definition import BodyLimit, ServerDefinition
from servers.runtime.serve import build_http_app
from suite.settings import SuiteSettings
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
MODERN = {
    **HEADERS,
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "keep",
}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def keeper(kept: list[str]) -> ServerDefinition:
    def build(settings: Settings) -> MCPServer[Any]:
        server: MCPServer[Any] = MCPServer("keeper")

        @server.tool()
        def keep(text: str) -> str:
            kept.append(text)
            return f"kept {len(text)}"

        return server

    return ServerDefinition(name="keeper", build=build, body_limit=lambda _: BodyLimit(LIMIT, "keeper.max_bytes"))


@pytest.fixture
async def keeper_url() -> AsyncIterator[tuple[str, list[str]]]:
    kept: list[str] = []
    definition = keeper(kept)
    settings = SuiteSettings()
    async with serve_app(build_http_app(definition, definition.build(settings), settings)) as base:
        yield base, kept


def modern_keep(text: str) -> dict[str, Any]:
    params = {"name": "keep", "arguments": {"text": text}, "_meta": META}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"[1,2,3]", -32600, "batch"),
        (b"{}", -32600, '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"2.0","id":1}', -32600, '"result" and "error"'),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', -32600, '"method" must be a non-empty string'),
        (b"{oops", -32700, "not valid JSON"),
    ],
)
async def test_a_body_that_is_no_json_rpc_message_gets_one_error(
    keeper_url: tuple[str, list[str]], body: bytes, code: int, says: str
) -> None:
    base, kept = keeper_url
    async with httpx.AsyncClient() as http:
        for headers in (HEADERS, MODERN):  # the SDK path and the fast path's headers
            response = await http.post(f"{base}/mcp", content=body, headers=headers)
            error = response.json()["error"]
            assert response.status_code == 400
            assert error["code"] == code and says in error["message"]
            assert "validation error" not in error["message"].lower()
        still = await http.post(f"{base}/mcp", json=modern_keep("ok"), headers=MODERN)
    assert still.json()["result"]["content"][0]["text"] == "kept 2"
    assert kept == ["ok"]


async def test_a_body_over_the_server_limit_is_refused_naming_its_setting(keeper_url: tuple[str, list[str]]) -> None:
    base, kept = keeper_url
    big = modern_keep("x" * LIMIT)

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: the limit holds while the body streams in
        yield httpx.Request("POST", "/", json=big).content

    async with httpx.AsyncClient() as http:
        declared = await http.post(f"{base}/mcp", json=big, headers=MODERN)
        legacy = await http.post(f"{base}/mcp", json=big, headers=HEADERS)
        streamed = await http.post(f"{base}/mcp", content=chunks(), headers=MODERN)
    for response in (declared, legacy, streamed):
        assert response.status_code == 413
        message = response.json()["error"]["message"]
        assert message.startswith("too_large: ")
        assert f"{LIMIT} bytes" in message and "raise keeper.max_bytes" in message
    assert kept == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_body_within_the_limit_reaches_the_tool_in_both_eras(
    keeper_url: tuple[str, list[str]], mode: str
) -> None:
    base, kept = keeper_url
    async with Client(f"{base}/mcp", mode=mode) as client:
        result = await client.call_tool("keep", {"text": "y" * (LIMIT - 1024)})
    assert not result.is_error
    assert kept == ["y" * (LIMIT - 1024)]
