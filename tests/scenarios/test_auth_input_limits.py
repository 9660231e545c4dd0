"""Input limits at the gateway's door: body size and JSON depth on every path, before any parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.security_fixtures import MODERN, secured_suite

pytestmark = pytest.mark.anyio

PATHS = ["/mcp", "/servers/filesystem/mcp", "/supervisors/system/mcp"]


def nested(depth: int) -> bytes:
    arguments = b"[" * depth + b"]" * depth
    return (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"filesystem_read_text_file","arguments":{"x":'
        + arguments
        + b'},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        + b'"io.modelcontextprotocol/clientCapabilities":{}}}}'
    )


async def test_an_oversized_body_is_refused_with_413_on_every_path(tmp_path: Path) -> None:
    overrides = {"gateway": {"max_request_bytes": 4096}}
    big = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * 5000 + b'"}}'
    async with secured_suite(tmp_path, **overrides) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        headers = {**MODERN, **suite.bearer("reader")}
        for path in PATHS:
            response = await http.post(path, content=big, headers=headers)
            assert response.status_code == 413, path
            assert response.json()["error"]["code"] == -32600
        rest = await http.post("/mcp/v1/tools/call", content=big, headers=headers)

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: the limit still holds while streaming
            for _ in range(10):
                yield b"x" * 1000

        streamed = await http.post("/mcp", content=chunks(), headers=headers)
        still = await http.post("/mcp/v1/tools/list", json={}, headers=headers)
    assert rest.status_code == 413 and rest.json()["error"]["code"] == "payload_too_large"
    assert streamed.status_code == 413
    assert still.status_code == 200


async def test_json_nested_deeper_than_64_levels_is_refused_before_parsing(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        headers = {**MODERN, **suite.bearer("reader")}
        for path in PATHS:
            deep = await http.post(path, content=nested(100), headers=headers)
            assert deep.status_code == 400, path
            assert deep.json()["error"]["code"] == -32600 and "64 levels" in deep.json()["error"]["message"]
        huge = await http.post("/mcp", content=b"[" * 500_000, headers=headers)
        rest = await http.post("/mcp/v1/tools/call", content=nested(100), headers=headers)
        shallow = await http.post(
            "/mcp",
            content=nested(50),
            headers={**headers, "mcp-method": "tools/call", "mcp-name": "filesystem_read_text_file"},
        )
    assert huge.status_code == 400
    assert rest.status_code == 400 and rest.json()["error"]["code"] == "too_deep"
    assert shallow.status_code == 200  # within the limit: answered (here with a tool error for bad arguments)
