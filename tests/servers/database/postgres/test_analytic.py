"""Valid analytic SQL passes every read-only layer and returns the right answer."""

from __future__ import annotations

import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.server import build_server
from tests.servers.database.support import data

ANALYTIC = [
    ("WITH c AS (SELECT country, count(*) AS n FROM {s}.customers GROUP BY country) SELECT sum(n) FROM c", [["30"]]),  # numeric keeps its precision as text
    ("SELECT id, rank() OVER (ORDER BY amount DESC, id) FROM {s}.orders ORDER BY id LIMIT 1", None),
    ("SELECT count(*) FROM {s}.orders o WHERE amount > (SELECT avg(amount) FROM {s}.orders)", None),
    ("SELECT country FROM {s}.customers WHERE id = 1 UNION SELECT country FROM {s}.customers WHERE id = 2", None),
    ("SELECT 1 INTERSECT SELECT 1 EXCEPT SELECT 2", [[1]]),
    ("EXPLAIN SELECT * FROM {s}.orders WHERE id = 5", None),
    ("SELECT c.id, x.total FROM {s}.customers c, LATERAL (SELECT sum(amount) AS total FROM {s}.orders o "
     "WHERE o.customer_id = c.id) x ORDER BY c.id LIMIT 2", None),
    ("SELECT country, count(*) FROM {s}.customers GROUP BY GROUPING SETS ((country), ()) ORDER BY 1 NULLS LAST", None),
    ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n", [[55]]),
    ("VALUES (1, 'a'), (2, 'b')", [[1, "a"], [2, "b"]]),
    ("TABLE {s}.customers LIMIT 1", None),
    ("SHOW server_version", None),
    ("SELECT count(*) FILTER (WHERE country = 'FR') FROM {s}.customers", [[10]]),
    ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM {s}.orders", None),
    ("SELECT jsonb_build_object('n', count(*)) FROM {s}.customers", [[{"n": 30}]]),
    ("SELECT string_agg(name, ',' ORDER BY id) FROM {s}.customers WHERE id < 3", [["customer 1,customer 2"]]),
    ("SELECT DISTINCT ON (country) country, id FROM {s}.customers ORDER BY country, id", None),
    ("SELECT 'it''s; fine' AS s, $$dollar; quoted$$ AS d /* a ; comment */ -- another;", [["it's; fine", "dollar; quoted"]]),
    ("SELECT current_setting('transaction_read_only')", [["on"]]),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("sql, expected", ANALYTIC, ids=[f"analytic-{i:02d}" for i in range(len(ANALYTIC))])
async def test_valid_analytic_sql_runs_on_a_read_only_connection(
    pg_settings: Settings, pg_schema: str, sql: str, expected: list[list[object]] | None
) -> None:
    async with Client(build_server(pg_settings), mode="legacy") as client:
        result = data(await client.call_tool("sql_query", {"sql": sql.format(s=pg_schema), "connection": "ro"}))
    assert result["row_count"] >= 1
    if expected is not None:
        rows = [[_parse(v) for v in row] for row in result["rows"]]
        assert rows == expected


def _parse(value: object) -> object:
    import json

    if isinstance(value, str) and value.startswith("{"):
        return json.loads(value)
    return value
