"""The ollama provider through the official client: against ``ollama_double`` (a stand-in for Ollama's REST
API), and against a live Ollama when ``OLLAMA_HOST`` is set. The double proves the wire protocol the
client and provider speak, not a live Ollama's behaviour."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from servers.aiml.server import build_server
from servers.aiml.service import AimlService
from servers.aiml.settings import aiml_settings
from suite.settings import SuiteSettings
from tests.support.ollama_double import CHAT_MODEL, EMBED_MODEL, OllamaDouble
from tests.support.tool_results import data, text_of
from tests.support.upstreams import free_port, serve_app

pytestmark = pytest.mark.anyio


def ollama_settings(data_dir: Path, url: str, **aiml: Any) -> SuiteSettings:
    section: dict[str, Any] = {
        "providers": {"ollama": {"kind": "ollama", "url": url, "health_ttl_seconds": 0}},
        "aliases": {
            "default": [f"ollama/{CHAT_MODEL}"],
            "fast": [f"ollama/{CHAT_MODEL}"],
            "embed": [f"ollama/{EMBED_MODEL}"],
        },
        **aiml,
    }
    return SuiteSettings(data_dir=data_dir, aiml=section)


@pytest.fixture
async def double() -> AsyncIterator[tuple[OllamaDouble, str]]:
    fake = OllamaDouble()
    async with serve_app(fake.app()) as url:
        yield fake, url


def client_for(settings: SuiteSettings, **kwargs: Any) -> Client:
    service = AimlService(aiml_settings(settings), settings.data_dir)
    return Client(build_server(settings, service), **kwargs)


async def test_models_are_listed_and_shown_with_context_and_dimension(
    tmp_path: Path, double: tuple[OllamaDouble, str], mode: str
) -> None:
    _, url = double
    async with client_for(ollama_settings(tmp_path, url), mode=mode) as client:
        listed = data(await client.call_tool("list_models", {}))
        names = {m["name"]: m for m in listed["models"]}
        assert set(names) == {CHAT_MODEL, EMBED_MODEL} and names[EMBED_MODEL]["kind"] == "embedding"
        assert listed["providers"] == [{"name": "ollama", "kind": "ollama", "healthy": True, "detail": "ok (2 models)"}]
        shown = data(await client.call_tool("show_model", {"model": f"ollama/{EMBED_MODEL}"}))
        assert shown["dimension"] == 8 and shown["context_length"] == 8192 and shown["capabilities"] == ["embedding"]
        chat = data(await client.call_tool("show_model", {"model": "default"}))
        assert chat["context_length"] == 131072 and "tools" in chat["capabilities"]
        missing = await client.call_tool("show_model", {"model": "ollama/nope:1b"})
        assert missing.is_error and text_of(missing).startswith("model_not_found:")


async def test_a_generation_streams_its_text_as_progress_and_reports_ollamas_token_counts(
    tmp_path: Path, double: tuple[OllamaDouble, str], mode: str
) -> None:
    fake, url = double
    fake.answers = ["one two three four five"]
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with client_for(ollama_settings(tmp_path, url, progress_interval_seconds=0), mode=mode) as client:
        done = data(
            await client.call_tool("generate", {"prompt": "count", "max_tokens": 50}, progress_callback=on_progress)
        )
    assert done["text"] == "one two three four five" and done["finish_reason"] == "stop"
    assert seen[0] == "one " and seen[-1] == "one two three four five"
    assert done["usage"]["completion_tokens"] == 5 and done["usage"]["tokens_estimated"] is False
    assert fake.requests[-1][1]["options"]["num_predict"] == 50


async def test_tool_definitions_reach_ollama_and_its_tool_calls_come_back(
    tmp_path: Path, double: tuple[OllamaDouble, str]
) -> None:
    fake, url = double
    fake.tool_call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    async with client_for(ollama_settings(tmp_path, url)) as client:
        done = data(
            await client.call_tool(
                "chat", {"messages": [{"role": "user", "content": "weather in Oslo?"}], "tools": [weather]}
            )
        )
    assert done["tool_calls"] == [{"id": None, "name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert fake.requests[-1][1]["tools"][0]["function"]["name"] == "get_weather"


async def test_embeddings_come_back_with_model_and_dimension(tmp_path: Path, double: tuple[OllamaDouble, str]) -> None:
    _, url = double
    async with client_for(ollama_settings(tmp_path, url)) as client:
        done = data(await client.call_tool("embed", {"texts": ["a", "bb", "ccc"]}))
    assert done["model"] == EMBED_MODEL and done["dimension"] == 8 and len(done["vectors"]) == 3


async def test_a_provider_that_answers_503_hands_the_call_to_the_next_candidate(
    tmp_path: Path, double: tuple[OllamaDouble, str]
) -> None:
    fake, url = double
    fake.down = True
    dead = f"http://127.0.0.1:{free_port()}"
    spare = OllamaDouble(default_answer="from the spare")
    async with serve_app(spare.app()) as spare_url:
        settings = ollama_settings(
            tmp_path,
            url,
            providers={
                "ollama": {"kind": "ollama", "url": url, "health_ttl_seconds": 0},
                "gone": {"kind": "ollama", "url": dead, "health_ttl_seconds": 0},
                "spare": {"kind": "ollama", "url": spare_url},
            },
            aliases={"default": [f"gone/{CHAT_MODEL}", f"ollama/{CHAT_MODEL}", f"spare/{CHAT_MODEL}"]},
        )
        async with client_for(settings) as client:
            done = data(await client.call_tool("generate", {"prompt": "hi", "max_tokens": 8}))
            unavailable = await client.call_tool("generate", {"prompt": "hi", "model": f"gone/{CHAT_MODEL}"})
    assert done["text"] == "from the spare" and done["usage"]["provider"] == "spare"
    assert [a["model"] for a in done["usage"]["fallbacks"]] == [f"gone/{CHAT_MODEL}", f"ollama/{CHAT_MODEL}"]
    assert all(a["reason"].startswith("provider_unavailable") for a in done["usage"]["fallbacks"])
    assert unavailable.is_error and text_of(unavailable).startswith("no_model_available:")


async def test_model_management_is_absent_unless_the_operator_allows_it(
    tmp_path: Path, double: tuple[OllamaDouble, str]
) -> None:
    _, url = double
    async with client_for(ollama_settings(tmp_path, url)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    async with client_for(ollama_settings(tmp_path, url, allow_model_management=True, read_only=True)) as client:
        read_only = {tool.name for tool in (await client.list_tools()).tools}
    assert "pull_model" not in names and "delete_model" not in names
    assert "pull_model" not in read_only


async def test_a_pull_confirmed_by_the_user_reports_its_progress_to_success(
    tmp_path: Path, double: tuple[OllamaDouble, str]
) -> None:
    fake, url = double
    asked: list[str] = []
    steps: list[tuple[float, float | None, str | None]] = []

    async def accept(_ctx: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append((progress, total, message))

    settings = ollama_settings(tmp_path, url, allow_model_management=True)
    async with client_for(settings, elicitation_callback=accept) as client:
        pulled = data(
            await client.call_tool(
                "pull_model", {"provider": "ollama", "model": "qwen2.5:0.5b"}, progress_callback=on_progress
            )
        )
        listed = data(await client.call_tool("list_models", {}))
    assert asked and "qwen2.5:0.5b" in asked[0]
    assert pulled["status"] == "success"
    sizes = [done for done, total, _ in steps if total]
    assert sizes == sorted(sizes) and sizes[-1] == 3 * 1024 * 1024
    assert "qwen2.5:0.5b" in {m["name"] for m in listed["models"]}
    assert [body["model"] for path, body in fake.requests if path == "/api/pull"] == ["qwen2.5:0.5b"]


async def test_a_pull_of_an_unknown_model_fails_with_ollamas_reason(
    tmp_path: Path, double: tuple[OllamaDouble, str]
) -> None:
    _, url = double
    settings = ollama_settings(tmp_path, url, allow_model_management=True)
    async with client_for(settings) as client:
        failed = await client.call_tool("pull_model", {"provider": "ollama", "model": "no-such:model", "confirm": True})
    assert failed.is_error and "file does not exist" in text_of(failed)


async def test_a_delete_declined_by_the_user_deletes_nothing(tmp_path: Path, double: tuple[OllamaDouble, str]) -> None:
    fake, url = double

    async def decline(_ctx: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="decline")

    settings = ollama_settings(tmp_path, url, allow_model_management=True)
    async with client_for(settings, elicitation_callback=decline) as client:
        kept = data(await client.call_tool("delete_model", {"provider": "ollama", "model": CHAT_MODEL}))
    assert kept["deleted"] is False and CHAT_MODEL in fake.models
    assert not any(path == "/api/delete" for path, _ in fake.requests)


async def test_a_delete_without_elicitation_needs_confirm_and_then_deletes(
    tmp_path: Path, double: tuple[OllamaDouble, str]
) -> None:
    fake, url = double
    settings = ollama_settings(tmp_path, url, allow_model_management=True)
    async with client_for(settings) as client:
        refused = await client.call_tool("delete_model", {"provider": "ollama", "model": CHAT_MODEL})
        assert refused.is_error and text_of(refused).startswith("confirmation_required:")
        assert CHAT_MODEL in fake.models
        deleted = data(
            await client.call_tool("delete_model", {"provider": "ollama", "model": CHAT_MODEL, "confirm": True})
        )
        again = await client.call_tool("delete_model", {"provider": "ollama", "model": CHAT_MODEL, "confirm": True})
    assert deleted["deleted"] is True and CHAT_MODEL not in fake.models
    assert again.is_error and text_of(again).startswith("model_not_found:")


@pytest.mark.skipif(not os.environ.get("OLLAMA_HOST"), reason="live Ollama: set OLLAMA_HOST")
async def test_a_live_ollama_lists_its_models_and_generates_a_few_tokens(tmp_path: Path) -> None:
    host = os.environ["OLLAMA_HOST"]
    url = host if host.startswith("http") else f"http://{host}"
    settings = SuiteSettings(
        data_dir=tmp_path,
        aiml={
            "providers": {"ollama": {"kind": "ollama", "url": url}},
            "aliases": {"default": ["ollama/x"], "fast": ["ollama/x"], "embed": ["ollama/x"]},
        },
    )
    async with client_for(settings) as client:
        listed = data(await client.call_tool("list_models", {"kind": "generation"}))
        assert listed["providers"][0]["healthy"] is True
        if listed["models"]:
            name = listed["models"][0]["name"]
            with anyio.fail_after(120):
                done = data(
                    await client.call_tool("generate", {"prompt": "Hello", "model": f"ollama/{name}", "max_tokens": 4})
                )
            assert done["usage"]["completion_tokens"] <= 4
