"""Every tool through the SDK client, in both protocol eras, on Chroma embedded and Qdrant local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import types

from tests.servers.vectorstore.support import CORPUS, FINANCE, connect, data, suite_settings, text_of
from tests.support.cancellation import cancel_at_first_progress, settled

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {
    "create_collection",
    "delete_collection",
    "upsert_documents",
    "ingest_text",
    "ingest_files",
    "update_documents",
    "delete_documents",
    "reembed_collection",
}
READ_TOOLS = {"list_collections", "describe_collection", "get_documents", "count_documents", "query"}


def docs() -> list[dict[str, Any]]:
    return [{"text": text, "metadata": {"n": i}} for i, text in enumerate(CORPUS)]


async def test_every_tool_carries_annotations_and_an_output_schema(tmp_path: Path, mode: str) -> None:
    async with connect(suite_settings(tmp_path), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS
    for name, tool in tools.items():
        assert tool.annotations is not None and tool.output_schema is not None, name
        assert tool.annotations.read_only_hint is (name in READ_TOOLS), name
    assert tools["delete_collection"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["query"].input_schema["properties"]["mode"]["enum"] == ["dense", "keyword", "hybrid"]


async def test_read_only_mode_registers_no_write_tool(tmp_path: Path, mode: str) -> None:
    async with connect(suite_settings(tmp_path, read_only=True), mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("upsert_documents", {"collection": "notes", "documents": [{"text": "x"}]})
    assert names == READ_TOOLS
    assert refused.is_error and text_of(refused).startswith("unknown_tool:")


async def test_the_tools_create_fill_query_page_update_count_and_delete(
    tmp_path: Path, mode: str, backend_name: str
) -> None:
    where = {"collection": "notes", "backend": backend_name}
    async with connect(suite_settings(tmp_path), mode) as client:
        created = data(await client.call_tool("create_collection", {**where, "metadata_fields": ["n"]}))
        assert created["collection"]["uri"] == f"vector://{backend_name}/notes"
        written = data(await client.call_tool("upsert_documents", {**where, "documents": docs()}))
        assert written["written"] == len(CORPUS)
        listed = data(await client.call_tool("list_collections", {}))
        assert {"backend": backend_name, "name": "notes", "uri": f"vector://{backend_name}/notes"} in listed[
            "collections"
        ]
        described = data(await client.call_tool("describe_collection", where))
        assert described["count"] == len(CORPUS) and described["dimension"] == 384
        hits = data(await client.call_tool("query", {**where, "text": "interest rates rose", "mode": "hybrid"}))
        assert hits["hits"][0]["text"] == FINANCE[0] and hits["embedder"] == "default"
        page = data(await client.call_tool("get_documents", {**where, "limit": 2}))
        assert len(page["documents"]) == 2 and page["next_cursor"]
        rest = data(await client.call_tool("get_documents", {**where, "limit": 10, "cursor": page["next_cursor"]}))
        assert len(rest["documents"]) == len(CORPUS) - 2 and rest["next_cursor"] is None
        first = page["documents"][0]["id"]
        data(await client.call_tool("update_documents", {**where, "updates": [{"id": first, "metadata": {"n": 99}}]}))
        counted = data(await client.call_tool("count_documents", {**where, "where": {"n": 99}}))
        assert counted == {"backend": backend_name, "collection": "notes", "count": 1, "filtered": True}
        deleted = data(await client.call_tool("delete_documents", {**where, "where": {"n": {"$gte": 3}}}))
        assert deleted["deleted"] >= 2
        dropped = data(await client.call_tool("delete_collection", {**where, "confirm": True}))
        assert dropped["deleted"] is True
        gone = await client.call_tool("describe_collection", where)
    assert gone.is_error and text_of(gone).startswith("unknown_collection:")


async def test_bad_input_gets_a_coded_error(tmp_path: Path, mode: str) -> None:
    async with connect(suite_settings(tmp_path), mode) as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        empty = await client.call_tool("query", {"collection": "notes", "text": "anything"})
        data(await client.call_tool("upsert_documents", {"collection": "notes", "documents": docs()}))
        bad_filter = await client.call_tool("count_documents", {"collection": "notes", "where": {"$xor": []}})
        unknown = await client.call_tool("query", {"collection": "nowhere", "text": "x"})
        wrong_vector = await client.call_tool("query", {"collection": "notes", "vector": [0.1, 0.2]})
        bad_mode = await client.call_tool("query", {"collection": "notes", "text": "x", "mode": "fuzzy"})
        exists = await client.call_tool("create_collection", {"collection": "notes"})
    assert text_of(empty).startswith("empty_collection:")
    assert text_of(bad_filter).startswith("invalid_filter:")
    assert text_of(unknown).startswith("unknown_collection:")
    assert text_of(wrong_vector).startswith("dimension_mismatch:")
    assert text_of(bad_mode).startswith("invalid_arguments:")
    assert text_of(exists).startswith("collection_exists:")


async def test_an_upsert_sends_progress_notifications(tmp_path: Path, mode: str) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with connect(suite_settings(tmp_path, upsert_batch_size=2), mode) as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        data(
            await client.call_tool(
                "upsert_documents", {"collection": "notes", "documents": docs()}, progress_callback=on_progress
            )
        )
    assert seen == [(2, 6), (4, 6), (6, 6)]


async def test_delete_collection_without_elicitation_needs_confirm_and_changes_nothing_without_it(
    tmp_path: Path, mode: str
) -> None:
    async with connect(suite_settings(tmp_path), mode) as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        refused = await client.call_tool("delete_collection", {"collection": "notes"})
        still = data(await client.call_tool("describe_collection", {"collection": "notes"}))
    assert text_of(refused).startswith("confirmation_required:") and "confirm: true" in text_of(refused)
    assert still["name"] == "notes"


@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_delete_collection_asks_the_user_when_the_client_can_elicit(
    tmp_path: Path, mode: str, answer: str
) -> None:
    asked: list[str] = []

    async def on_elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        if answer == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    async with connect(suite_settings(tmp_path), mode, elicitation_callback=on_elicit) as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        result = data(await client.call_tool("delete_collection", {"collection": "notes"}))
        listed = data(await client.call_tool("list_collections", {}))
    assert len(asked) == 1 and "'notes'" in asked[0]
    names = [c["name"] for c in listed["collections"]]
    if answer == "accept":
        assert result["deleted"] is True and "notes" not in names
    else:
        assert result["deleted"] is False and "decline" in result["reason"] and "notes" in names


async def test_ingest_text_chunks_with_source_metadata_and_is_idempotent(tmp_path: Path, mode: str) -> None:
    text = " ".join(CORPUS * 3)
    arguments = {"collection": "notes", "text": text, "source": "corpus.txt", "chunk_size": 200, "overlap": 40}
    async with connect(suite_settings(tmp_path), mode) as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        first = data(await client.call_tool("ingest_text", arguments))
        second = data(await client.call_tool("ingest_text", arguments))
        count = data(await client.call_tool("count_documents", {"collection": "notes"}))["count"]
        page = data(await client.call_tool("get_documents", {"collection": "notes", "where": {"chunk": 0}}))
    assert first["chunks"] > 3 and first["ids"] == second["ids"]
    assert count == len(set(first["ids"]))
    meta = page["documents"][0]["metadata"]
    assert meta["source"] == "corpus.txt" and meta["start"] == 0 and meta["end"] <= 200


async def test_reembed_collection_reports_progress(tmp_path: Path, mode: str) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with connect(suite_settings(tmp_path), mode) as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        data(await client.call_tool("upsert_documents", {"collection": "notes", "documents": docs()}))
        moved = data(
            await client.call_tool("reembed_collection", {"collection": "notes"}, progress_callback=on_progress)
        )
    assert moved["documents"] == len(CORPUS) and seen and seen[-1] == 2 * len(CORPUS)


async def test_a_cancelled_upsert_stops_between_batches(tmp_path: Path) -> None:
    total = 120
    many = [{"text": f"note number {i} about {CORPUS[i % len(CORPUS)]}"} for i in range(total)]
    async with connect(suite_settings(tmp_path, upsert_batch_size=4), "legacy") as client:
        data(await client.call_tool("create_collection", {"collection": "notes"}))
        await cancel_at_first_progress(client, "upsert_documents", {"collection": "notes", "documents": many})

        async def count() -> int:
            return int(data(await client.call_tool("count_documents", {"collection": "notes"}))["count"])

        written = await settled(count)
    assert 4 <= written < total and written % 4 == 0
