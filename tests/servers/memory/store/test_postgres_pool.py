"""The PostgreSQL store's pool: sessions that plan once, handed back without a reset and never dirty."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from servers.memory.store.base import NewEntity, Provenance
from servers.memory.store.postgres.store import PostgresGraphStore
from tests.servers.memory.support import scratch_postgres_store

pytestmark = pytest.mark.anyio

BY = Provenance("alice", "test", time.time())


@pytest.fixture
async def store() -> AsyncIterator[PostgresGraphStore]:
    async with scratch_postgres_store("memory_pool") as opened:
        yield opened


async def test_a_released_connection_is_not_sent_the_reset_query(store: PostgresGraphStore) -> None:
    sent: list[str] = []

    async def work(db: Any) -> None:
        db.add_query_logger(lambda record: sent.append(record.query))

    await store._statement(work)
    await store.add_observations("ns", [], BY)  # nothing to write: no statement
    await store.create_entities("ns", [NewEntity("ada", "person", ("wrote notes",))], BY)
    assert not any("RESET ALL" in query or "UNLISTEN" in query for query in sent)
    assert len(sent) == 1  # the create itself


async def test_a_call_cancelled_inside_its_transaction_leaves_the_next_call_outside_one(
    store: PostgresGraphStore,
) -> None:
    await store.create_entities("ns", [NewEntity("ada", "person", ())], BY)
    entered = anyio.Event()

    async def stuck(db: Any) -> None:
        await db.execute(f"UPDATE {store.s}.entities SET version = 99")
        entered.set()
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(store._write, stuck)
        await entered.wait()
        tasks.cancel_scope.cancel()

    async def state(db: Any) -> tuple[bool, int]:
        return db.is_in_transaction(), await db.fetchval(f"SELECT version FROM {store.s}.entities WHERE name = 'ada'")

    # the pool's one connection, handed back after the cancel: rolled back, and outside a transaction
    assert await store._read(state) == (False, 1)


async def test_the_stores_sessions_plan_each_statement_once(store: PostgresGraphStore) -> None:
    async def settings(db: Any) -> tuple[str, str]:
        return await db.fetchval("SHOW plan_cache_mode"), await db.fetchval("SHOW application_name")

    assert await store._read(settings) == ("force_generic_plan", "mcp-suite-memory")
