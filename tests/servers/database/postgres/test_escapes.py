"""Write-escape attempts against read-only PostgreSQL access: each is refused with its code, by the layer
that should refuse it, and nothing changes; each layer also holds on its own (see escape_corpus.py)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from mcp import Client

from mesh.config import Settings
from servers.database.connections import NamedConnection
from servers.database.errors import DbError
from servers.database.postgres.engine import PostgresEngine
from servers.database.postgres.statement_guard import ReadStatement, check_read
from servers.database.server import build_server
from tests.servers.database.postgres.escape_corpus import ESCAPE_IDS, ESCAPES, Escape, Outcome, stopped_by
from tests.servers.database.support import PG_URL, connection, error_text, pg_checksum

ESCAPE_FILES = (Path("/tmp/mcp_escape.txt"), Path("/tmp/mcp_escape_lo"))


class UnguardedEngine(PostgresEngine):
    """The engine with its statement guard bypassed: the text reaches the layers behind the guard as it is."""

    def _check_read(self, sql: str) -> ReadStatement:
        return ReadStatement("show", sql, None, True)  # "show": run whole, never wrapped for paging


class PlainBeginEngine(UnguardedEngine):
    """... and its reads opened with a plain ``BEGIN``: the session setting or the role stands alone."""

    def __init__(self, named: NamedConnection, pool_size: int) -> None:
        super().__init__(named, pool_size)
        assert self._read_setup.startswith("BEGIN READ ONLY;"), self._read_setup
        self._read_setup = "BEGIN;" + self._read_setup.removeprefix("BEGIN READ ONLY;")


@pytest.fixture(scope="module")
def reader_role(pg_schema: str) -> Iterator[str]:
    """A role that may read customers and orders of the test schema, and nothing else."""
    role = f"mcp_escape_reader_{secrets.token_hex(3)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(
        run(
            f"CREATE ROLE {role} NOLOGIN; GRANT USAGE ON SCHEMA {pg_schema} TO {role}; "
            f"GRANT SELECT ON {pg_schema}.customers, {pg_schema}.orders TO {role}"
        )
    )
    try:
        yield role
    finally:
        asyncio.run(run(f"DROP OWNED BY {role}; DROP ROLE {role}"))


def code_of(text: str) -> str:
    """The stable code a tool error's text starts with (after the SDK's "Error executing tool <name>: ")."""
    if text.startswith("Error executing tool "):
        text = text.split(": ", 1)[1]
    return text.split(":", 1)[0]


def _assert_outcome(error: DbError, expected: Outcome) -> None:
    assert error.code == expected.code, str(error)
    assert str(error).startswith(f"{expected.code}:"), str(error)
    if expected.sqlstate is not None:
        assert f"SQLSTATE {expected.sqlstate}" in str(error), str(error)


async def _refusal(engine: PostgresEngine, sql: str) -> DbError:
    try:
        with pytest.raises(DbError) as error:
            await engine.query(sql, [], 10, None)
    finally:
        await engine.close()
    return error.value


@pytest.mark.parametrize("escape", ESCAPES, ids=ESCAPE_IDS)
def test_the_statement_guard_alone_refuses_each_escape_with_its_code(escape: Escape) -> None:
    with pytest.raises(DbError) as error:
        check_read(escape.sql.format(s="shop"))
    assert error.value.code == escape.guard and str(error.value).startswith(f"{escape.guard}:")


@pytest.mark.anyio
@pytest.mark.parametrize("connection_name", ["ro", "rw"])
@pytest.mark.parametrize("escape", ESCAPES, ids=ESCAPE_IDS)
async def test_sql_query_refuses_each_escape_at_the_guard_with_its_code_and_the_data_is_unchanged(
    pg_settings: Settings, pg_schema: str, connection_name: str, escape: Escape
) -> None:
    before = await pg_checksum(pg_schema, "customers", "orders")
    async with Client(build_server(pg_settings), mode="legacy") as client:
        arguments = {"sql": escape.sql.format(s=pg_schema), "connection": connection_name}
        result = await client.call_tool("sql_query", arguments)
        alive = await client.call_tool("sql_query", {"sql": "SELECT 1 AS alive", "connection": connection_name})
    text = error_text(result)
    assert code_of(text) == escape.guard, text
    assert "Traceback" not in text and "SQLSTATE" not in text  # the guard answered: nothing reached the server
    assert not alive.is_error
    assert await pg_checksum(pg_schema, "customers", "orders") == before


READ_ONLY_ESCAPES, READ_ONLY_IDS = stopped_by("read_only")
ROLE_ESCAPES, ROLE_IDS = stopped_by("role")


@pytest.mark.anyio
@pytest.mark.parametrize("escape", READ_ONLY_ESCAPES, ids=READ_ONLY_IDS)
async def test_the_read_only_transaction_alone_refuses_each_escape_it_stops(pg_schema: str, escape: Escape) -> None:
    assert escape.read_only is not None
    before = await pg_checksum(pg_schema, "customers", "orders")
    engine = UnguardedEngine(NamedConnection("rw", connection(PG_URL, "read_write")), 1)
    _assert_outcome(await _refusal(engine, escape.sql.format(s=pg_schema)), escape.read_only)
    assert await pg_checksum(pg_schema, "customers", "orders") == before


@pytest.mark.anyio
@pytest.mark.parametrize("escape", READ_ONLY_ESCAPES, ids=READ_ONLY_IDS)
async def test_the_read_only_session_setting_alone_refuses_each_escape_the_transaction_stops(
    pg_schema: str, escape: Escape
) -> None:
    assert escape.read_only is not None
    before = await pg_checksum(pg_schema, "customers", "orders")
    engine = PlainBeginEngine(NamedConnection("ro", connection(PG_URL)), 1)
    _assert_outcome(await _refusal(engine, escape.sql.format(s=pg_schema)), escape.read_only)
    assert await pg_checksum(pg_schema, "customers", "orders") == before


@pytest.mark.anyio
@pytest.mark.parametrize("escape", ROLE_ESCAPES, ids=ROLE_IDS)
async def test_the_read_only_role_alone_refuses_each_escape_it_stops(
    pg_schema: str, reader_role: str, escape: Escape
) -> None:
    assert escape.role is not None
    before = await pg_checksum(pg_schema, "customers", "orders")
    named = NamedConnection("rw", connection(PG_URL, "read_write", read_only_role=reader_role))
    _assert_outcome(await _refusal(PlainBeginEngine(named, 1), escape.sql.format(s=pg_schema)), escape.role)
    assert await pg_checksum(pg_schema, "customers", "orders") == before


def test_the_escape_corpus_holds_at_least_thirty_attempts_and_names_the_guard_only_ones() -> None:
    assert len(ESCAPES) >= 30
    guard_only = {e.sql for e in ESCAPES if e.read_only is None and e.role is None}
    # What nothing but the statement guard stops: the guard's lists must keep naming these.
    assert guard_only == {
        "SELECT pg_catalog.pg_cancel_backend(1)",
        "SET TRANSACTION READ WRITE",
        "SET default_transaction_read_only = off",
        "RESET ALL",
        "BEGIN READ WRITE",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SELECT pg_advisory_lock(42)",
        "LISTEN mcp_channel",
        "NOTIFY mcp_channel, 'hi'",
        "PREPARE p AS DELETE FROM {s}.orders",
        "EXPLAIN ANALYZE SELECT * FROM {s}.orders",
    }


async def side_effects(schema: str) -> dict[str, Any]:
    """What an escape could change outside the two checked tables: the sequence, advisory locks, large
    objects, ALTER SYSTEM's file and the settings read from files, and the files COPY or lo_export write."""
    conn = await asyncpg.connect(PG_URL)
    try:
        sequence = await conn.fetchrow(f"SELECT last_value, is_called FROM {schema}.counter")
        return {
            "sequence": tuple(sequence),
            "advisory_lock_42": await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42"
            ),
            "large_objects": await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata"),
            "auto_conf": await conn.fetchval("SELECT md5(pg_read_file('postgresql.auto.conf', 0, 1048576, true))"),
            "file_settings": [
                tuple(r)
                for r in await conn.fetch(
                    "SELECT sourcefile, name, setting, applied FROM pg_file_settings ORDER BY seqno"
                )
            ],
            "files": [str(p) for p in ESCAPE_FILES if p.exists()],
        }
    finally:
        await conn.close()


@pytest.mark.anyio
async def test_after_the_whole_corpus_no_sequence_lock_file_or_system_setting_changed(
    pg_settings: Settings, pg_schema: str
) -> None:
    before = await side_effects(pg_schema)
    assert before["files"] == []
    async with Client(build_server(pg_settings), mode="legacy") as client:
        for name in ("ro", "rw"):
            for escape in ESCAPES:
                result = await client.call_tool(
                    "sql_query", {"sql": escape.sql.format(s=pg_schema), "connection": name}
                )
                assert code_of(error_text(result)) == escape.guard
        # probed while the server's pooled sessions are still open: a lock they took would show here
        during = await side_effects(pg_schema)
    assert during == before
    assert await side_effects(pg_schema) == before


@pytest.mark.anyio
async def test_the_side_effect_probes_see_what_a_guard_only_escape_leaves_when_the_guard_is_bypassed(
    pg_schema: str, tmp_path: Path
) -> None:
    before = await side_effects(pg_schema)
    engine = UnguardedEngine(NamedConnection("rw", connection(PG_URL, "read_write")), 1)
    try:
        await engine.query("SELECT pg_advisory_lock(42)", [], 10, None)
        held = await side_effects(pg_schema)
    finally:
        await engine.close()
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.fetchval(f"SELECT nextval('{pg_schema}.counter')")
        moved = await side_effects(pg_schema)
    finally:
        last, called = before["sequence"]
        await admin.execute(f"SELECT setval('{pg_schema}.counter', {last}, {str(called).lower()})")
        await admin.close()
    assert held["advisory_lock_42"] == before["advisory_lock_42"] + 1
    assert moved["sequence"] != before["sequence"]
    assert await side_effects(pg_schema) == before
