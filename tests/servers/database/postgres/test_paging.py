"""Row and byte budgets with cursors: a 1M-row table returns one page, and the next page continues exactly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.connections import NamedConnection
from servers.database.postgres.engine import PostgresEngine
from servers.database.server import build_server
from tests.servers.database.support import PG_URL, connection, data, refused, settings_with


async def _all_pages(client: Client, arguments: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    cursor = None
    for _ in range(100):
        page = data(await client.call_tool("sql_query", {**arguments, "cursor": cursor}))
        rows.extend(page["rows"])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the cursor never ended")


@pytest.mark.anyio
async def test_a_million_row_table_pages_by_keyset_and_continues_exactly(pg_settings: Settings, pg_schema: str) -> None:
    sql = f"SELECT id, bucket FROM {pg_schema}.big ORDER BY id"
    async with Client(build_server(pg_settings), mode="legacy") as client:
        first = data(await client.call_tool("sql_query", {"sql": sql, "limit": 500}))
        second = data(await client.call_tool("sql_query", {"sql": sql, "limit": 500, "cursor": first["next_cursor"]}))
        started = time.perf_counter()
        third = data(await client.call_tool("sql_query", {"sql": sql, "limit": 500, "cursor": second["next_cursor"]}))
        third_seconds = time.perf_counter() - started
    assert first["paging"] == "keyset" and first["stopped_by"] == "row_limit"
    assert [r[0] for r in first["rows"]] == list(range(1, 501))
    assert [r[0] for r in second["rows"]] == list(range(501, 1001))
    assert [r[0] for r in third["rows"]] == list(range(1001, 1501))
    assert second["offset"] == 500 and third["offset"] == 1000
    assert third_seconds < 0.5


@pytest.mark.anyio
async def test_an_unordered_scan_pages_by_offset_without_gaps_or_repeats(pg_settings: Settings, pg_schema: str) -> None:
    sql = f"SELECT id FROM {pg_schema}.big"
    async with Client(build_server(pg_settings), mode="legacy") as client:
        first = data(await client.call_tool("sql_query", {"sql": sql, "limit": 500}))
        second = data(await client.call_tool("sql_query", {"sql": sql, "limit": 500, "cursor": first["next_cursor"]}))
    ids = [r[0] for r in first["rows"] + second["rows"]]
    assert first["paging"] == "offset" and len(ids) == 1000 and len(set(ids)) == 1000
    assert any("ORDER BY" in note for note in first["notes"])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id % 5 AS k, id FROM {s}.big WHERE id <= 23 ORDER BY k",
        "SELECT id % 5 AS k, id FROM {s}.big WHERE id <= 23 ORDER BY k DESC",
        "SELECT nullif(id % 4, 0) AS k, id FROM {s}.big WHERE id <= 21 ORDER BY k",
        "SELECT nullif(id % 4, 0) AS k, id FROM {s}.big WHERE id <= 21 ORDER BY k DESC",
    ],
)
async def test_keyset_pages_keep_ties_and_nulls_across_page_boundaries(
    pg_settings: Settings, pg_schema: str, sql: str
) -> None:
    text = sql.format(s=pg_schema)
    async with Client(build_server(pg_settings), mode="legacy") as client:
        rows = await _all_pages(client, {"sql": text, "limit": 3})
        whole = data(await client.call_tool("sql_query", {"sql": text, "limit": 1000}))
    assert sorted(r[1] for r in rows) == sorted(r[1] for r in whole["rows"])
    assert len(rows) == len({r[1] for r in rows})
    assert [r[0] for r in rows] == [r[0] for r in whole["rows"]]


@pytest.mark.anyio
async def test_the_byte_budget_stops_a_page_early_and_the_cursor_continues(tmp_path: Path, pg_schema: str) -> None:
    settings = settings_with(tmp_path, small=connection(PG_URL, max_bytes=2048))
    sql = f"SELECT id, repeat('x', 100) AS pad FROM {pg_schema}.big ORDER BY id"
    async with Client(build_server(settings), mode="legacy") as client:
        first = data(await client.call_tool("sql_query", {"sql": sql, "limit": 100}))
        second = data(await client.call_tool("sql_query", {"sql": sql, "limit": 100, "cursor": first["next_cursor"]}))
    assert first["stopped_by"] == "byte_budget" and 0 < first["row_count"] < 100
    assert second["rows"][0][0] == first["rows"][-1][0] + 1


@pytest.mark.anyio
async def test_the_row_budget_is_the_smaller_of_the_request_and_the_connection(tmp_path: Path, pg_schema: str) -> None:
    settings = settings_with(tmp_path, capped=connection(PG_URL, max_rows=7))
    async with Client(build_server(settings), mode="legacy") as client:
        page = data(
            await client.call_tool("sql_query", {"sql": f"SELECT id FROM {pg_schema}.big ORDER BY id", "limit": 50})
        )
    assert page["row_count"] == 7 and page["next_cursor"]


@pytest.mark.anyio
async def test_a_cursor_from_another_query_is_refused(pg_settings: Settings, pg_schema: str) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        first = data(
            await client.call_tool("sql_query", {"sql": f"SELECT id FROM {pg_schema}.big ORDER BY id", "limit": 5})
        )
        other = await client.call_tool(
            "sql_query", {"sql": f"SELECT id FROM {pg_schema}.big ORDER BY id DESC", "cursor": first["next_cursor"]}
        )
        garbage = await client.call_tool("sql_query", {"sql": "SELECT 1", "cursor": "not-a-cursor"})
    refused(other, "invalid_cursor")
    refused(garbage, "invalid_cursor")


@pytest.mark.anyio
async def test_a_first_page_is_planned_once_then_reuses_the_generic_plan(pg_schema: str) -> None:
    # With an OFFSET parameter PostgreSQL re-plans the paging wrapper on every execution (custom plans
    # only); a first page has nothing to skip, so its statement carries no OFFSET and settles on one plan.
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL, "read_only")), pool_size=1)
    try:
        for key in range(1, 13):
            page = await engine.query(f"SELECT id, bucket FROM {pg_schema}.big WHERE id = $1", [key], 100, None)
            assert page.rows[0][0] == key and page.next_cursor is None
        async with engine.reading() as conn:
            plans = await conn.fetch(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%AS \\_page%' AND statement NOT LIKE '%pg_prepared_statements%'"
            )
    finally:
        await engine.close()
    assert len(plans) == 1, plans
    assert plans[0]["generic_plans"] >= 6 and plans[0]["custom_plans"] <= 6, dict(plans[0])


@pytest.mark.anyio
async def test_later_offset_pages_still_skip_exactly_the_rows_already_returned(pg_schema: str) -> None:
    engine = PostgresEngine(NamedConnection("ro", connection(PG_URL, "read_only")), pool_size=1)
    sql = f"SELECT id FROM {pg_schema}.big WHERE id <= 25"
    try:
        seen: list[int] = []
        cursor = None
        for _ in range(10):
            page = await engine.query(sql, [], 10, cursor)
            seen.extend(row[0] for row in page.rows)
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        await engine.close()
    assert sorted(seen) == list(range(1, 26)) and len(seen) == 25
