"""Collections as vector:// resources: listed, read as JSON, and announced to listeners after writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.vectorstore.support import CORPUS, connect, data, suite_settings

pytestmark = pytest.mark.anyio


async def test_every_collection_is_a_resource_with_its_description(tmp_path: Path, mode: str) -> None:
    async with connect(suite_settings(tmp_path), mode) as client:
        data(await client.call_tool("create_collection", {"collection": "notes", "backend": "qdrant"}))
        data(
            await client.call_tool(
                "upsert_documents", {"collection": "notes", "backend": "qdrant", "documents": [{"text": CORPUS[0]}]}
            )
        )
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        read = await client.read_resource("vector://qdrant/notes")
    assert "vector://qdrant/notes" in listed and "vector://{backend}/{collection}" in templates
    body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert body["count"] == 1 and body["model"] == "all-MiniLM-L6-v2"


async def test_reading_an_unknown_collection_is_a_resource_error(tmp_path: Path, mode: str) -> None:
    from mcp.shared.exceptions import MCPError

    async with connect(suite_settings(tmp_path), mode) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource("vector://chroma/nowhere")
    assert "unknown_collection" in str(refused.value)


async def test_writes_to_a_collection_reach_listen_subscribers(tmp_path: Path) -> None:
    uri = "vector://chroma/notes"
    async with connect(suite_settings(tmp_path), "auto") as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        async with client.listen(resource_subscriptions=[uri]) as events:
            data(
                await client.call_tool("upsert_documents", {"collection": "notes", "documents": [{"text": CORPUS[1]}]})
            )
            event = await events.__anext__()
    assert getattr(event, "uri", None) == uri
