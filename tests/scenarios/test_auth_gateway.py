"""Attack tests at the gateway's door: who gets in, with which credential, and what the 401 says."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.security_fixtures import API_KEY, JWT_SECRET, MODERN, client, secured_suite

pytestmark = pytest.mark.anyio

CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
PROTECTED = ["/mcp", "/servers/filesystem/mcp", "/supervisors/system/mcp", "/mcp/v1/tools/list", "/v1/instances"]


async def test_every_protected_path_refuses_an_unauthenticated_caller_and_health_stays_open(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        for path in PROTECTED:
            response = await (http.get(path) if path.startswith("/v1/") else http.post(path, json=CALL, headers=MODERN))
            assert response.status_code == 401, path
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge
            assert "error=" not in challenge  # no credentials presented: no error code (RFC 6750 3.1)
        assert (await http.get("/health")).status_code == 200


async def test_the_mcp_endpoint_publishes_rfc_9728_protected_resource_metadata(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        refused = await http.post("/mcp", json=CALL, headers=MODERN)
        url = refused.headers["www-authenticate"].split('resource_metadata="')[1].split('"')[0]
        assert url == f"{suite.gateway}/.well-known/oauth-protected-resource/mcp"
        metadata = (await http.get(url)).json()
        supervisor = (await http.get("/.well-known/oauth-protected-resource/supervisors/system/mcp")).json()
    assert metadata["resource"] == f"{suite.gateway}/mcp"
    assert metadata["authorization_servers"] == ["https://idp.example/"]
    assert metadata["bearer_methods_supported"] == ["header"]
    assert supervisor["resource"] == f"{suite.gateway}/supervisors/system/mcp"


def _tokens() -> dict[str, str]:
    now = int(time.time())
    base = {"sub": "mallory", "roles": ["writer"], "aud": "mcp-suite", "iat": now, "exp": now + 300}
    return {
        "expired": jwt.encode({**base, "exp": now - 3600}, JWT_SECRET, algorithm="HS256"),
        "not yet valid": jwt.encode({**base, "nbf": now + 3600}, JWT_SECRET, algorithm="HS256"),
        "forged": jwt.encode(base, "f" * 48, algorithm="HS256"),
        "wrong audience": jwt.encode({**base, "aud": "other"}, JWT_SECRET, algorithm="HS256"),
        "alg none": jwt.encode(base, "", algorithm="none"),
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize("kind", list(_tokens()))
async def test_a_bad_token_is_refused_with_invalid_token_on_mcp_and_rest(tmp_path: Path, kind: str) -> None:
    token = _tokens()[kind]
    headers = {**MODERN, "authorization": f"Bearer {token}"}
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        mcp = await http.post("/mcp", json=CALL, headers=headers)
        rest = await http.post("/mcp/v1/tools/call", json={"name": "filesystem_write_file"}, headers=headers)
    assert mcp.status_code == 401 and 'error="invalid_token"' in mcp.headers["www-authenticate"]
    assert mcp.json()["error"] == "invalid_token"
    assert token not in mcp.text  # the refusal never echoes the credential
    assert rest.status_code == 401 and rest.json()["error"]["code"] == "unauthorized"
    assert not any("write" in line for line in suite.audit_lines)


async def test_api_keys_work_in_x_api_key_and_authorization_apikey_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        by_header = await http.post("/mcp/v1/tools/list", json={}, headers={"x-api-key": API_KEY})
        by_scheme = await http.post("/mcp/v1/tools/list", json={}, headers={"authorization": f"ApiKey {API_KEY}"})
        wrong = await http.post("/mcp/v1/tools/list", json={}, headers={"x-api-key": API_KEY + "x"})
    assert by_header.status_code == 200 and by_scheme.status_code == 200
    names = {tool["name"] for tool in by_header.json()["tools"]}
    assert "filesystem_read_text_file" in names and "filesystem_write_file" not in names
    assert wrong.status_code == 401


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_valid_token_gets_in_through_the_sdk_client_in_both_eras(tmp_path: Path, mode: str) -> None:
    (tmp_path / "hello.txt").write_text("hi")
    async with (
        secured_suite(tmp_path) as suite,
        client(f"{suite.gateway}/mcp", suite.bearer("reader"), mode) as session,
    ):
        result = await session.call_tool("filesystem_read_text_file", {"path": str(tmp_path / "hello.txt")})
    assert not result.is_error


async def test_a_session_opened_by_one_principal_cannot_be_used_by_another(tmp_path: Path) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        opened = await http.post("/mcp", json=init, headers={**headers, **suite.bearer("writer", subject="alice")})
        session = opened.headers["mcp-session-id"]
        hijack = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={**headers, **suite.bearer("writer", subject="bob"), "mcp-session-id": session},
        )
    assert hijack.status_code == 404


async def test_a_foreign_host_or_origin_is_refused(tmp_path: Path) -> None:
    async with secured_suite(tmp_path) as suite, httpx.AsyncClient(base_url=suite.gateway) as http:
        headers = {**MODERN, **suite.bearer("reader")}
        host = await http.post("/mcp", json=CALL, headers={**headers, "host": "evil.example"})
        origin = await http.post("/mcp", json=CALL, headers={**headers, "origin": "http://evil.example"})
        rest = await http.post("/mcp/v1/tools/list", json={}, headers={**headers, "origin": "http://evil.example"})
        fine = await http.post("/mcp/v1/tools/list", json={}, headers={**headers, "origin": suite.gateway})
    assert host.status_code == 421
    assert origin.status_code == 403 and origin.json()["error"]["code"] == -32600
    assert rest.status_code == 403 and rest.json()["error"]["code"] == "forbidden_origin"
    assert fine.status_code == 200
