"""What only the Redis store promises: racing writers, the namespace TTL, prefixes, a Redis that is down.

Against the real Redis at 127.0.0.1:6379 (``MEMORY_TEST_REDIS_URL``), each test under a key prefix
of its own, deleted afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import numpy as np
import pytest

from servers.memory.errors import MemoryToolError
from servers.memory.store.base import NewEntity, Provenance, RelationKey, UnknownEntity
from servers.memory.store.redis.store import RedisGraphStore
from tests.servers.memory.support import REDIS_URL, fresh_namespace

pytestmark = pytest.mark.anyio
BY = Provenance("tester", "test", 0.0)


def by(at: float | None = None) -> Provenance:
    return Provenance("tester", "test", time.time() if at is None else at)


@asynccontextmanager
async def stores(count: int = 1, **options: Any) -> AsyncIterator[list[RedisGraphStore]]:
    """``count`` store objects on one fresh prefix (as many server instances on one Redis)."""
    prefix = f"mcp-suite-test:redis-store:{uuid.uuid4().hex[:10]}:"
    opened = [RedisGraphStore(REDIS_URL, prefix, **options) for _ in range(count)]
    try:
        for store in opened:
            await store.open()
        yield opened
    finally:
        await opened[0].drop_prefix()
        for store in opened:
            await store.close()


async def snapshot(store: RedisGraphStore) -> dict[str, bytes]:
    """Every key under the store's prefix with its serialised value: equal snapshots, equal data."""
    raw = store._binary
    keys = sorted([key async for key in raw.scan_iter(match=store.keys.prefix.encode() + b"*")])
    return {key.decode(): await raw.dump(key) for key in keys}


async def test_concurrent_writers_of_one_entity_lose_no_observation_and_store_none_twice() -> None:
    async with stores(2) as (first, second):
        ns = fresh_namespace()
        await first.create_entities(ns, [NewEntity("Ada", "person", ())], by())
        results: list[Any] = []

        async def add(store: RedisGraphStore, n: int) -> None:
            results.extend(await store.add_observations(ns, [("Ada", [f"fact {n}", "shared fact"])], by()))

        async with anyio.create_task_group() as group:
            for n in range(40):
                group.start_soon(add, (first, second)[n % 2], n)
        [ada] = await first.get_entities(ns, ["Ada"], time.time())
    contents = [o.content for o in ada.observations]
    assert sorted(contents) == sorted([f"fact {n}" for n in range(40)] + ["shared fact"])
    ids = [o.id for w in results for o in w.added]
    assert len(ids) == len(set(ids)) == 41  # "shared fact" was added by exactly one writer
    assert ada.version == 41 and sorted(w.version for w in results) == list(range(2, 42))


async def test_a_relation_raced_by_the_delete_of_its_end_never_dangles() -> None:
    async with stores(2) as (first, second):
        ns = fresh_namespace()
        for round_ in range(15):
            names = [f"a{round_}", f"b{round_}"]
            await first.create_entities(ns, [NewEntity(n, "thing", ()) for n in names], by())

            async def relate(names: list[str] = names) -> None:
                with suppress(UnknownEntity):  # the delete may come first: then the relation is refused
                    await first.create_relations(ns, [RelationKey(names[0], names[1], "knows")], by())

            async with anyio.create_task_group() as group:
                group.start_soon(relate)
                group.start_soon(second.delete_entities, ns, [names[1]])
        relations = await first.relations_touching(ns, [f"a{n}" for n in range(15)])
        alive = {e.name for e in await first.list_entities(ns, None, 100, time.time())}
    assert all(r.target in alive for r in relations)


async def test_a_refused_write_changes_nothing_in_redis() -> None:
    async with stores() as (store,):
        ns = fresh_namespace()
        await store.create_entities(ns, [NewEntity("Ada", "person", ("one",))], by())
        before = await snapshot(store)
        with pytest.raises(UnknownEntity):
            await store.add_observations(ns, [("Ada", ["two"]), ("Nobody", ["three"])], by())
        with pytest.raises(UnknownEntity):
            await store.create_relations(ns, [RelationKey("Ada", "Ghost", "knows")], by())
        after = await snapshot(store)
    assert after == before


async def test_the_namespace_ttl_expires_the_whole_namespace_unless_a_write_refreshes_it() -> None:
    async with stores(ttl_seconds=600) as (store,):
        ns = fresh_namespace()
        redis = store._redis
        marker = store.keys.generation(ns)
        await store.create_entities(ns, [NewEntity("Ada", "person", ("note",))], by())
        await redis.pexpire(marker, 5_000)  # as if the last write was long ago
        await store.add_observations(ns, [("Ada", ["later"])], by())
        refreshed = await redis.pttl(marker)
        old_base = store.keys.space(ns, await redis.get(marker)).base
        await redis.pexpireat(marker, 1)  # the TTL runs out: Redis expires the key now
        now = time.time()
        gone = (await store.list_entities(ns, None, 10, now), await store.stats(ns, now), await store.namespaces())
        await store.create_entities(ns, [NewEntity("Bob", "person", ())], by())
        removed = await store.purge_expired(time.time())
        left = [key async for key in redis.scan_iter(match=old_base + "*")]
        listed = [e.name for e in await store.list_entities(ns, None, 10, time.time())]
    assert 590_000 < refreshed <= 600_000
    assert gone[0] == [] and (gone[1].entities, gone[1].observations) == (0, 0) and ns not in gone[2]
    assert removed == 3 and left == []  # Ada and her two observations, every key of the old generation
    assert listed == ["Bob"]


async def test_two_prefixes_on_one_redis_keep_two_servers_apart() -> None:
    async with stores() as (one,), stores() as (other,):
        ns = fresh_namespace()
        await one.create_entities(ns, [NewEntity("Ada", "person", ("mine",))], by())
        await other.create_entities(ns, [NewEntity("Ada", "robot", ("theirs",))], by())
        await other.delete_entities(ns, ["Ada"])
        now = time.time()
        kept = await one.get_entities(ns, ["Ada"], now)
        hits = await one.search(ns, "mine", 10, 0, now)
    assert [(e.entity_type, [o.content for o in e.observations]) for e in kept] == [("person", ["mine"])]
    assert [h.name for h in hits] == ["Ada"]


async def test_vectors_are_stored_for_current_observations_and_a_deleted_one_is_not_brought_back() -> None:
    async with stores() as (store,):
        ns = fresh_namespace()
        [written] = await store.create_entities(ns, [NewEntity("Ada", "person", ("kept", "dropped"))], by())
        pending = dict(await store.pending_embeddings(100))
        await store.delete_observations(ns, [("Ada", ["dropped"])], time.time())
        vector = np.arange(4, dtype=np.float32).tobytes()
        await store.store_embeddings([(oid, vector) for oid in pending])
        rows = await store.vectors_since(ns, 0, 10)
        again = await store.pending_embeddings(100)
        history = await store.history(ns, "Ada", time.time())
    kept = next(o.id for o in written.added if o.content == "kept")
    assert set(pending.values()) == {"kept", "dropped"}
    assert rows == [(kept, "Ada", vector)] and again == []
    assert [o.content for o in history] == ["kept"]


async def test_search_ranks_by_words_and_finds_substrings_inside_words() -> None:
    async with stores() as (store,):
        ns = fresh_namespace()
        await store.create_entities(
            ns,
            [
                NewEntity("Harbour", "place", ("boats boats in the harbour",)),
                NewEntity("Johnson", "person", ("once saw a boat",)),
            ],
            by(),
        )
        now = time.time()
        words = await store.search(ns, "boat", 10, 0, now)
        inside = await store.search(ns, "OHNS", 10, 0, now)
        either = await store.search(ns, "harbour saw", 10, 0, now, any_word=True)
        both = await store.search(ns, "harbour saw", 10, 0, now)
    assert [h.name for h in words] == ["Harbour", "Johnson"] and words[0].score > words[1].score > 0
    assert [(h.name, h.score) for h in inside] == [("Johnson", 0.0)]
    assert {h.name for h in either} == {"Harbour", "Johnson"} and both == []


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.create_entities("ns", [NewEntity("Ada", "person", ())], BY),
        lambda s: s.list_entities("ns", None, 10, 0.0),
        lambda s: s.search("ns", "ada", 10, 0, 0.0),
        lambda s: s.ping(),
    ],
    ids=["write", "list", "search", "ping"],
)
async def test_a_redis_that_is_down_is_a_coded_store_unavailable(call: Callable[[RedisGraphStore], Any]) -> None:
    store = RedisGraphStore("redis://:secret@127.0.0.1:1/0", "mcp-suite-test:down:", connect_timeout=1.0)
    try:
        with pytest.raises(MemoryToolError) as failed:
            await call(store)
    finally:
        await store.close()
    assert failed.value.code == "store_unavailable"
    assert "127.0.0.1:1" in str(failed.value) and "secret" not in str(failed.value)


async def test_search_reads_the_index_not_the_documents_of_the_namespace() -> None:
    async with stores() as (store,):
        ns = fresh_namespace()
        await store.create_entities(
            ns, [NewEntity(f"e{n:03d}", "thing", (f"note number {n}",)) for n in range(200)], by()
        )
        await store.create_entities(ns, [NewEntity("Harbour", "place", ("boats at dawn",))], by())
        space = store.keys.space(ns, "0")
        # A document rewritten behind the index's back: a store that scanned documents would find it.
        await store._redis.hset(space.entity("e007"), "doc", "boats at dawn")
        now = time.time()
        words = await store.search(ns, "boats", 10, 0, now)
        inside = await store.search(ns, "oats at da", 10, 0, now)
    assert [h.name for h in words] == ["Harbour"] and [h.name for h in inside] == ["Harbour"]


class InterferingStore(RedisGraphStore):
    """A store whose every write is raced: another connection changes the entity between WATCH and EXEC."""

    def __init__(self, *args: Any, races: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.races, self.attempts = races, 0

    async def _reserve_ids(self, pipe: Any, count: int) -> list[int]:
        self.attempts += 1
        if self.attempts <= self.races:
            space = self.keys.space("raced", "0")
            await self._binary.hset(space.entity("Ada"), "raced_by", str(self.attempts))
        return await super()._reserve_ids(pipe, count)


async def test_a_write_raced_by_another_writer_starts_again_and_gives_up_after_the_bound() -> None:
    async with stores() as (plain,):
        prefix = plain.keys.prefix
        await plain.create_entities("raced", [NewEntity("Ada", "person", ())], by())
        patient = InterferingStore(REDIS_URL, prefix, races=2, max_write_retries=5)
        hopeless = InterferingStore(REDIS_URL, prefix, races=100, max_write_retries=3)
        try:
            [landed] = await patient.add_observations("raced", [("Ada", ["one"])], by())
            with pytest.raises(MemoryToolError) as busy:
                await hopeless.add_observations("raced", [("Ada", ["two"])], by())
            [ada] = await plain.get_entities("raced", ["Ada"], time.time())
        finally:
            await patient.close()
            await hopeless.close()
    assert patient.attempts == 3 and [o.content for o in landed.added] == ["one"]
    assert busy.value.code == "store_busy" and hopeless.attempts == 3
    assert [o.content for o in ada.observations] == ["one"] and ada.version == 2


WRITER = """
import sys, time, anyio
from servers.memory.store.base import Provenance
from servers.memory.store.redis.store import RedisGraphStore

async def main(url, prefix, ns, label):
    store = RedisGraphStore(url, prefix)
    async def add(n):
        await store.add_observations(ns, [("Ada", [f"{label} {n}", "shared"]), ("Bob", [f"{label} {n}"])],
                                     Provenance(label, "test", time.time()))
    async with anyio.create_task_group() as group:
        for n in range(60):
            group.start_soon(add, n)
    await store.close()

anyio.run(main, *sys.argv[1:])
"""


async def test_writer_processes_on_one_redis_lose_nothing_and_write_nothing_twice() -> None:
    import os
    import sys

    async with stores() as (store,):
        ns = fresh_namespace()
        await store.create_entities(ns, [NewEntity("Ada", "person", ()), NewEntity("Bob", "person", ())], by())
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        args = [REDIS_URL, store.keys.prefix, ns]
        async with anyio.create_task_group() as group:
            for label in ("p1", "p2", "p3"):
                group.start_soon(lambda lb=label: anyio.run_process([sys.executable, "-c", WRITER, *args, lb], env=env))
        ada, bob = await store.get_entities(ns, ["Ada", "Bob"], time.time())
    expected = {f"{p} {n}" for p in ("p1", "p2", "p3") for n in range(60)}
    assert Counter(o.content for o in ada.observations) == Counter([*expected, "shared"])
    assert Counter(o.content for o in bob.observations) == Counter(expected)
    ids = [o.id for o in (*ada.observations, *bob.observations)]
    assert len(ids) == len(set(ids))
    assert ada.version == bob.version == 1 + 180  # every call changed both entities once
