"""The vectorstore over streamable HTTP, both eras: health once warm, progress and elicitation on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, types

from servers.runtime.serve import build_http_app
from servers.vectorstore.server import DEFINITION
from tests.servers.vectorstore.support import CORPUS, data, suite_settings
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def http_server(tmp_path: Path) -> AsyncIterator[str]:
    settings = suite_settings(tmp_path / "data", upsert_batch_size=2)
    async with serve_app(build_http_app(DEFINITION, DEFINITION.build(settings), settings)) as base:
        yield base


async def test_over_http_health_turns_ready_and_progress_and_elicitation_reach_the_client(tmp_path: Path) -> None:
    async def on_elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"confirm": True})

    async with http_server(tmp_path) as base:
        async with httpx.AsyncClient() as http:
            with anyio.fail_after(60):  # 503 while the model warms, then 200
                while (health := await http.get(f"{base}/health")).status_code != 200:
                    assert health.status_code == 503
                    await anyio.sleep(0.1)
        assert health.json()["checks"]["embedder default"].startswith("warm")
        for mode in ("legacy", "auto"):
            seen: list[float] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(progress)  # noqa: B023 - read before the next round of the loop

            name = f"web-{mode}"
            async with Client(f"{base}/mcp", mode=mode, elicitation_callback=on_elicit) as client:
                data(await client.call_tool("create_collection", {"collection": name}))
                documents = [{"text": text} for text in CORPUS]
                arguments = {"collection": name, "documents": documents}
                data(await client.call_tool("upsert_documents", arguments, progress_callback=on_progress))
                dropped = data(await client.call_tool("delete_collection", {"collection": name}))
            assert seen == [2, 4, 6], mode
            assert dropped["deleted"] is True, mode
