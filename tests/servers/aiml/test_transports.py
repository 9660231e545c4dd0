"""The aiml server over streamable HTTP, both eras: health once the model is warm, streamed text on the wire,
and the usage metrics on /metrics."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from servers.aiml.server import DEFINITION, build_server
from servers.runtime.serve import build_http_app
from tests.servers.aiml.support import data, service_for, suite_settings
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio


async def test_over_http_health_turns_ready_and_a_generation_streams_its_text(tmp_path: Path, model_path: Path) -> None:
    settings = suite_settings(tmp_path, model_path, progress_interval_seconds=0)
    server = build_server(settings, service_for(settings))
    async with serve_app(build_http_app(DEFINITION, server, settings)) as base, httpx.AsyncClient() as http:
        with anyio.fail_after(60):  # 503 while the model loads, then 200
            while (health := await http.get(f"{base}/health")).status_code != 200:
                assert health.status_code == 503
                await anyio.sleep(0.1)
        assert health.json()["checks"]["provider local"].startswith("ok (local, warm")
        for mode in ("legacy", "auto"):
            texts: list[str] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                texts.append(message or "")  # noqa: B023 - read before the next round of the loop

            async with Client(f"{base}/mcp", mode=mode) as client:
                done = data(
                    await client.call_tool(
                        "generate",
                        {"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0},
                        progress_callback=on_progress,
                    )
                )
            assert texts and texts[-1] == done["text"], mode
            assert all(later.startswith(earlier) for earlier, later in pairwise(texts)), mode
        scraped = (await http.get(f"{base}/metrics")).text
    assert 'mcp_aiml_tokens_total{kind="completion",model="gemma3-270m",provider="local"}' in scraped
