"""The gateway app over real HTTP: MCP endpoints in both eras, status pages, what it does not serve.

The REST API's own behaviour is in test_rest.py, its document's in test_openapi_conformance.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from mcp import Client

from gateway.settings import GatewaySettings
from tests.support.gateway_fixtures import gateway_http

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def gateway_url(settings: GatewaySettings | None = None, extra_tool: bool = False) -> AsyncIterator[str]:
    async with gateway_http(settings, extra_tool=extra_tool) as (base, _gateway):
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


@pytest.mark.parametrize(
    ("path", "named", "known"),
    [
        ("/servers/nope/mcp", "server named 'nope'", "known: demo"),
        ("/servers/filesystem/mcp", "server named 'filesystem'", "known: demo"),
        ("/supervisors/nope/mcp", "supervisor named 'nope'", "known: intelligence, multimodal, system"),
    ],
)
async def test_an_endpoint_of_no_running_server_or_supervisor_is_a_json_rpc_404_naming_the_known_ones(
    path: str, named: str, known: str
) -> None:
    async with gateway_url() as base, httpx.AsyncClient() as http:
        response = await http.post(f"{base}{path}", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 404
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["code"] == -32600
    message = body["error"]["message"]
    assert message.startswith("not_found: ")
    assert named in message
    assert message.endswith(known)


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "allow"),
    [
        ("GET", "/mcp/v1/tools/list", 405, "method_not_allowed", "POST"),
        ("DELETE", "/v1/instances", 405, "method_not_allowed", "GET, HEAD"),
        ("POST", "/health", 405, "method_not_allowed", "GET, HEAD"),
        ("GET", "/nowhere", 404, "not_found", None),
        ("POST", "/mcp/v1/tools/nothing", 404, "not_found", None),
        ("GET", "/servers/demo/elsewhere", 404, "not_found", None),
    ],
)
async def test_a_path_or_method_the_app_does_not_serve_is_refused_in_the_rest_error_shape(
    method: str, path: str, status: int, code: str, allow: str | None
) -> None:
    async with gateway_url() as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.request(method, path)
        still = await http.post("/mcp/v1/tools/list")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert path in response.json()["error"]["message"]
    assert set(response.headers.get("allow", "").split(", ")) == set((allow or "").split(", "))
    assert still.status_code == 200


async def test_malformed_json_rpc_gets_a_parse_error_and_the_gateway_keeps_serving() -> None:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with gateway_url() as base, httpx.AsyncClient() as http:
        bad = await http.post(f"{base}/mcp", content=b"{not json", headers=headers)
        still = await http.post(f"{base}/mcp/v1/tools/list", json={})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == -32700
    assert still.status_code == 200


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


async def test_a_crash_behind_a_status_page_is_a_json_500_and_the_gateway_keeps_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("status is broken")

    async with gateway_http() as (base, gateway), httpx.AsyncClient(base_url=base) as http:
        monkeypatch.setattr(gateway, "status", broken)
        response = await http.get("/v1/instances")
        still = await http.post("/mcp/v1/tools/list")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal gateway error"}}
    assert still.status_code == 200
