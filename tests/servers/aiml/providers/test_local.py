"""The local provider for real: gemma3-270m on llama-cpp-python and the bundled embedder (loaded once)."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy
import pytest
from mcp import Client

from servers.aiml.providers.local.provider import LocalProvider
from servers.aiml.server import build_server
from tests.servers.aiml.support import LOCAL, service_for, suite_settings
from tests.support.ollama_double import CHAT_MODEL, OllamaDouble
from tests.support.tool_results import data, text_of
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio


async def test_a_short_completion_streams_its_text_and_counts_its_tokens(
    tmp_path: Path, model_path: Path, mode: str
) -> None:
    seen: list[tuple[float, float | None, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message or ""))

    settings = suite_settings(tmp_path, model_path)
    async with Client(build_server(settings, service_for(settings)), mode=mode) as client:
        done = data(
            await client.call_tool(
                "generate",
                {"prompt": "The capital of France is", "max_tokens": 6, "temperature": 0},
                progress_callback=on_progress,
            )
        )
    usage = done["usage"]
    assert done["text"].strip() and done["max_tokens"] == 6
    assert usage["provider"] == "local" and usage["model"] == "gemma3-270m" and not usage["tokens_estimated"]
    assert 1 <= usage["completion_tokens"] <= 6 and usage["prompt_tokens"] >= 5
    assert usage["first_token_ms"] is not None and usage["first_token_ms"] <= usage["latency_ms"]
    assert seen and seen[0][1] == 6 and done["text"].startswith(seen[0][2])


async def test_an_embedding_is_384_unit_length_dimensions_of_the_bundled_model(
    tmp_path: Path, model_path: Path
) -> None:
    settings = suite_settings(tmp_path, model_path)
    async with Client(build_server(settings, service_for(settings))) as client:
        done = data(await client.call_tool("embed", {"texts": ["a cat sleeps", "a kitten naps", "bond yields rose"]}))
    vectors = numpy.asarray(done["vectors"])
    assert done["model"] == "all-MiniLM-L6-v2" and done["dimension"] == 384 and vectors.shape == (3, 384)
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert done["usage"]["tokens_estimated"] is True and done["usage"]["completion_tokens"] == 0


async def test_cancelling_mid_stream_stops_the_model_at_its_next_token(tmp_path: Path, model_path: Path) -> None:
    settings = suite_settings(tmp_path, model_path, budget={"tokens_per_window": 100_000})
    service = service_for(settings)
    local = service.providers["local"]
    assert isinstance(local, LocalProvider)
    async with Client(build_server(settings, service), mode="legacy") as client:
        with anyio.CancelScope() as scope:

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if progress >= 3:
                    scope.cancel()  # the client gives up after a few tokens: notifications/cancelled

            await client.call_tool(
                "generate",
                {"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0.8},
                progress_callback=on_progress,
            )
        assert scope.cancelled_caught
        with anyio.fail_after(30):
            while local.active_generations or not service.budgets.state("anonymous").spent:
                await anyio.lowlevel.checkpoint()
        after = data(await client.call_tool("show_policy", {}))
    spent = after["budget"]["spent"]
    assert 3 <= spent < 100  # the prompt and the few tokens produced, not the 400 asked for
    assert after["queues"][0]["running"] == 0


async def test_a_budget_running_low_moves_calls_to_the_cheaper_local_model_then_refuses(
    tmp_path: Path, model_path: Path
) -> None:
    remote = OllamaDouble(default_answer="from the big model")
    async with serve_app(remote.app()) as url:
        settings = suite_settings(
            tmp_path,
            model_path,
            providers={"big": {"kind": "ollama", "url": url, "cost_per_1k_tokens": 10}},
            aliases={"default": [f"big/{CHAT_MODEL}"], "fast": [LOCAL], "embed": ["local/all-MiniLM-L6-v2"]},
            budget={"tokens_per_window": 1000, "low_fraction": 0.5},
        )
        async with Client(build_server(settings, service_for(settings))) as client:
            first = data(await client.call_tool("generate", {"prompt": "x" * 2400, "max_tokens": 4}))
            second = data(await client.call_tool("generate", {"prompt": "Hello", "max_tokens": 4, "temperature": 0}))
            policy = data(await client.call_tool("show_policy", {}))
            spend = "z" * (4 * policy["budget"]["remaining"])  # the local embedder's estimate: 4 characters a token
            data(await client.call_tool("embed", {"texts": [spend]}))
            spent = data(await client.call_tool("show_policy", {}))
            refused = await client.call_tool("generate", {"prompt": "Hello"})
    assert first["usage"]["provider"] == "big" and first["usage"]["cost_units"] > 0
    assert first["usage"]["budget_remaining"] < 500
    assert second["usage"]["provider"] == "local" and second["usage"]["cost_units"] == 0
    assert policy["budget"]["low"] is True and spent["budget"]["remaining"] == 0
    assert refused.is_error and text_of(refused).startswith("budget_exhausted:")
