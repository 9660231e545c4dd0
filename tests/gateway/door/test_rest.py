"""The REST API over real HTTP: the MCP methods mirrored, pages, and bad input refused with a stable code."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from gateway.call.catalog import paginate
from gateway.door.rest import CURSOR_MAX_LENGTH, CURSOR_PATTERN
from tests.support.gateway_fixtures import gateway_http

pytestmark = pytest.mark.anyio


async def test_rest_mirrors_the_mcp_methods() -> None:
    async with gateway_http() as (base, _gateway), httpx.AsyncClient(base_url=base) as http:
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
        ("/mcp/v1/tools/call", b"  \n\t ", 400, "invalid_json"),
        ("/mcp/v1/tools/list", b" ", 400, "invalid_json"),
        ("/mcp/v1/tools/call", b'{"name": ""}', 400, "invalid_params"),
        ("/mcp/v1/tools/call", b"", 400, "invalid_params"),
        ("/mcp/v1/tools/call", b'{"name": "demo_echo", "arguments": null}', 400, "invalid_params"),
        (
            "/mcp/v1/tools/call",
            b'{"name": "demo_echo", "arguments": {"text": "x"}, "_meta": null}',
            400,
            "invalid_params",
        ),
        (
            "/mcp/v1/tools/call",
            b'{"name": "demo_echo", "arguments": {"text": "x"}, "_meta": []}',
            400,
            "invalid_params",
        ),
        ("/mcp/v1/tools/call", b'{"name": "demo_echo", "_meta": {"io.mcp-suite/timeoutMs": 0}}', 400, "invalid_params"),
        (
            "/mcp/v1/tools/call",
            b'{"name": "demo_echo", "_meta": {"io.mcp-suite/timeoutMs": "1"}}',
            400,
            "invalid_params",
        ),
        (
            "/mcp/v1/tools/call",
            b'{"name": "demo_echo", "_meta": {"io.mcp-suite/priority": 101}}',
            400,
            "invalid_params",
        ),
        (
            "/mcp/v1/tools/call",
            b'{"name": "demo_echo", "_meta": {"io.mcp-suite/priority": true}}',
            400,
            "invalid_params",
        ),
        ("/mcp/v1/prompts/get", b'{"name": "demo_summarize", "arguments": {"topic": 3}}', 400, "invalid_params"),
        ("/mcp/v1/resources/read", b'{"uri": ""}', 400, "invalid_params"),
        ("/mcp/v1/prompts/get", b'{"name": ""}', 400, "invalid_params"),
        ("/mcp/v1/tools/list", b'{"cursor": null}', 400, "invalid_params"),
        ("/mcp/v1/resources/list", b'{"cursor": 3}', 400, "invalid_params"),
        ("/mcp/v1/prompts/list", b'{"cursor": "bzow!"}', 400, "invalid_cursor"),
        ("/mcp/v1/tools/list", b'{"cursor": "' + b"bzo1NDMy" * 5 + b'"}', 400, "invalid_cursor"),
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
async def test_bad_rest_input_gets_a_stable_error_code_and_reaches_no_upstream(
    path: str, body: bytes, status: int, code: str
) -> None:
    async with gateway_http() as (base, gateway), httpx.AsyncClient(base_url=base) as http:
        response = await http.post(path, content=body, headers={"content-type": "application/json"})
        calls = sum(member.calls for pool in gateway.pools.values() for member in pool.members.values())
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert calls == 0


def cursor_at(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def test_every_cursor_the_catalog_hands_out_is_one_the_rest_api_takes() -> None:
    items = [{"name": str(i)} for i in range(30_001)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        _, cursor = paginate(items, cursor, page_size=7)
        if cursor is None:
            break
        seen.append(cursor)
    assert len(seen) == 30_000 // 7
    assert all(re.search(CURSOR_PATTERN, c) and len(c) <= CURSOR_MAX_LENGTH for c in seen)
    assert re.search(CURSOR_PATTERN, cursor_at(10**21))


@pytest.mark.parametrize("text", ["", "bzo", "bzow=", "bzoA", "bzoxMA=", "bzoxMA", "YWJj", "bzo6", "bzotMQ=="])
def test_a_string_no_page_could_hand_out_is_not_a_cursor(text: str) -> None:
    assert not re.search(CURSOR_PATTERN, text)


async def test_a_call_within_the_documented_meta_is_answered() -> None:
    meta = {"io.mcp-suite/timeoutMs": 2500.5, "io.mcp-suite/priority": -100.0, "example.com/tag": "x"}
    async with gateway_http() as (base, _gateway), httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/mcp/v1/tools/call", json={"name": "demo_echo", "arguments": {"text": "m"}, "_meta": meta}
        )
    assert response.status_code == 200
    assert response.json()["structuredContent"]["text"] == "m"


async def test_a_cursor_past_the_end_of_a_shrunk_list_is_an_empty_last_page() -> None:
    async with gateway_http() as (base, _gateway), httpx.AsyncClient(base_url=base) as http:
        past = await http.post("/mcp/v1/tools/list", json={"cursor": cursor_at(10_000)})
        first = await http.post("/mcp/v1/tools/list", json={"cursor": cursor_at(0)})
        empty = await http.post("/mcp/v1/resources/list", json={"cursor": ""})
    assert past.status_code == 200
    assert past.json() == {"tools": []}
    assert "demo_echo" in [t["name"] for t in first.json()["tools"]]
    assert empty.json()["resourceTemplates"][0]["uriTemplate"] == "demo://items/{item}"


async def test_a_crash_inside_a_rest_method_is_a_json_500_and_the_gateway_keeps_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("forwarding is broken")

    async with gateway_http() as (base, gateway), httpx.AsyncClient(base_url=base) as http:
        monkeypatch.setattr(gateway, "forward_to_server", broken)
        response = await http.post("/mcp/v1/resources/read", json={"uri": "demo://greeting"})
        still = await http.post("/mcp/v1/tools/list")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal gateway error"}}
    assert still.status_code == 200
