"""Role escalation, token passthrough, path escapes, rate limits and the audit trail, end to end through
the gateway to the real filesystem server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh.security.principal import FORWARDED_PRINCIPAL_META
from tests.support.security_fixtures import MODERN, UPSTREAM_SECRET, client, secured_suite

pytestmark = pytest.mark.anyio

FAST = {**MODERN, "mcp-method": "tools/call"}  # and mcp-name, per call: SEP-2243 wants both


def fast_call(name: str, arguments: dict[str, Any], request_id: int = 1) -> dict[str, Any]:
    """A stateless 2026-07-28 tools/call: the shape the gateway's fast path answers itself."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }


async def test_a_reader_sees_only_what_its_role_allows(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite:
        async with client(f"{suite.gateway}/mcp", suite.bearer("reader")) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
        async with client(f"{suite.gateway}/servers/filesystem/mcp", suite.bearer("reader")) as session:
            short = {tool.name for tool in (await session.list_tools()).tools}
        async with client(f"{suite.gateway}/supervisors/system/mcp", suite.bearer("reader")) as session:
            supervised = {tool.name for tool in (await session.list_tools()).tools}
    assert "filesystem_read_text_file" in names and "filesystem_list_directory" in names
    assert not any("write" in n or "delete" in n or n.startswith("gateway_") for n in names | supervised)
    assert "read_text_file" in short and "write_file" not in short
    assert supervised == {n for n in names if n.startswith("filesystem_")}


async def test_a_reader_cannot_write_through_any_door(tmp_path: Path) -> None:
    target = tmp_path / "owned.txt"
    arguments = {"path": str(target), "content": "pwned"}
    async with secured_suite(tmp_path) as suite:
        headers = suite.bearer("reader")
        refusals: list[Any] = []
        for mode in ("auto", "legacy"):  # auto: the stateless fast path; legacy: the SDK session path
            async with client(f"{suite.gateway}/mcp", headers, mode) as session:
                refusals.append(await _error_of(session.call_tool("filesystem_write_file", arguments)))
            async with client(f"{suite.gateway}/supervisors/system/mcp", headers, mode) as session:
                refusals.append(await _error_of(session.call_tool("filesystem_write_file", arguments)))
            async with client(f"{suite.gateway}/servers/filesystem/mcp", headers, mode) as session:
                refusals.append(await _error_of(session.call_tool("write_file", arguments)))
        async with httpx.AsyncClient(base_url=suite.gateway) as http:
            fast = await http.post(
                "/mcp",
                json=fast_call("filesystem_write_file", arguments),
                headers={**FAST, **headers, "mcp-name": "filesystem_write_file"},
            )
            rest = await http.post(
                "/mcp/v1/tools/call", json={"name": "filesystem_write_file", "arguments": arguments}, headers=headers
            )
        audit = [json.loads(line) for line in suite.audit_lines]
    assert refusals == [-32010] * 6
    assert fast.status_code == 200 and fast.json()["error"]["code"] == -32010
    assert "filesystem_write_file" in fast.json()["error"]["message"]
    assert rest.status_code == 403 and rest.json()["error"]["code"] == "forbidden"
    assert not target.exists()
    forbidden = [r for r in audit if r["outcome"] == "forbidden"]
    assert len(forbidden) == 8 and {r["principal"] for r in forbidden} == {"alice"}
    assert all("pwned" not in json.dumps(r) and len(r["args_sha256"]) == 64 for r in forbidden)


async def _error_of(call: Any) -> int | None:
    from mcp.shared.exceptions import MCPError

    try:
        await call
    except MCPError as exc:
        return exc.error.code
    return None


async def test_a_denied_resource_is_not_listed_nor_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        writer = suite.bearer("writer")  # writer has tools only, no resource:... pattern
        listed = await http.post("/mcp/v1/resources/list", json={}, headers=writer)
        templates = listed.json().get("resourceTemplates", [])
        read = await http.post("/mcp/v1/resources/read", json={"uri": f"file://{tmp_path}/a.txt"}, headers=writer)
    assert listed.status_code == 200 and listed.json()["resources"] == [] and templates == []
    assert read.status_code in (403, 404)


async def test_tokens_never_reach_the_upstream_but_the_upstream_secret_does(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    async with secured_suite(tmp_path) as suite:
        token_headers = suite.bearer("reader")
        async with client(f"{suite.gateway}/mcp", token_headers) as session:
            await session.call_tool("filesystem_read_text_file", {"path": str(tmp_path / "f.txt")})
        async with httpx.AsyncClient(base_url=suite.gateway) as http:
            await http.post(
                "/mcp/v1/tools/call",
                json={"name": "filesystem_read_text_file", "arguments": {"path": str(tmp_path / "f.txt")}},
                headers={"x-api-key": "mcps_test-key-for-the-reader-role-0000000000"},
            )
        seen = suite.recorder.headers
    assert seen, "the upstream saw no request at all"
    assert all("authorization" not in h and "x-api-key" not in h for h in seen)
    assert all(h.get("x-mcp-suite-upstream") == UPSTREAM_SECRET for h in seen)
    token = token_headers["authorization"].split()[1]
    assert not any(token in json.dumps(h) for h in seen)


async def test_the_upstream_learns_the_callers_subject_and_never_a_claim_the_client_made(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    forged = {FORWARDED_PRINCIPAL_META: "root", "progressToken": 7}
    arguments = {"path": str(tmp_path / "f.txt")}
    async with secured_suite(tmp_path) as suite:
        async with client(f"{suite.gateway}/mcp", suite.bearer("reader", subject="carol")) as session:
            await session.call_tool("filesystem_read_text_file", arguments, meta=forged)
        async with httpx.AsyncClient(base_url=suite.gateway) as http:
            await http.post(
                "/mcp/v1/tools/call",
                json={"name": "filesystem_read_text_file", "arguments": arguments, "_meta": forged},
                headers={"x-api-key": "mcps_test-key-for-the-reader-role-0000000000"},
            )
        calls = [m for m in suite.recorder.messages if m.get("method") == "tools/call"]
    assert len(calls) == 2
    subjects = [(call["params"].get("_meta") or {}).get(FORWARDED_PRINCIPAL_META) for call in calls]
    assert subjects[0] == "carol"
    assert subjects[1] not in (None, "root")  # the API key's own subject
    assert all((call["params"].get("_meta") or {}).get("progressToken") == 7 for call in calls)


async def test_the_server_refuses_a_caller_without_the_upstream_secret(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.filesystem) as http:
        direct = await http.post("/mcp", json=fast_call("read_text_file", {"path": "x"}), headers=MODERN)
        with_token = await http.post(
            "/mcp", json=fast_call("read_text_file", {"path": "x"}), headers={**MODERN, **suite.bearer("writer")}
        )
        health = await http.get("/health")
    assert direct.status_code == 401 and with_token.status_code == 401
    assert health.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["../../../../etc/passwd", "/etc/passwd", "{root}/../outside.txt", "{root}/link/secret", "{root}/a\x00b"],
)
async def test_path_escapes_sent_through_the_gateway_are_refused_by_the_real_server(tmp_path: Path, path: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("outside secret")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret").write_text("outside secret")
    (root / "link").symlink_to(tmp_path / "elsewhere")
    async with secured_suite(root) as suite, client(f"{suite.gateway}/mcp", suite.bearer("writer")) as session:
        read = await session.call_tool("filesystem_read_text_file", {"path": path.format(root=root)})
        write = await session.call_tool(
            "filesystem_write_file", {"path": path.format(root=root).replace("secret", "new"), "content": "x"}
        )
    assert read.is_error and "outside secret" not in json.dumps(read.model_dump(mode="json"))
    assert write.is_error
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["secret"]


async def test_a_rate_limited_call_says_when_to_retry_on_mcp_and_rest(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    limits = {"per_tool": {"filesystem_read_text_file": {"rate": 0.01, "burst": 1}}}
    arguments = {"path": str(tmp_path / "f.txt")}
    async with secured_suite(tmp_path, rate_limits=limits) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        headers = {**FAST, **suite.bearer("reader"), "mcp-name": "filesystem_read_text_file"}
        first = await http.post("/mcp", json=fast_call("filesystem_read_text_file", arguments), headers=headers)
        second = await http.post("/mcp", json=fast_call("filesystem_read_text_file", arguments), headers=headers)
        rest = await http.post(
            "/mcp/v1/tools/call", json={"name": "filesystem_read_text_file", "arguments": arguments}, headers=headers
        )
        other = await http.post(
            "/mcp",
            json=fast_call("filesystem_list_directory", {"path": str(tmp_path)}),
            headers={**headers, "mcp-name": "filesystem_list_directory"},
        )
        audit = [json.loads(line)["outcome"] for line in suite.audit_lines]
    assert "result" in first.json()
    error = second.json()["error"]
    assert error["code"] == -32011 and 0 < error["data"]["retry_after_seconds"] <= 100
    assert error["data"]["bucket"] == "tool"
    assert rest.status_code == 429 and int(rest.headers["retry-after"]) >= 1
    assert rest.json()["error"]["retry_after_seconds"] > 0
    assert "result" in other.json()  # another tool has no such limit
    assert audit.count("rate_limited") == 2 and audit.count("ok") == 2


async def test_invalid_arguments_are_a_tool_error_that_never_reaches_the_upstream(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        before = len(suite.recorder.headers)
        response = await http.post(
            "/mcp",
            json=fast_call("filesystem_read_text_file", {"path": 42, "head": "many"}),
            headers={**FAST, **suite.bearer("reader"), "mcp-name": "filesystem_read_text_file"},
        )
        after = len(suite.recorder.headers)
        audit = [json.loads(line) for line in suite.audit_lines]
    result = response.json()["result"]
    assert result["isError"] and "inputSchema" in result["content"][0]["text"]
    assert "path" in result["content"][0]["text"]
    assert after == before
    assert audit[-1]["outcome"] == "invalid_arguments"
