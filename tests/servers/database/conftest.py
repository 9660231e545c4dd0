"""PostgreSQL fixtures: one schema per test session (small tables plus a 1M-row table), dropped at the end."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from mesh.config import Settings
from tests.servers.database.support import PG_URL, connection, settings_with

SETUP = """
CREATE SCHEMA {s};
CREATE TABLE {s}.customers (id integer PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE {s}.orders (
    id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES {s}.customers(id),
    amount numeric(10, 2) NOT NULL, placed date NOT NULL DEFAULT current_date, note text
);
CREATE INDEX orders_customer_idx ON {s}.orders (customer_id);
COMMENT ON TABLE {s}.orders IS 'one row per order';
INSERT INTO {s}.customers SELECT g, 'customer ' || g, (ARRAY['FR', 'DE', 'US'])[1 + g % 3] FROM generate_series(1, 30) g;
INSERT INTO {s}.orders SELECT g, 1 + g % 30, (g * 7 % 100) + 0.5, date '2024-01-01' + g, NULL
    FROM generate_series(1, 300) g;
CREATE SEQUENCE {s}.counter;
CREATE TABLE {s}.big AS SELECT g AS id, g % 1000 AS bucket FROM generate_series(1, 1000000) g;
ALTER TABLE {s}.big ADD PRIMARY KEY (id);
ANALYZE {s}.big;
ANALYZE {s}.customers;
ANALYZE {s}.orders;
"""


async def _run(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A unique schema holding customers (30), orders (300), a sequence and big (1M rows, primary key id)."""
    schema = f"mcp_test_{secrets.token_hex(4)}"
    asyncio.run(_run(SETUP.format(s=schema)))
    try:
        yield schema
    finally:
        asyncio.run(_run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def pg_settings(tmp_path: Path, pg_schema: str) -> Settings:
    """ro: read-only PostgreSQL; rw: read-write PostgreSQL; both on the test database."""
    return settings_with(
        tmp_path / "data",
        ro=connection(PG_URL, "read_only"),
        rw=connection(PG_URL, "read_write"),
    )
