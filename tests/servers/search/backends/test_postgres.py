"""The postgres backend after a write: the planner knows the table, and the page's documents come whole."""

from __future__ import annotations

from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from servers.search.request import SortKey
from servers.search.schema import IndexSchema
from servers.search.service import SearchService
from servers.search.settings import search_settings
from tests.servers.search.support import POSTGRES_DSN, suite_settings

pytestmark = pytest.mark.anyio
SCHEMA = IndexSchema.model_validate(
    {
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "body", "type": "text"},
            {"name": "kind", "type": "keyword"},
        ]
    }
)


async def table_state(schema: str) -> tuple[float, int]:
    """The table's row estimate (``reltuples``, -1 before any ANALYZE) and the rows of its stats' most common values."""
    connection = await asyncpg.connect(POSTGRES_DSN)
    try:
        estimate = await connection.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", f'"{schema}".ix_notes'
        )
        stats = await connection.fetchval(
            "SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'ix_notes'", schema
        )
    finally:
        await connection.close()
    return float(estimate), int(stats)


async def test_a_first_write_leaves_the_table_analysed_for_the_planner(tmp_path: Path, fresh_schema: str) -> None:
    service = SearchService(search_settings(suite_settings(tmp_path, fresh_schema)), tmp_path)
    documents = [(f"n{i}", {"title": f"note {i}", "body": "river and meadow", "kind": "a"}) for i in range(300)]
    try:
        await service.create_index("postgres", "notes", SCHEMA)
        before = await table_state(fresh_schema)
        await service.index_documents("postgres", "notes", documents)
        after = await table_state(fresh_schema)
    finally:
        await service.close_backends()
    assert before == (-1.0, 0)  # a new table: no statistics yet
    assert after[0] == len(documents) and after[1] > 0


async def test_a_page_sorted_by_score_or_by_a_field_comes_with_its_fields_in_order(
    tmp_path: Path, fresh_schema: str
) -> None:
    service = SearchService(search_settings(suite_settings(tmp_path, fresh_schema)), tmp_path)
    documents = [(f"n{i}", {"title": f"note {i}", "body": "river " * (i + 1), "kind": f"k{i:02d}"}) for i in range(12)]
    common = {"fields": None, "filters": None, "operator": "and", "highlight": ["body"], "snippet_chars": None}
    paging = {"facets": None, "facet_size": 10, "limit": 5, "cursor": None}
    try:
        await service.create_index("postgres", "notes", SCHEMA)
        await service.index_documents("postgres", "notes", documents)
        ranked = await service.search(
            "postgres", "notes", text="river", sort=None, return_fields=["kind"], **common, **paging
        )
        by_kind = await service.search(
            "postgres",
            "notes",
            text="river",
            sort=[SortKey(field="kind", order="desc")],
            return_fields=["kind"],
            **common,
            **paging,
        )
    finally:
        await service.close_backends()
    scores = [hit.score or 0.0 for hit in ranked.hits]
    assert ranked.total == 12 and scores == sorted(scores, reverse=True) and len(ranked.hits) == 5
    assert all(hit.fields["kind"] == "k" + hit.id[1:].zfill(2) and hit.snippets["body"] for hit in ranked.hits)
    assert [hit.fields["kind"] for hit in by_kind.hits] == ["k11", "k10", "k09", "k08", "k07"]
    assert [hit.sort_values for hit in by_kind.hits] == [[k] for k in ["k11", "k10", "k09", "k08", "k07"]]
