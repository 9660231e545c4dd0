"""Every tool through the SDK client, in both protocol eras: annotations, schemas, chat's output schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from servers.aiml.server import build_server
from tests.servers.aiml.support import LOCAL, service_for, suite_settings
from tests.support.ollama_double import CHAT_MODEL, OllamaDouble
from tests.support.tool_results import data, text_of
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

TOOLS = {
    "list_models",
    "show_model",
    "show_policy",
    "generate",
    "chat",
    "embed",
    "classify",
    "summarize",
    "describe_image",
    "transcribe_audio",
}
IMPOSSIBLE = {"type": "object", "required": ["answer"], "properties": {"answer": {"const": "zebra-quokka-4711"}}}


async def test_every_tool_carries_annotations_and_an_output_schema(tmp_path: Path, model_path: Path, mode: str) -> None:
    settings = suite_settings(tmp_path, model_path)
    async with Client(build_server(settings, service_for(settings)), mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert tool.annotations is not None and tool.output_schema is not None, name
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False, name
    assert tools["classify"].input_schema["properties"]["method"]["enum"] == ["embedding", "prompt"]
    assert tools["generate"].annotations.open_world_hint is False  # type: ignore[union-attr]


async def test_a_schema_constrained_chat_is_retried_once_then_fails_clearly(tmp_path: Path, model_path: Path) -> None:
    settings = suite_settings(tmp_path, model_path)
    service = service_for(settings)
    async with Client(build_server(settings, service)) as client:
        failed = await client.call_tool(
            "chat",
            {
                "messages": [{"role": "user", "content": "Reply with JSON."}],
                "output_schema": IMPOSSIBLE,
                "max_tokens": 8,
                "temperature": 0,
            },
        )
    assert failed.is_error and text_of(failed).startswith("invalid_model_output:")
    assert "twice" in text_of(failed)
    calls = service.metrics.registry.get_sample_value(
        "mcp_aiml_model_call_seconds_count", {"provider": "local", "model": "gemma3-270m"}
    )
    assert calls == 2


async def test_a_first_invalid_answer_is_retried_with_the_validation_error_and_the_second_is_parsed(
    tmp_path: Path, model_path: Path
) -> None:
    remote = OllamaDouble(answers=["Sure! Here it is: maybe", '{"answer": "zebra-quokka-4711"}'])
    async with serve_app(remote.app()) as url:
        settings = suite_settings(
            tmp_path,
            model_path,
            providers={"ws": {"kind": "ollama", "url": url}},
            aliases={"default": [f"ws/{CHAT_MODEL}"], "fast": [LOCAL], "embed": ["local/all-MiniLM-L6-v2"]},
        )
        async with Client(build_server(settings, service_for(settings))) as client:
            done = data(
                await client.call_tool(
                    "chat", {"messages": [{"role": "user", "content": "Reply with JSON."}], "output_schema": IMPOSSIBLE}
                )
            )
    assert done["attempts"] == 2 and done["parsed"] == {"answer": "zebra-quokka-4711"}
    retry = [body for path, body in remote.requests if path == "/api/chat"][-1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Sure! Here it is: maybe"}
    assert "not JSON" in retry[-1]["content"]


async def test_an_invalid_schema_or_a_model_outside_the_allow_list_is_refused_before_any_model_runs(
    tmp_path: Path, model_path: Path
) -> None:
    settings = suite_settings(tmp_path, model_path, allowed_models=["local/all-*"])
    service = service_for(settings)
    async with Client(build_server(settings, service)) as client:
        bad = await client.call_tool(
            "chat", {"messages": [{"role": "user", "content": "hi"}], "output_schema": {"type": 12}, "model": LOCAL}
        )
        outside = await client.call_tool("generate", {"prompt": "hi"})
        too_big = await client.call_tool("generate", {"prompt": "hi", "max_tokens": 0})
    assert text_of(bad).startswith("invalid_schema:")
    assert text_of(outside).startswith("model_not_allowed:")
    assert text_of(too_big).startswith("invalid_arguments:")
    assert service.metrics.registry.get_sample_value(
        "mcp_aiml_model_call_seconds_count", {"provider": "local", "model": "gemma3-270m"}
    ) in (None, 0.0)


async def test_the_max_token_cap_and_the_output_budget_cut_the_answer(tmp_path: Path, model_path: Path) -> None:
    settings = suite_settings(tmp_path, model_path, max_tokens_per_call=4, default_max_tokens=4, max_output_chars=256)
    async with Client(build_server(settings, service_for(settings))) as client:
        done = data(await client.call_tool("generate", {"prompt": "List the numbers: 1, 2, 3,", "max_tokens": 500}))
    assert done["max_tokens"] == 4 and done["usage"]["completion_tokens"] <= 4


async def test_classify_by_embedding_and_summarize_give_structured_results(tmp_path: Path, model_path: Path) -> None:
    settings = suite_settings(tmp_path, model_path)
    async with Client(build_server(settings, service_for(settings))) as client:
        sorted_ = data(
            await client.call_tool(
                "classify",
                {"text": "The stock market fell after the rate rise.", "labels": ["finance", "pets", "sport"]},
            )
        )
        prompted = data(
            await client.call_tool(
                "classify", {"text": "I love my dog.", "labels": ["pets", "finance"], "method": "prompt"}
            )
        )
        summary = data(
            await client.call_tool(
                "summarize",
                {"text": "Cats sleep a lot. They purr when content. " * 2, "max_words": 5, "style": "bullets"},
            )
        )
    assert (
        sorted_["label"] == "finance"
        and sorted_["method"] == "embedding"
        and set(sorted_["scores"])
        == {
            "finance",
            "pets",
            "sport",
        }
    )
    assert prompted["label"] in {"pets", "finance"} and prompted["answer"] is not None
    assert summary["words"] <= 5 and summary["style"] == "bullets" and summary["usage"]["provider"] == "local"


async def test_models_are_resources_and_the_seed_prompts_are_conversations_for_chat(
    tmp_path: Path, model_path: Path, mode: str
) -> None:
    settings = suite_settings(tmp_path, model_path)
    async with Client(build_server(settings, service_for(settings)), mode=mode) as client:
        listed = {r.uri for r in (await client.list_resources()).resources}
        card = await client.read_resource("model://local/all-MiniLM-L6-v2")
        missing = await client.call_tool("show_model", {"model": "local/no-such"})
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        fix = await client.get_prompt("auto_fix_code", {"code": "print(x)", "error": "NameError: name 'x'"})
    assert {"model://local/gemma3-270m", "model://local/all-MiniLM-L6-v2"} <= {str(u) for u in listed}
    body = json.loads(card.contents[0].text)  # type: ignore[union-attr]
    assert body["dimension"] == 384 and body["capabilities"] == ["embedding"]
    assert text_of(missing).startswith("model_not_found:")
    assert prompts == {"generate_architecture", "auto_fix_code"}
    assert "NameError" in fix.messages[0].content.text  # type: ignore[union-attr]
