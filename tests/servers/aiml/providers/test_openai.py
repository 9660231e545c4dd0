"""The openai provider for real, against llama-cpp-python's own OpenAI-compatible server
(``python -m llama_cpp.server``) started on a free port with the bundled GGUF."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client

from servers.aiml.server import build_server
from tests.servers.aiml.support import service_for, suite_settings
from tests.support.tool_results import data
from tests.support.upstreams import free_port

pytestmark = pytest.mark.anyio

START_SECONDS = 120.0
ALIAS = "gemma3"


@pytest.fixture(scope="module")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", ALIAS]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {START_SECONDS}s")
            time.sleep(0.1)  # the poll interval of a deadline loop, not a synchronisation
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def settings_for(tmp_path: Path, model_path: Path, url: str) -> object:
    return suite_settings(
        tmp_path,
        model_path,
        providers={"llamacpp": {"kind": "openai", "url": url, "cost_per_1k_tokens": 1}},
        aliases={"default": [f"llamacpp/{ALIAS}"], "fast": ["local/gemma3-270m"], "embed": ["local/all-MiniLM-L6-v2"]},
    )


async def test_a_completion_streams_from_the_endpoint_with_its_own_token_counts(
    tmp_path: Path, model_path: Path, llama_server: str
) -> None:
    settings = settings_for(tmp_path, model_path, llama_server)
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pieces.append(message or "")

    async with Client(build_server(settings, service_for(settings))) as client:  # type: ignore[arg-type]
        listed = data(await client.call_tool("list_models", {"provider": "llamacpp"}))
        done = data(
            await client.call_tool(
                "generate",
                {"prompt": "One, two, three,", "max_tokens": 5, "temperature": 0},
                progress_callback=on_progress,
            )
        )
    assert [m["name"] for m in listed["models"]] == [ALIAS]
    assert done["usage"]["provider"] == "llamacpp" and done["usage"]["model"] == ALIAS
    assert 1 <= done["usage"]["completion_tokens"] <= 5 and done["usage"]["cost_units"] > 0
    assert pieces and done["text"].startswith(pieces[0])


async def test_a_chat_answers_through_chat_completions(tmp_path: Path, model_path: Path, llama_server: str) -> None:
    settings = settings_for(tmp_path, model_path, llama_server)
    async with Client(build_server(settings, service_for(settings))) as client:  # type: ignore[arg-type]
        done = data(
            await client.call_tool(
                "chat", {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 5, "temperature": 0}
            )
        )
    assert done["usage"]["provider"] == "llamacpp" and done["attempts"] == 1
    assert done["usage"]["completion_tokens"] <= 5
