"""The principal of a call: a verified token first, then the gateway's forwarded principal when trusted,
else the server's default."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context

from servers.kit.principal import MAX_PRINCIPAL_CHARS, PRINCIPAL_HEADER, PRINCIPAL_META, principal_of
from tests.support.security_fixtures import client as client_with_headers
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Policy:
    trust_forwarded_principal: bool
    default_principal: str = "nobody"


def server_for(policy: Policy, token: AccessToken | None = None) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("principal-test")

    @server.tool()
    async def whoami(ctx: Context[Any, Any]) -> str:
        """The principal of this call."""
        if token is None:
            return principal_of(ctx, policy)
        reset = auth_context_var.set(AuthenticatedUser(token))  # what the SDK's AuthContextMiddleware does
        try:
            return principal_of(ctx, policy)
        finally:
            auth_context_var.reset(reset)

    return server


async def whoami(server: MCPServer[Any], meta: dict[str, Any] | None = None) -> Any:
    async with Client(server) as client:
        result = await client.call_tool("whoami", {}, meta=meta)
    return (result.structured_content or {})["result"]


async def test_a_trusted_forwarded_principal_is_the_callers() -> None:
    assert await whoami(server_for(Policy(True)), {PRINCIPAL_META: "alice"}) == "alice"


async def test_a_forwarded_principal_is_ignored_unless_the_operator_trusts_it() -> None:
    assert await whoami(server_for(Policy(False)), {PRINCIPAL_META: "alice"}) == "nobody"


async def test_without_a_forwarded_principal_the_default_one_is_used() -> None:
    assert await whoami(server_for(Policy(True, "local"))) == "local"
    assert await whoami(server_for(Policy(True, "local")), {PRINCIPAL_META: ""}) == "local"
    assert await whoami(server_for(Policy(True, "local")), {PRINCIPAL_META: 42}) == "local"


async def test_a_verified_token_wins_over_a_forwarded_principal() -> None:
    expires = int(time.time()) + 60
    token = AccessToken(token="t", client_id="app", scopes=[], expires_at=expires, subject="carol")
    assert await whoami(server_for(Policy(True), token), {PRINCIPAL_META: "alice"}) == "carol"
    no_subject = AccessToken(token="t", client_id="app", scopes=[], expires_at=expires)
    assert await whoami(server_for(Policy(True), no_subject), {PRINCIPAL_META: "alice"}) == "app"


async def test_a_long_forwarded_principal_is_cut() -> None:
    assert await whoami(server_for(Policy(True)), {PRINCIPAL_META: "a" * 1000}) == "a" * MAX_PRINCIPAL_CHARS


async def test_the_forwarding_header_counts_over_http_when_trusted_and_only_then() -> None:
    answers = []
    for trusted in (True, False):
        server = server_for(Policy(trusted))
        async with (
            serve_app(server.streamable_http_app()) as base,
            client_with_headers(f"{base}/mcp", {PRINCIPAL_HEADER: "dave"}, "legacy") as session,
        ):
            result = await session.call_tool("whoami", {})
        answers.append((result.structured_content or {})["result"])
    assert answers == ["dave", "nobody"]
