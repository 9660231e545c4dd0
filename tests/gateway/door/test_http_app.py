"""The gateway app over real HTTP: MCP endpoints in both eras, REST, status pages, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from mcp import Client

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import Replica, demo_server, serve_app, serve_http

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def gateway_url(settings: GatewaySettings | None = None, extra_tool: bool = False) -> AsyncIterator[str]:
    async with (
        serve_http(demo_server(Replica("a"))) as first,
        serve_http(demo_server(Replica("b"), extra_tool=extra_tool)) as second,
    ):
        registry = StaticRegistry({"demo": (StaticInstance(url=first), StaticInstance(url=second))})
        app, _ = build_gateway_app(settings or GatewaySettings(max_request_bytes=4096), registry)
        async with serve_app(app) as base:
            yield base


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_endpoint_answers_both_protocol_eras(mode: str) -> None:
    async with gateway_url() as base:
        async with Client(f"{base}/mcp", mode=mode) as client:
            assert not (await client.call_tool("demo_echo", {"text": "x"})).is_error
            assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        async with Client(f"{base}/servers/demo/mcp", mode=mode) as client:
            assert (await client.call_tool("echo", {"text": "y"})).structured_content["text"] == "y"  # type: ignore[index]
        async with Client(f"{base}/supervisors/system/mcp", mode=mode) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == {"gateway_status", "gateway_capabilities"}


async def test_progress_passes_through_on_the_stateless_wire() -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with gateway_url() as base, Client(f"{base}/mcp", mode="auto") as client:
        await client.call_tool("demo_slow", {"steps": 2}, progress_callback=on_progress)
    assert seen == [1.0, 2.0]


async def test_an_unknown_server_or_supervisor_path_is_a_404_that_names_the_known_ones() -> None:
    async with gateway_url() as base, httpx.AsyncClient() as http:
        response = await http.post(f"{base}/servers/nope/mcp", json={})
    assert response.status_code == 404
    assert "filesystem" in response.json()["error"]["message"]


async def test_malformed_json_rpc_gets_a_parse_error_and_the_gateway_keeps_serving() -> None:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with gateway_url() as base, httpx.AsyncClient() as http:
        bad = await http.post(f"{base}/mcp", content=b"{not json", headers=headers)
        still = await http.post(f"{base}/mcp/v1/tools/list", json={})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == -32700
    assert still.status_code == 200


async def test_rest_mirrors_the_mcp_methods() -> None:
    async with gateway_url() as base, httpx.AsyncClient(base_url=base) as http:
        init = (await http.post("/mcp/v1/initialize", json={})).json()
        tools = (await http.post("/mcp/v1/tools/list", json={})).json()
        call = (await http.post("/mcp/v1/tools/call", json={"name": "demo_echo", "arguments": {"text": "r"}})).json()
        resources = (await http.post("/mcp/v1/resources/list")).json()
        read = (await http.post("/mcp/v1/resources/read", json={"uri": "demo://items/3"})).json()
        prompts = (await http.post("/mcp/v1/prompts/list", json={})).json()
        prompt = (
            await http.post("/mcp/v1/prompts/get", json={"name": "demo_summarize", "arguments": {"topic": "t"}})
        ).json()
        health = await http.get("/health")
        ready = await http.get("/ready")
        instances = (await http.get("/v1/instances")).json()
        supervisors = (await http.get("/v1/supervisors")).json()
        openapi = (await http.get("/openapi.json")).json()
    assert init["serverInfo"]["name"] == "mcp-suite-gateway"
    assert "demo_echo" in [t["name"] for t in tools["tools"]]
    assert call["structuredContent"]["text"] == "r"
    assert resources["resources"][0]["uri"] == "demo://greeting"
    assert resources["resourceTemplates"][0]["uriTemplate"] == "demo://items/{item}"
    assert read["contents"][0]["text"].startswith("item 3")
    assert prompts["prompts"][0]["name"] == "demo_summarize"
    assert prompt["messages"][0]["content"]["text"] == "Summarize t."
    assert health.status_code == ready.status_code == 200
    assert len(instances["servers"][0]["instances"]) == 2
    assert {s["name"] for s in supervisors["supervisors"]} == {"intelligence", "multimodal", "system"}
    assert "/mcp/v1/tools/call" in openapi["paths"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/mcp/v1/tools/call", b"{oops", 400, "invalid_json"),
        ("/mcp/v1/tools/call", b"[1, 2]", 400, "invalid_json"),
        ("/mcp/v1/tools/call", b"{}", 400, "invalid_params"),
        ("/mcp/v1/tools/call", b'{"name": "demo_nothing"}', 404, "not_found"),
        ("/mcp/v1/tools/call", b'{"name": "demo_echo", "arguments": []}', 400, "invalid_params"),
        ("/mcp/v1/resources/read", b'{"uri": "nowhere://x"}', 404, "not_found"),
        ("/mcp/v1/prompts/get", b'{"name": "demo_nothing"}', 404, "not_found"),
        ("/mcp/v1/tools/list", b'{"cursor": "garbage!!"}', 400, "invalid_cursor"),
        (
            "/mcp/v1/tools/call",
            b'{"name": "demo_echo", "arguments": {"text": "' + b"x" * 5000 + b'"}}',
            413,
            "payload_too_large",
        ),
    ],
)
async def test_bad_rest_input_gets_a_stable_error_code(path: str, body: bytes, status: int, code: str) -> None:
    async with gateway_url() as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_a_replica_with_different_schemas_is_not_admitted_and_the_gateway_keeps_serving() -> None:
    async with gateway_url(extra_tool=True) as base, httpx.AsyncClient(base_url=base) as http:
        instances = (await http.get("/v1/instances")).json()["servers"][0]["instances"]
        tools = [t["name"] for t in (await http.post("/mcp/v1/tools/list")).json()["tools"]]
        calls = [
            (await http.post("/mcp/v1/tools/call", json={"name": "demo_echo", "arguments": {"text": "x"}})).json()
            for _ in range(4)
        ]
    assert [i["admitted"] for i in instances] == [True, False]
    assert "differ" in instances[1]["last_error"]
    assert "demo_extra" not in tools
    assert {c["structuredContent"]["replica"] for c in calls} == {"a"}


MODERN_HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def modern_call(name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": MODERN_META},
    }


async def test_a_stateless_tool_call_is_answered_in_one_json_body() -> None:
    async with gateway_url() as base, httpx.AsyncClient() as http:
        echo, nope = {**MODERN_HEADERS, "mcp-name": "demo_echo"}, {**MODERN_HEADERS, "mcp-name": "demo_nope"}
        response = await http.post(f"{base}/mcp", json=modern_call("demo_echo", {"text": "z"}), headers=echo)
        unknown = await http.post(f"{base}/mcp", json=modern_call("demo_nope", {}), headers=nope)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["id"] == 7
    assert response.json()["result"]["structuredContent"]["text"] == "z"
    assert unknown.json()["error"]["code"] == -32602


async def test_a_foreign_host_header_is_refused_on_the_stateless_path_too() -> None:
    async with gateway_url() as base, httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/mcp",
            json=modern_call("demo_echo", {"text": "z"}),
            headers={**MODERN_HEADERS, "host": "evil.example"},
        )
    assert response.status_code == 421


async def test_an_oversized_stateless_call_is_refused_without_reaching_the_upstream() -> None:
    async with gateway_url() as base, httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/mcp", json=modern_call("demo_echo", {"text": "x" * 10_000}), headers=MODERN_HEADERS
        )
        status = (await http.get(f"{base}/v1/instances")).json()
    assert response.status_code == 413
    assert sum(i["calls"] for i in status["servers"][0]["instances"]) == 0
