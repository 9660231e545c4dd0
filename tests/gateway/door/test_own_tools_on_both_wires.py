"""The gateway's own tools, and upstream tools, answer in the shape each wire's schema requires.

The SDK client in its default mode (the stateless 2026-07-28 wire, taken by the gateway's fast lane)
validates every ``tools/call`` result against that version's schema; in legacy mode (a 2025-11-25
session) the SDK endpoint answers. Both must work on every endpoint and on REST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import methods

from gateway.call.service import tool_result
from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.tool_results import data
from tests.support.upstreams import Replica, demo_server, serve_app, serve_http

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
MODERN_HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/call",
}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@asynccontextmanager
async def gateway_base() -> AsyncIterator[str]:
    async with serve_http(demo_server(Replica("a"))) as upstream:
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream),)})
        app, _ = build_gateway_app(GatewaySettings(), registry)
        async with serve_app(app) as base:
            yield base


def fast_call(name: str, request_id: int = 1) -> dict[str, Any]:
    arguments = {"text": "t"} if name == "demo_echo" else {}
    params = {"name": name, "arguments": arguments, "_meta": MODERN_META}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("path", ["/mcp", "/supervisors/system/mcp"])
async def test_the_gateway_tools_answer_the_sdk_client_on_both_wires(mode: str, path: str) -> None:
    async with gateway_base() as base, Client(f"{base}{path}", mode=mode) as client:
        status = data(await client.call_tool("gateway_status", {}))
        capabilities = data(await client.call_tool("gateway_capabilities", {}))
        assert client.protocol_version == (MODERN if mode == "auto" else "2025-11-25")
    assert status["gateway"]["name"] == "mcp-suite-gateway"
    assert [server["server"] for server in status["servers"]] == ["demo"]
    assert capabilities["servers"][0]["endpoint"] == "/servers/demo/mcp"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_server_endpoint_answers_its_tools_and_does_not_offer_the_gateway_tools(mode: str) -> None:
    async with gateway_base() as base, Client(f"{base}/servers/demo/mcp", mode=mode) as client:
        echoed = data(await client.call_tool("echo", {"text": "s"}))
        names = {tool.name for tool in (await client.list_tools()).tools}
        unknown = await http_call(base, "/servers/demo/mcp", fast_call("gateway_status"))
    assert echoed["text"] == "s"
    assert "gateway_status" not in names
    assert "unknown tool 'gateway_status'" in unknown["error"]["message"]


async def http_call(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        headers = {**MODERN_HEADERS, "mcp-name": body["params"]["name"]}  # SEP-2243: the body's name, routed
        response = await http.post(f"{base}{path}", json=body, headers=headers)
    assert response.headers["content-type"] == "application/json"  # the fast lane's one JSON body
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/mcp", "gateway_status"),
        ("/mcp", "gateway_capabilities"),
        ("/mcp", "demo_echo"),
        ("/supervisors/system/mcp", "gateway_status"),
    ],
)
async def test_every_fast_lane_result_validates_against_the_2026_07_28_schema(path: str, name: str) -> None:
    async with gateway_base() as base:
        answer = await http_call(base, path, fast_call(name))
    result = answer["result"]
    methods.validate_server_result("tools/call", MODERN, result)  # raises on a missing required field
    assert result["resultType"] == "complete"
    assert isinstance(result["structuredContent"], dict)


async def test_rest_answers_the_gateway_tools_with_their_structured_content() -> None:
    async with gateway_base() as base, httpx.AsyncClient(base_url=base) as http:
        status = (await http.post("/mcp/v1/tools/call", json={"name": "gateway_status"})).json()
        capabilities = (await http.post("/mcp/v1/tools/call", json={"name": "gateway_capabilities"})).json()
    assert status["structuredContent"]["gateway"]["name"] == "mcp-suite-gateway"
    assert capabilities["structuredContent"]["tools"] >= 3


def test_a_2025_11_25_upstream_result_gets_the_fields_the_2026_07_28_schema_requires() -> None:
    legacy = {"content": [{"type": "text", "text": "hi"}], "structuredContent": {"a": 1}}
    bare: dict[str, Any] = {"structuredContent": {"a": 1}}
    shaped = tool_result(dict(legacy))
    methods.validate_server_result("tools/call", MODERN, shaped)
    methods.validate_server_result("tools/call", MODERN, tool_result(bare))
    assert shaped == {**legacy, "resultType": "complete"}
    assert bare["content"] == []


def test_a_result_that_already_has_its_type_is_left_as_it_is() -> None:
    pending = {"resultType": "input_required", "inputRequests": {}}
    assert tool_result(dict(pending)) == pending
