"""A secured suite for attack tests: the real filesystem server behind the upstream secret, a gateway
with JWT + API-key auth, roles, rate limits and an audit file, both served by uvicorn on free ports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.door.http_app import build_gateway_app
from mesh.asgi_body import read_body, replay
from mesh.config import Settings, StaticInstance
from mesh.registry import StaticRegistry
from mesh.security.api_keys import hash_api_key
from mesh.security.tokens import mint_token
from servers.runtime.serve import build_http_app
from suite.known import load_definition
from suite.settings import SuiteSettings
from tests.support.upstreams import serve_app

JWT_SECRET = "j" * 48
UPSTREAM_SECRET = "u" * 32
API_KEY = "mcps_test-key-for-the-reader-role-0000000000"
MODERN = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2026-07-28",
}
ROLES: dict[str, Any] = {
    "reader": {"allow": ["filesystem_read_*", "filesystem_list_*", "resource:file://*"]},
    "writer": {"allow": ["filesystem_*"], "servers": {"filesystem": {"deny": ["filesystem_delete_*"]}}},
}


class HeaderRecorder:
    """Wraps an upstream app and keeps the headers of every request it receives, and the JSON-RPC
    messages of its POST bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers: list[dict[str, str]] = []
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode(): v.decode("latin-1") for k, v in scope["headers"]})
            if scope["method"] == "POST":
                body, complete = await read_body(receive, 1 << 20)
                try:
                    message = json.loads(body)
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    self.messages.append(message)
                receive = replay(body, receive, complete)
        await self.app(scope, receive, send)


@dataclass
class Suite:
    gateway: str
    filesystem: str
    root: Path
    settings: Settings
    recorder: HeaderRecorder
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, *roles: str, subject: str = "alice", **kwargs: Any) -> str:
        return mint_token(JWT_SECRET, subject=subject, roles=roles, audience="mcp-suite", **kwargs)

    def bearer(self, *roles: str, subject: str = "alice") -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(*roles, subject=subject)}"}

    @property
    def audit_lines(self) -> list[str]:
        path = self.settings.data_dir / "audit.jsonl"
        return path.read_text().splitlines() if path.exists() else []


def client(url: str, headers: dict[str, str], mode: str = "auto") -> Client:
    """An SDK client that sends ``headers`` on every request."""

    @asynccontextmanager
    async def transport() -> AsyncIterator[Any]:
        async with (
            create_mcp_http_client(headers=headers) as http,
            streamable_http_client(url, http_client=http) as streams,
        ):
            yield streams

    return Client(transport(), mode=mode)


@asynccontextmanager
async def secured_suite(root: Path, **overrides: Any) -> AsyncIterator[Suite]:
    config: dict[str, Any] = {
        "filesystem": {"roots": [{"path": str(root), "mode": "rw"}]},
        "auth": {
            "jwt": {"secret": JWT_SECRET, "audience": "mcp-suite", "issuer": None},
            "api_keys": [{"name": "ci", "sha256": hash_api_key(API_KEY), "roles": ["reader"]}],
            "upstream_secret": UPSTREAM_SECRET,
            "authorization_servers": ["https://idp.example"],
        },
        "roles": ROLES,
        "audit": {"fsync_interval_seconds": 0},
        **overrides,
    }
    settings = SuiteSettings(**config)
    definition = load_definition("filesystem")
    recorder = HeaderRecorder(build_http_app(definition, definition.build(settings), settings))
    async with serve_app(recorder) as fs_base:
        registry = StaticRegistry({"filesystem": (StaticInstance(url=f"{fs_base}/mcp"),)})
        app, _gateway = build_gateway_app(settings.gateway, registry, suite=settings)
        async with serve_app(app) as gw_base:
            yield Suite(gw_base, fs_base, root, settings, recorder)
