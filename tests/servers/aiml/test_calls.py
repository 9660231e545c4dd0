"""Whose budget a call charges: the gateway's forwarded principal when the operator trusts it, else the default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.aiml.server import build_server
from servers.aiml.service import AimlService
from servers.aiml.settings import aiml_settings
from servers.kit.principal import PRINCIPAL_META
from suite.settings import SuiteSettings
from tests.support.ollama_double import CHAT_MODEL, EMBED_MODEL, OllamaDouble
from tests.support.tool_results import data, text_of
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ollama_url() -> AsyncIterator[str]:
    async with serve_app(OllamaDouble(default_answer="one two three").app()) as url:
        yield url


def budget_settings(data_dir: Path, url: str, **aiml: Any) -> SuiteSettings:
    section: dict[str, Any] = {
        "providers": {"ollama": {"kind": "ollama", "url": url, "health_ttl_seconds": 0}},
        "aliases": {"default": [f"ollama/{CHAT_MODEL}"], "fast": [f"ollama/{CHAT_MODEL}"]},
        "budget": {"tokens_per_window": 1000, "window_seconds": 3600},
        **aiml,
    }
    return SuiteSettings(data_dir=data_dir, aiml=section)


def as_principal(name: str) -> dict[str, Any]:
    return {PRINCIPAL_META: name}


async def spent_by(client: Client, meta: dict[str, Any] | None) -> tuple[str, int]:
    budget = data(await client.call_tool("show_policy", {}, meta=meta))["budget"]
    return budget["principal"], budget["spent"]


async def test_a_trusted_forwarded_principal_keeps_its_own_budget(tmp_path: Path, ollama_url: str) -> None:
    settings = budget_settings(tmp_path, ollama_url, trust_forwarded_principal=True)
    service = AimlService(aiml_settings(settings), tmp_path)
    async with Client(build_server(settings, service)) as client:
        first = data(await client.call_tool("generate", {"prompt": "count"}, meta=as_principal("alice")))
        data(await client.call_tool("generate", {"prompt": "count"}, meta=as_principal("alice")))
        vectors = data(await client.call_tool("embed", {"texts": ["x"], "model": f"ollama/{EMBED_MODEL}"}))
        alice = await spent_by(client, as_principal("alice"))
        bob = await spent_by(client, as_principal("bob"))
    assert first["usage"]["principal"] == "alice"
    assert alice == ("alice", 2 * first["usage"]["total_tokens"]) and bob == ("bob", 0)
    assert vectors["usage"]["principal"] == "anonymous"  # nothing forwarded: the default principal
    assert service.budgets.principals() == ["alice", "anonymous"]


async def test_a_principal_sent_by_a_client_is_ignored_when_not_trusted(tmp_path: Path, ollama_url: str) -> None:
    settings = budget_settings(tmp_path, ollama_url, default_principal="shared")
    service = AimlService(aiml_settings(settings), tmp_path)
    async with Client(build_server(settings, service)) as client:
        done = data(await client.call_tool("generate", {"prompt": "count"}, meta=as_principal("root")))
        shown = await spent_by(client, as_principal("root"))
    assert done["usage"]["principal"] == "shared"
    assert shown == ("shared", done["usage"]["total_tokens"])
    assert service.budgets.principals() == ["shared"]


async def test_a_spent_forwarded_budget_refuses_that_principal_only(tmp_path: Path, ollama_url: str) -> None:
    settings = budget_settings(tmp_path, ollama_url, trust_forwarded_principal=True)
    service = AimlService(aiml_settings(settings), tmp_path)
    service.budgets.charge("alice", 1000)
    async with Client(build_server(settings, service)) as client:
        refused = await client.call_tool("generate", {"prompt": "count"}, meta=as_principal("alice"))
        served = data(await client.call_tool("generate", {"prompt": "count"}, meta=as_principal("bob")))
    assert refused.is_error and text_of(refused).startswith("budget_exhausted:") and "'alice'" in text_of(refused)
    assert served["usage"]["principal"] == "bob"
    assert service.budgets.state("alice").spent == 1000
