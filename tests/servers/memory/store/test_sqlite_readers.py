"""The SQLite store's reads: a few read-only connections beside the writer, each read seeing every answered write."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import pytest

from servers.memory.store.base import NewEntity, Provenance
from servers.memory.store.sqlite import store as sqlite_store
from servers.memory.store.sqlite.store import SqliteGraphStore

pytestmark = pytest.mark.anyio


async def test_concurrent_reads_use_at_most_the_readers_and_each_sees_the_writes_before_it(tmp_path: Path) -> None:
    store = SqliteGraphStore(tmp_path / "memory.db")
    seen: list[int] = []
    await store.open()
    try:

        async def write_then_read(n: int) -> None:
            await store.create_entities(
                "ns", [NewEntity(f"e{n:02d}", "t", (f"fact {n}",))], Provenance("t", "t", time.time())
            )
            found = await store.get_entities("ns", [f"e{n:02d}"], time.time())
            seen.append(len(found))

        async with anyio.create_task_group() as group:
            for n in range(24):
                group.start_soon(write_then_read, n)
        made = store._made
    finally:
        await store.close()
    assert seen == [1] * 24 and 1 <= made <= sqlite_store.READERS


async def test_a_reader_cannot_write(tmp_path: Path) -> None:
    store = SqliteGraphStore(tmp_path / "memory.db")
    await store.open()
    try:
        with pytest.raises(sqlite3.OperationalError):
            await store._read(lambda db: db.execute("DELETE FROM entities"))
    finally:
        await store.close()
