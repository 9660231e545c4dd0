"""Every request the HTTP door or the guard refuses leaves one sample in ``mcp_gateway_denied_total``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mesh.metrics import DENIED_REASONS
from tests.support.observability import parse_exposition, value
from tests.support.security_fixtures import MODERN, secured_suite

pytestmark = pytest.mark.anyio

CALL = {**MODERN, "mcp-method": "tools/call"}


def call(name: str, arguments: dict[str, object]) -> dict[str, object]:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": meta},
    }


async def denied(http: httpx.AsyncClient) -> dict[str, float]:
    scrape = await http.get("/metrics")
    assert scrape.status_code == 200
    samples = parse_exposition(scrape.text)
    return {reason: value(samples, "mcp_gateway_denied_total", reason=reason) for reason in DENIED_REASONS}


async def test_each_refusal_through_the_http_door_counts_once_under_its_reason(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    read = {"path": str(tmp_path / "f.txt")}
    limits = {"per_tool": {"filesystem_read_text_file": {"rate": 0.01, "burst": 1}}}
    async with (
        secured_suite(tmp_path, rate_limits=limits, gateway={"max_request_bytes": 4096}) as suite,
        httpx.AsyncClient(base_url=suite.gateway) as http,
    ):
        reader = {**CALL, **suite.bearer("reader")}
        assert await denied(http) == dict.fromkeys(DENIED_REASONS, 0.0)
        steps: list[tuple[str, httpx.Response]] = []

        anonymous = await http.post("/mcp", json=call("filesystem_read_text_file", read), headers=CALL)
        steps.append(("unauthenticated", anonymous))
        write = call("filesystem_write_file", {"path": str(tmp_path / "owned.txt"), "content": "pwned"})
        role = await http.post("/mcp", json=write, headers={**reader, "mcp-name": "filesystem_write_file"})
        steps.append(("forbidden", role))
        allowed = await http.post(
            "/mcp",
            json=call("filesystem_read_text_file", read),
            headers={**reader, "mcp-name": "filesystem_read_text_file"},
        )
        assert "result" in allowed.json()
        limited = await http.post(
            "/mcp",
            json=call("filesystem_read_text_file", read),
            headers={**reader, "mcp-name": "filesystem_read_text_file"},
        )
        steps.append(("rate_limited", limited))
        huge = call("filesystem_read_text_file", {"path": "x" * 5000})
        big = await http.post("/mcp", json=huge, headers={**reader, "mcp-name": "filesystem_read_text_file"})
        steps.append(("too_large", big))
        after = await denied(http)
    assert anonymous.status_code == 401
    assert role.json()["error"]["code"] == -32010
    assert limited.json()["error"]["code"] == -32011
    assert big.status_code == 413
    assert after == dict.fromkeys(DENIED_REASONS, 1.0), [(reason, r.status_code, r.text[:120]) for reason, r in steps]
    assert not (tmp_path / "owned.txt").exists()


async def test_an_allowed_call_leaves_every_denied_count_at_zero(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        headers = {**CALL, **suite.bearer("reader"), "mcp-name": "filesystem_read_text_file"}
        answer = await http.post(
            "/mcp", json=call("filesystem_read_text_file", {"path": str(tmp_path / "f.txt")}), headers=headers
        )
        after = await denied(http)
    assert "result" in answer.json()
    assert after == dict.fromkeys(DENIED_REASONS, 0.0)
