"""The stateless wire's headers through the gateway: checked as the SDK checks them (SEP-2243); errors as 400s."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.conformance_fixture import conformance_server
from tests.support.upstreams import Replica, demo_server, serve_app, serve_http

pytestmark = pytest.mark.anyio

VERSION = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {}}


@asynccontextmanager
async def gateway_http(replica: Replica) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app over HTTP, with the demo upstream as ``demo`` and the conformance fixture as ``search``."""
    async with serve_http(demo_server(replica)) as demo, serve_http(conformance_server()) as fixture:
        registry = StaticRegistry({"demo": (StaticInstance(url=demo),), "search": (StaticInstance(url=fixture),)})
        app, _ = build_gateway_app(GatewaySettings(), registry)
        async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as http:
            yield http


async def call(http: httpx.AsyncClient, path: str, name: str, arguments: dict[str, Any], **headers: str) -> Any:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    body["params"]["_meta"] = META  # type: ignore[index]
    sent = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
        "mcp-method": "tools/call",
        "mcp-name": name,
        **{key.replace("_", "-"): value for key, value in headers.items()},
    }
    return await http.post(path, json=body, headers=sent)


async def test_a_call_whose_mcp_name_header_disagrees_with_the_body_is_a_400_and_reaches_no_upstream() -> None:
    replica = Replica("a")
    async with gateway_http(replica) as http:
        response = await call(http, "/servers/demo/mcp", "echo", {"text": "x"}, mcp_name="destroy")
        good = await call(http, "/servers/demo/mcp", "echo", {"text": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020
    assert good.status_code == 200
    assert replica.calls == {"echo": 1}


async def test_a_call_needing_an_undeclared_capability_is_an_http_400() -> None:
    async with gateway_http(Replica("a")) as http:
        response = await call(http, "/servers/search/mcp", "test_missing_capability", {})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32021
    assert error["data"]["requiredCapabilities"] == {"sampling": {}}


async def test_a_base64_mcp_param_header_is_decoded_and_mirrored_to_the_upstream() -> None:
    encoded = "=?base64?" + base64.b64encode(b"Hello").decode() + "?="
    async with gateway_http(Replica("a")) as http:
        response = await call(http, "/mcp", "search_test_custom_headers", {"region": "Hello"}, mcp_param_region=encoded)
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "region=Hello query="


@pytest.mark.parametrize(
    ("header", "why"),
    [("=?base64?SGVsbG8?=", "bad padding"), ("=?base64?SGVs!!!bG8=?=", "not base64"), (None, "missing")],
)
async def test_an_invalid_or_missing_mcp_param_header_is_a_400(header: str | None, why: str) -> None:
    extra = {} if header is None else {"mcp_param_region": header}
    async with gateway_http(Replica("a")) as http:
        response = await call(http, "/servers/search/mcp", "test_custom_headers", {"region": "Hello"}, **extra)
    assert response.status_code == 400, why
    assert response.json()["error"]["code"] == -32020
