"""raw_query: OpenSearch DSL, off by default, opensearch backends only, within the budgets; the double's wire."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.search.support import OPENSEARCH_URL, connect, data, suite_settings, text_of
from tests.servers.search.test_tools import make_index
from tests.support.opensearch_double import OpenSearchDouble

pytestmark = pytest.mark.anyio


async def test_raw_query_is_not_offered_unless_the_operator_turns_it_on(tmp_path: Path, fresh_schema: str) -> None:
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    async with connect(suite_settings(tmp_path, fresh_schema, raw_query=True)) as client:
        enabled = {tool.name for tool in (await client.list_tools()).tools}
    assert "raw_query" not in names and "raw_query" in enabled


async def test_raw_query_runs_dsl_on_opensearch_with_its_size_capped(
    tmp_path: Path, fresh_schema: str, mode: str
) -> None:
    settings = suite_settings(tmp_path, fresh_schema, raw_query=True, max_page_size=2)
    body = {
        "query": {"multi_match": {"query": "river", "fields": ["body", "title"]}},
        "size": 50,
        "aggs": {"kinds": {"terms": {"field": "kind"}}},
    }
    async with connect(settings, mode) as client:
        await make_index(client, "opensearch")
        await make_index(client, "tantivy")
        found = data(await client.call_tool("raw_query", {"index": "notes", "backend": "opensearch", "body": body}))
        elsewhere = await client.call_tool("raw_query", {"index": "notes", "backend": "tantivy", "body": body})
        scripted = await client.call_tool(
            "raw_query",
            {"index": "notes", "backend": "opensearch", "body": {"query": {"script": {"script": "1"}}}},
        )
    assert found["total"] == 2 and len(found["hits"]) == 2
    assert {b["key"] for b in found["aggregations"]["kinds"]["buckets"]} == {"guide"}
    assert text_of(elsewhere).startswith("unsupported_query:") and "`search`" in text_of(elsewhere)
    assert text_of(scripted).startswith("raw_query_refused:") and "'script'" in text_of(scripted)


@pytest.mark.skipif(bool(OPENSEARCH_URL), reason="inspects the double's request log; a live cluster keeps none")
async def test_the_opensearch_backend_writes_through_bulk_and_reads_through_search(
    tmp_path: Path, fresh_schema: str, opensearch_double: OpenSearchDouble
) -> None:
    before = len(opensearch_double.requests)
    async with connect(suite_settings(tmp_path, fresh_schema)) as client:
        await make_index(client, "opensearch")
        data(await client.call_tool("search", {"index": "notes", "backend": "opensearch", "text": "river"}))
    sent = opensearch_double.requests[before:]
    prefix = f"/{fresh_schema}-notes"
    assert ("PUT", prefix) in sent and ("POST", "/_bulk") in sent
    assert ("POST", f"{prefix}/_search") in sent
