"""The PostgreSQL store's writes stay lookups by key: on tables with no statistics, and with their statistics kept."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import anyio
import asyncpg  # type: ignore[import-untyped]
import pytest

from servers.memory.store.base import NewEntity, Provenance
from servers.memory.store.postgres import store as store_module
from servers.memory.store.postgres import writes
from servers.memory.store.postgres.store import PostgresGraphStore
from tests.servers.memory.support import POSTGRES_DSN, scratch_postgres_store

pytestmark = pytest.mark.anyio

BY = Provenance("alice", "test", time.time())


@pytest.fixture
async def store(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PostgresGraphStore]:
    monkeypatch.setattr(store_module, "STATISTICS_CHECK_WRITES", 10**9)  # no ANALYZE unless a test asks
    async with scratch_postgres_store("memory_plans") as opened:
        yield opened


async def _last_analyze(schema: str, table: str) -> object:
    db = await asyncpg.connect(POSTGRES_DSN)
    try:
        return await db.fetchval(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2", schema, table
        )
    finally:
        await db.close()


async def test_the_entity_lock_reads_a_few_pages_however_many_entities_the_namespace_holds(
    store: PostgresGraphStore,
) -> None:
    db = await asyncpg.connect(POSTGRES_DSN)
    try:
        await db.execute("SET plan_cache_mode = force_generic_plan")
        # Planned on the empty table, as a new store's sessions plan it, and never analyzed since.
        await db.execute(f"PREPARE lock_them(text, text[]) AS {writes.locked_entities_sql(store.s, '$2', ('name',))}")
        await db.execute("EXECUTE lock_them('ns', ARRAY['e-1'])")
        for start in range(0, 3000, 500):
            await store.create_entities("ns", [NewEntity(f"e-{k}", "t", ()) for k in range(start, start + 500)], BY)
        async with db.transaction():
            plan = [r[0] for r in await db.fetch("EXPLAIN (ANALYZE, BUFFERS) EXECUTE lock_them('ns', ARRAY['e-7'])")]
    finally:
        await db.close()
    buffers = next(line for line in plan if line.strip().startswith("Buffers:"))  # the whole statement's
    pages = sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", buffers))
    assert 0 < pages <= 10, "\n".join(plan)  # a scan of the namespace reads 3,000 rows


async def test_every_few_hundred_writes_a_table_changed_past_the_threshold_is_analyzed(
    store: PostgresGraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create_entities("ns", [NewEntity(f"e-{k}", "t", (f"fact {k}",)) for k in range(80)], BY)
    for k in range(60):
        await store.add_observations("ns", [(f"e-{k}", [f"more {k}"])], BY)
    # The session's counts reach pg_stat_user_tables at the end of its next statement.
    await store._read(lambda db: db.execute("SELECT pg_stat_force_next_flush()"))
    await store.ping()
    assert await _last_analyze(store.s, "observations") is None
    monkeypatch.setattr(store_module, "STATISTICS_CHECK_WRITES", 1)
    await store.add_observations("ns", [("e-0", ["the write that looks"])], BY)
    await store.analyzed()
    assert await _last_analyze(store.s, "observations") is not None
    assert await _last_analyze(store.s, "entities") is not None
    assert await _last_analyze(store.s, "relations") is None  # nothing changed there


async def test_the_minutely_purge_analyzes_what_a_few_large_writes_changed(store: PostgresGraphStore) -> None:
    await store.create_entities("ns", [NewEntity(f"e-{k}", "t", (f"fact {k}",)) for k in range(500)], BY)
    await store._read(lambda db: db.execute("SELECT pg_stat_force_next_flush()"))
    await store.ping()
    assert await _last_analyze(store.s, "entities") is None
    assert await store.purge_expired(time.time()) == 0
    assert await _last_analyze(store.s, "entities") is not None
    assert await _last_analyze(store.s, "observations") is not None


async def test_an_entity_changed_while_a_write_waits_for_its_lock_gets_both_versions(
    store: PostgresGraphStore,
) -> None:
    await store.create_entities("ns", [NewEntity("x", "t", ("one",))], BY)
    other = await asyncpg.connect(POSTGRES_DSN)
    watcher = await asyncpg.connect(POSTGRES_DSN)
    try:
        held = other.transaction()
        await held.start()
        await other.execute(f"UPDATE {store.s}.entities SET version = version + 10 WHERE name = 'x'")
        answers = []

        async def write() -> None:
            answers.extend(await store.add_observations("ns", [("x", ["two"])], BY))

        async with anyio.create_task_group() as group:
            group.start_soon(write)
            with anyio.fail_after(10):
                while not await watcher.fetchval(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE NOT l.granted AND a.application_name = 'mcp-suite-memory'"
                ):
                    await anyio.sleep(0.01)  # polling for the write to be waiting on the lock
            await held.commit()
        version = await watcher.fetchval(f"SELECT version FROM {store.s}.entities WHERE name = 'x'")
    finally:
        await other.close()
        await watcher.close()
    assert [(w.name, w.version, [o.content for o in w.added]) for w in answers] == [("x", 12, ["two"])]
    assert version == 12
