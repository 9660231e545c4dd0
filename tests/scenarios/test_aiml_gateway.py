"""The aiml server behind the real gateway: its media tools on the multimodal supervisor, and one token budget per
authenticated caller (the gateway forwards the subject; the server trusts it behind the upstream secret). The
models are the Ollama double's (its wire format, not a live Ollama)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from gateway.door.http_app import build_gateway_app
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from mesh.security.tokens import mint_token
from servers.runtime.serve import build_http_app
from suite.known import load_definition
from suite.settings import SuiteSettings
from tests.support.ollama_double import CHAT_MODEL, OllamaDouble
from tests.support.security_fixtures import JWT_SECRET, UPSTREAM_SECRET, client
from tests.support.tool_results import data
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

MEDIA_TOOLS = {"aiml_describe_image", "aiml_transcribe_audio"}


@asynccontextmanager
async def aiml_behind_gateway(tmp_path: Path, **config: Any) -> AsyncIterator[str]:
    """The aiml server (over the Ollama double) served over HTTP behind the gateway; yields the gateway's URL."""
    async with serve_app(OllamaDouble(default_answer="one two three").app()) as ollama:
        aiml = {
            "providers": {"ollama": {"kind": "ollama", "url": ollama, "health_ttl_seconds": 0}},
            "aliases": {"default": [f"ollama/{CHAT_MODEL}"], "fast": [f"ollama/{CHAT_MODEL}"]},
            **config.pop("aiml", {}),
        }
        settings = SuiteSettings(data_dir=tmp_path, aiml=aiml, **config)
        definition = load_definition("aiml")
        async with serve_app(build_http_app(definition, definition.build(settings), settings)) as base:
            registry = StaticRegistry({"aiml": (StaticInstance(url=f"{base}/mcp"),)})
            app, _gateway = build_gateway_app(settings.gateway, registry, suite=settings)
            async with serve_app(app) as gateway:
                yield gateway


async def test_the_media_tools_are_served_on_the_multimodal_supervisor(tmp_path: Path) -> None:
    async with aiml_behind_gateway(tmp_path) as gateway:
        async with Client(f"{gateway}/supervisors/multimodal/mcp") as session:
            multimodal = {tool.name for tool in (await session.list_tools()).tools}
        async with Client(f"{gateway}/supervisors/intelligence/mcp") as session:
            intelligence = {tool.name for tool in (await session.list_tools()).tools}
    assert multimodal >= MEDIA_TOOLS and "aiml_generate" not in multimodal
    assert MEDIA_TOOLS | {"aiml_generate", "aiml_show_policy"} <= intelligence


async def test_each_authenticated_caller_spends_its_own_token_budget(tmp_path: Path) -> None:
    config: dict[str, Any] = {
        "aiml": {"trust_forwarded_principal": True, "budget": {"tokens_per_window": 10_000}},
        "auth": {
            "jwt": {"secret": JWT_SECRET, "audience": "mcp-suite", "issuer": None},
            "upstream_secret": UPSTREAM_SECRET,
        },
        "roles": {"user": {"allow": ["aiml_*"]}},
    }

    def bearer(subject: str) -> dict[str, str]:
        token = mint_token(JWT_SECRET, subject=subject, roles=("user",), audience="mcp-suite")
        return {"authorization": f"Bearer {token}"}

    async with aiml_behind_gateway(tmp_path, **config) as gateway:
        async with client(f"{gateway}/mcp", bearer("alice")) as session:
            first = data(await session.call_tool("aiml_generate", {"prompt": "count"}))
            data(await session.call_tool("aiml_generate", {"prompt": "count"}))
            alice = data(await session.call_tool("aiml_show_policy", {}))["budget"]
        async with client(f"{gateway}/mcp", bearer("bob")) as session:
            bob = data(await session.call_tool("aiml_show_policy", {}))["budget"]
    assert first["usage"]["principal"] == "alice"
    assert (alice["principal"], alice["spent"]) == ("alice", 2 * first["usage"]["total_tokens"])
    assert (bob["principal"], bob["spent"]) == ("bob", 0)
