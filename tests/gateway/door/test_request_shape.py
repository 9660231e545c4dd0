"""The gateway's MCP endpoints answer a body that is no JSON-RPC message, or one over the limit, with one error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import Replica, demo_server, serve_app, serve_http

pytestmark = pytest.mark.anyio

LIMIT = 8192
ENDPOINTS = ("/mcp", "/servers/demo/mcp", "/supervisors/system/mcp")
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
MODERN = {**HEADERS, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call"}


@asynccontextmanager
async def gateway(replica: Replica) -> AsyncIterator[str]:
    async with serve_http(demo_server(replica)) as upstream:
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream),)})
        app, _ = build_gateway_app(GatewaySettings(max_request_bytes=LIMIT), registry)
        async with serve_app(app) as base:
            yield base


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"[1,2,3]", -32600, "batch"),
        (b"[]", -32600, "batch"),
        (b'"x"', -32600, "a string"),
        (b"{}", -32600, '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"2.0"}', -32600, 'needs "method"'),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', -32600, '"method" must be a non-empty string'),
        (b'{"jsonrpc":"2.0","id":{},"method":"tools/list"}', -32600, '"id" must be a string or an integer'),
        (b"{not json", -32700, "not valid JSON"),
    ],
)
async def test_a_body_that_is_no_json_rpc_message_gets_one_error_on_every_endpoint(
    body: bytes, code: int, says: str
) -> None:
    replica = Replica("a")
    async with gateway(replica) as base, httpx.AsyncClient(base_url=base) as http:
        for path in ENDPOINTS:
            for headers in (HEADERS, MODERN):
                response = await http.post(path, content=body, headers=headers)
                error = response.json()["error"]
                assert response.status_code == 400, (path, response.text)
                assert error["code"] == code and says in error["message"]
                assert "validation error" not in error["message"].lower()
        still = await http.post("/mcp/v1/tools/call", json={"name": "demo_echo", "arguments": {"text": "z"}})
    assert still.json()["structuredContent"]["text"] == "z"
    assert replica.calls == {"echo": 1}  # no refused body reached the upstream


async def test_a_body_over_the_limit_is_refused_naming_gateway_max_request_bytes() -> None:
    replica = Replica("a")
    call = {"name": "demo_echo", "arguments": {"text": "x" * LIMIT}}
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}
    async with gateway(replica) as base, httpx.AsyncClient(base_url=base) as http:
        answers = [await http.post(path, json=rpc, headers=MODERN) for path in ENDPOINTS]
        rest = await http.post("/mcp/v1/tools/call", json=call)
    for response in answers:
        assert response.status_code == 413
        message = response.json()["error"]["message"]
        assert message.startswith("too_large: ") and "raise gateway.max_request_bytes" in message
    assert rest.status_code == 413
    assert rest.json()["error"]["message"].startswith("too_large: ")
    assert "gateway.max_request_bytes" in rest.json()["error"]["message"]
    assert replica.calls == {}
