"""Every tool through the SDK client, in both protocol eras, on tantivy and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import types

from tests.servers.search.support import connect, data, suite_settings, text_of
from tests.support.cancellation import cancel_at_first_progress, settled

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {"create_index", "delete_index", "index_documents", "delete_documents", "index_directory"}
READ_TOOLS = {"list_indexes", "describe_index", "search", "count", "explain", "suggest"}
TYPES = {"title": "text", "body": "text", "kind": "keyword", "stars": "number", "day": "date"}
FIELDS = [{"name": name, "type": kind} for name, kind in TYPES.items()]
NOTES = [
    ("a", "Running rivers", "The river runs past the old mill and the copper bridge.", "guide", 4, "2024-01-05"),
    ("b", "Mountain engines", "Steam engines climbed the mountain railway every morning.", "history", 5, "2023-06-01"),
    ("c", "Garden notes", "Basil and saffron grow in the walled garden by the river.", "guide", 3, "2024-03-10"),
    ("d", "Harbor lights", "Lanterns lit the harbor while the fishing fleet returned.", "story", 2, "2022-11-20"),
]


def documents() -> list[dict[str, Any]]:
    return [{"id": i, "fields": {"title": t, "body": b, "kind": k, "stars": s, "day": d}} for i, t, b, k, s, d in NOTES]


async def make_index(client: Any, backend: str, name: str = "notes") -> None:
    data(await client.call_tool("create_index", {"index": name, "backend": backend, "fields": FIELDS}))
    data(await client.call_tool("index_documents", {"index": name, "backend": backend, "documents": documents()}))


async def test_every_tool_carries_annotations_and_an_output_schema(
    tmp_path: Path, fresh_schema: str, mode: str
) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS
    for name, tool in tools.items():
        assert tool.annotations is not None and tool.output_schema is not None, name
        assert tool.annotations.read_only_hint is (name in READ_TOOLS), name
    assert tools["delete_index"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["search"].input_schema["properties"]["operator"]["enum"] == ["and", "or"]


async def test_read_only_mode_registers_no_write_tool(tmp_path: Path, fresh_schema: str, mode: str) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema, read_only=True), mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("create_index", {"index": "notes", "fields": FIELDS})
    assert names == READ_TOOLS
    assert refused.is_error and text_of(refused).startswith("unknown_tool:")


async def test_the_tools_index_search_count_explain_and_delete_documents(
    tmp_path: Path, fresh_schema: str, backend_name: str, mode: str
) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema), mode) as client:
        await make_index(client, backend_name)
        replaced = {
            "id": "d",
            "fields": {"title": "Harbor at dawn", "body": "Quiet harbor, no river.", "kind": "story"},
        }
        data(
            await client.call_tool(
                "index_documents", {"index": "notes", "backend": backend_name, "documents": [replaced]}
            )
        )
        found = data(
            await client.call_tool(
                "search",
                {
                    "index": "notes",
                    "backend": backend_name,
                    "text": "river",
                    "filters": [{"field": "stars", "gte": 3}],
                    "return_fields": ["title", "kind"],
                    "facets": ["kind"],
                },
            )
        )
        counted = data(await client.call_tool("count", {"index": "notes", "backend": backend_name, "text": "river"}))
        why = data(
            await client.call_tool("explain", {"index": "notes", "backend": backend_name, "text": "river", "id": "a"})
        )
        why_not = data(
            await client.call_tool("explain", {"index": "notes", "backend": backend_name, "text": "river", "id": "b"})
        )
        gone = data(
            await client.call_tool("delete_documents", {"index": "notes", "backend": backend_name, "ids": ["a", "zz"]})
        )
        described = data(await client.call_tool("describe_index", {"index": "notes", "backend": backend_name}))
    assert found["total"] == 2 and {h["id"] for h in found["hits"]} == {"a", "c"}
    assert found["facets"]["kind"] == [{"value": "guide", "count": 2}]
    assert all("<b>river" in s.lower() for h in found["hits"] for texts in h["snippets"].values() for s in texts)
    assert found["hits"][0]["fields"]["kind"] == "guide" and "body" not in found["hits"][0]["fields"]
    assert counted["count"] == 3  # a, c and the replaced d
    assert why["matched"] is True and why["score"] > 0 and why["explanation"]
    assert why_not["found"] is True and why_not["matched"] is False
    assert gone["deleted"] == 1 and described["documents"] == 3
    assert [f["name"] for f in described["fields"]] == [f["name"] for f in FIELDS]


async def test_bad_input_gets_a_coded_error_and_changes_nothing(
    tmp_path: Path, fresh_schema: str, backend_name: str
) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        await make_index(client, backend_name)
        b = {"index": "notes", "backend": backend_name}
        bad_doc = await client.call_tool(
            "index_documents",
            {**b, "documents": [{"id": "x", "fields": {"title": "ok"}}, {"id": "y", "fields": {"colour": "red"}}]},
        )
        bad_date = await client.call_tool(
            "index_documents", {**b, "documents": [{"id": "x", "fields": {"day": "soon"}}]}
        )
        bad_syntax = await client.call_tool("search", {**b, "text": '"unclosed phrase'})
        text_filter = await client.call_tool("search", {**b, "filters": [{"field": "title", "equals": "x"}]})
        no_index = await client.call_tool("search", {"index": "nothing", "backend": backend_name, "text": "x"})
        bad_cursor = await client.call_tool("search", {**b, "text": "river", "cursor": "bm90LWEtY3Vyc29y"})
        bad_schema = await client.call_tool(
            "create_index", {"index": "other", "backend": backend_name, "fields": [{"name": "k", "type": "keyword"}]}
        )
        counted = data(await client.call_tool("count", b))
        listed = data(await client.call_tool("list_indexes", {"backend": backend_name}))
    assert text_of(bad_doc).startswith("invalid_document:") and "documents[1]" in text_of(bad_doc)
    assert text_of(bad_date).startswith("invalid_document:") and "ISO 8601" in text_of(bad_date)
    assert text_of(bad_syntax).startswith("invalid_query:")
    assert text_of(text_filter).startswith("wrong_field_type:")
    assert text_of(no_index).startswith("unknown_index:")
    assert text_of(bad_cursor).startswith("invalid_cursor:")
    assert text_of(bad_schema).startswith("invalid_schema:") and "text field" in text_of(bad_schema)
    assert counted["count"] == len(NOTES)  # neither x nor y was written
    assert [i["name"] for i in listed["indexes"]] == ["notes"]


async def test_tantivy_refuses_a_sort_on_two_fields_which_postgres_runs(tmp_path: Path, fresh_schema: str) -> None:
    two_keys = [{"field": "kind", "order": "asc"}, {"field": "stars", "order": "desc"}]
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        for backend in ("tantivy", "postgres"):
            await make_index(client, backend)
        refused = await client.call_tool("search", {"index": "notes", "sort": two_keys, "backend": "tantivy"})
        sorted_hits = data(
            await client.call_tool("search", {"index": "notes", "sort": two_keys, "backend": "postgres"})
        )
    assert text_of(refused).startswith("unsupported_query:") and "sort by one field" in text_of(refused)
    assert [h["id"] for h in sorted_hits["hits"]] == ["a", "c", "b", "d"]
    assert sorted_hits["hits"][0]["sort_values"] == ["guide", 4.0]


async def test_index_documents_sends_progress_notifications(tmp_path: Path, fresh_schema: str, mode: str) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with connect(suite_settings(tmp_path, fresh_schema, batch_size=2), mode) as client:
        data(await client.call_tool("create_index", {"index": "notes", "fields": FIELDS}))
        data(
            await client.call_tool(
                "index_documents", {"index": "notes", "documents": documents()}, progress_callback=on_progress
            )
        )
    assert seen == [(2, 4), (4, 4)]


async def test_a_cancelled_index_documents_stops_between_batches(tmp_path: Path, fresh_schema: str) -> None:
    total = 400
    many = [{"id": f"n{i}", "fields": {"title": f"note {i}", "body": "river"}} for i in range(total)]
    async with connect(suite_settings(tmp_path, fresh_schema, batch_size=10), "legacy") as client:
        data(await client.call_tool("create_index", {"index": "notes", "fields": FIELDS}))
        await cancel_at_first_progress(client, "index_documents", {"index": "notes", "documents": many})

        async def count() -> int:
            return int(data(await client.call_tool("count", {"index": "notes"}))["count"])

        written = await settled(count)
    assert 10 <= written < total and written % 10 == 0


async def test_delete_index_without_elicitation_needs_confirm_and_changes_nothing_without_it(
    tmp_path: Path, fresh_schema: str, backend_name: str
) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        await make_index(client, backend_name)
        refused = await client.call_tool("delete_index", {"index": "notes", "backend": backend_name})
        still = data(await client.call_tool("describe_index", {"index": "notes", "backend": backend_name}))
        done = data(
            await client.call_tool("delete_index", {"index": "notes", "backend": backend_name, "confirm": True})
        )
        listed = data(await client.call_tool("list_indexes", {"backend": backend_name}))
    assert text_of(refused).startswith("confirmation_required:") and "confirm: true" in text_of(refused)
    assert still["documents"] == len(NOTES)
    assert done["deleted"] is True and done["documents"] == len(NOTES) and listed["indexes"] == []


@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_delete_index_asks_the_user_when_the_client_can_elicit(
    tmp_path: Path, fresh_schema: str, mode: str, answer: str
) -> None:
    asked: list[str] = []

    async def on_elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        if answer == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    async with connect(suite_settings(tmp_path, fresh_schema), mode, elicitation_callback=on_elicit) as client:
        await make_index(client, "tantivy")
        result = data(await client.call_tool("delete_index", {"index": "notes"}))
        listed = data(await client.call_tool("list_indexes", {}))
    assert len(asked) == 1 and "'notes'" in asked[0]
    names = [i["name"] for i in listed["indexes"]]
    if answer == "accept":
        assert result["deleted"] is True and "notes" not in names
    else:
        assert result["deleted"] is False and "decline" in result["reason"] and "notes" in names


async def test_the_index_allow_list_refuses_and_hides_other_indexes(tmp_path: Path, fresh_schema: str) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema), "legacy") as client:
        await make_index(client, "tantivy", "notes")
        await make_index(client, "tantivy", "secret")
    async with connect(suite_settings(tmp_path, fresh_schema, allowed_indexes=["note*"])) as client:
        listed = data(await client.call_tool("list_indexes", {"backend": "tantivy"}))
        refused = await client.call_tool("search", {"index": "secret", "text": "river"})
        created = await client.call_tool("create_index", {"index": "other", "fields": FIELDS})
    assert [i["name"] for i in listed["indexes"]] == ["notes"]
    assert text_of(refused).startswith("index_not_allowed:") and "note*" in text_of(refused)
    assert text_of(created).startswith("index_not_allowed:")


async def test_suggest_offers_the_index_spelling_of_a_word_that_matches_nothing(
    tmp_path: Path, fresh_schema: str, backend_name: str
) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        await make_index(client, backend_name)
        result = data(
            await client.call_tool("suggest", {"index": "notes", "backend": backend_name, "text": "harbr lights"})
        )
        fine = data(await client.call_tool("suggest", {"index": "notes", "backend": backend_name, "text": "harbor"}))
    assert result["matched"] == 0
    assert result["corrections"][0]["word"] == "harbr" and result["corrections"][0]["suggestions"][0] == "harbor"
    assert result["suggested_query"] == "harbor lights" and result["suggested_matches"] == 1
    assert fine["matched"] == 1 and fine["corrections"] == [] and fine["suggested_query"] is None


async def test_a_page_stops_at_the_byte_budget_and_its_cursor_goes_on(tmp_path: Path, fresh_schema: str) -> None:
    long = "river " + "word " * 2000
    docs = [{"id": f"n{i:02d}", "fields": {"title": "river", "body": long, "stars": i}} for i in range(30)]
    settings = suite_settings(tmp_path, fresh_schema, max_result_bytes=8192, max_field_chars=2000)
    async with connect(settings) as client:
        data(await client.call_tool("create_index", {"index": "notes", "fields": FIELDS}))
        data(await client.call_tool("index_documents", {"index": "notes", "documents": docs}))
        query = {
            "index": "notes",
            "text": "river",
            "return_fields": ["body"],
            "sort": [{"field": "stars", "order": "asc"}],
            "limit": 30,
        }
        first = data(await client.call_tool("search", query))
        second = data(await client.call_tool("search", {**query, "cursor": first["next_cursor"]}))
    assert first["stopped_by"] == "max_bytes" and 0 < len(first["hits"]) < 30
    assert first["hits"][0]["fields"]["body"].endswith("…") and len(first["hits"][0]["fields"]["body"]) == 2001
    assert second["hits"][0]["id"] == f"n{len(first['hits']):02d}"
