"""Concurrent writers lose nothing and write nothing twice: two servers on one PostgreSQL, four processes on one SQLite file.

PostgreSQL: two ``mcp-suite serve memory --transport http`` processes share one schema; eight
writer processes (``suite.bench.memory_writer``) each write 500 observations, five to an
``add_observations`` call (one transaction), four calls at a time, half of them to the same eight
shared entities, four writers through each server.
SQLite: four writer processes write 500 observations each straight into one database file.
Afterwards every observation is there exactly once, and each entity's version counts the calls that
changed it.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest
from mcp import Client

from servers.memory.store.base import NewEntity, Provenance
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.memory.store.sqlite.store import SqliteGraphStore
from suite.bench.memory_processes import memory_server, run_writers
from suite.bench.memory_writer import calls_of, grouped, target_of, text_of
from tests.servers.memory.support import POSTGRES_DSN

pytestmark = pytest.mark.anyio
WRITES = 500
SHARED = 8
PER_CALL = 5  # writes per add_observations call: one transaction over several entities, some shared


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"memory_scenario_{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        store = PostgresGraphStore(POSTGRES_DSN, name, min_size=0, max_size=1)
        try:
            await store.drop_schema()
        finally:
            await store.close()

    anyio.run(drop)


def expected(writers: list[str]) -> Counter[tuple[str, str]]:
    return Counter((target_of(w, n, SHARED), text_of(w, n)) for w in writers for n in range(WRITES))


async def held(
    store: SqliteGraphStore | PostgresGraphStore, namespace: str
) -> tuple[Counter[tuple[str, str]], dict[str, int]]:
    entities = await store.list_entities(namespace, None, 1000, time.time())
    observations = Counter((e.name, o.content) for e in entities for o in e.observations)
    return observations, {e.name: e.version for e in entities}


def check(found: Counter[tuple[str, str]], versions: dict[str, int], writers: list[str]) -> None:
    wanted = expected(writers)
    lost = wanted - found
    doubled = {key: n for key, n in found.items() if n > 1}
    assert not lost, f"{sum(lost.values())} writes lost, e.g. {next(iter(lost))}"
    assert not doubled, f"written twice: {list(doubled)[:3]}"
    assert set(found) == set(wanted)
    changes = Counter(
        entity for w in writers for call in calls_of(w, WRITES, SHARED, PER_CALL) for entity, _ in grouped(call)
    )
    for entity, count in changes.items():
        assert versions[entity] == count + 1, (
            entity,
            versions[entity],
            count,
        )  # created at 1, +1 per call that changed it


async def test_eight_writers_through_two_servers_on_one_postgresql_lose_and_repeat_nothing(
    tmp_path: Path, schema: str
) -> None:
    namespace = "writers"
    memory = {"store": "postgres", "postgres": {"dsn": POSTGRES_DSN, "schema_name": schema}, "recall_vectors": False}
    writers = [str(n) for n in range(8)]
    with ExitStack() as stack:
        url_a, _ = stack.enter_context(memory_server(tmp_path, "a", memory))
        url_b, _ = stack.enter_context(memory_server(tmp_path, "b", memory))
        async with Client(url_a) as client:
            shared = [{"name": f"shared-{k}", "entityType": "shared", "observations": []} for k in range(SHARED)]
            made = await client.call_tool("create_entities", {"entities": shared, "namespace": namespace})
            assert not made.is_error
        argvs = [
            [
                "--url",
                url_a if int(w) % 2 else url_b,
                "--namespace",
                namespace,
                "--writer",
                w,
                "--writes",
                str(WRITES),
                "--per-call",
                str(PER_CALL),
            ]
            for w in writers
        ]
        reports = await anyio.to_thread.run_sync(run_writers, argvs)
    assert sum(r["errors"] for r in reports) == 0
    store = PostgresGraphStore(POSTGRES_DSN, schema, min_size=0, max_size=1)
    try:
        found, versions = await held(store, namespace)
    finally:
        await store.close()
    check(found, versions, writers)


async def test_four_processes_writing_one_sqlite_file_lose_and_repeat_nothing(tmp_path: Path) -> None:
    path, namespace = tmp_path / "shared.db", "writers"
    store = SqliteGraphStore(path)
    await store.open()
    shared = [NewEntity(f"shared-{k}", "shared", ()) for k in range(SHARED)]
    await store.create_entities(namespace, shared, Provenance("test", "setup", time.time()))
    writers = [str(n) for n in range(4)]
    argvs = [
        [
            "--sqlite",
            str(path),
            "--namespace",
            namespace,
            "--writer",
            w,
            "--writes",
            str(WRITES),
            "--per-call",
            str(PER_CALL),
        ]
        for w in writers
    ]
    try:
        reports = await anyio.to_thread.run_sync(run_writers, argvs)
        found, versions = await held(store, namespace)
    finally:
        await store.close()
    assert sum(r["errors"] for r in reports) == 0
    check(found, versions, writers)
