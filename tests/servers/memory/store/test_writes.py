"""The hot writes on both stores: refused whole, expired keys reused, concurrent writers in any order."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from servers.memory.store.base import NewEntity, Provenance, UnknownEntity
from tests.servers.memory.support import fresh_namespace, service_for, suite_settings

pytestmark = pytest.mark.anyio


def written(at: float | None = None, ttl: float | None = None) -> Provenance:
    now = time.time() if at is None else at
    return Provenance("tester", "test", now, None if ttl is None else now + ttl)


async def test_an_unknown_entity_among_several_refuses_the_whole_write(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("A", "t", ("a0",)), NewEntity("C", "t", ())], written())
        with pytest.raises(UnknownEntity) as refused:
            await store.add_observations(ns, [("C", ["c1"]), ("B", ["b1"]), ("A", ["a1"])], written())
        records = await store.get_entities(ns, ["A", "C"], time.time())
    finally:
        await service.close()
    assert refused.value.name == "B"
    assert [(r.name, r.version, [o.content for o in r.observations]) for r in records] == [
        ("A", 1, ["a0"]),
        ("C", 1, []),
    ]


async def test_a_text_or_name_held_only_by_an_expired_item_is_written_again(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    now = time.time()
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("Old", "note", ("stale",))], written(now - 20, ttl=10))
        remade = await store.create_entities(ns, [NewEntity("Old", "note", ("stale", "fresh"))], written())
        await store.create_entities(ns, [NewEntity("Kept", "note", ())], written())
        await store.add_observations(ns, [("Kept", ["brief"])], written(now - 20, ttl=10))
        again = await store.add_observations(ns, [("Kept", ["brief", "brief"])], written())
        records = await store.get_entities(ns, ["Old", "Kept"], time.time())
        history = await store.history(ns, "Kept", time.time())
    finally:
        await service.close()
    assert [(w.name, w.version, [o.content for o in w.added]) for w in remade] == [("Old", 1, ["stale", "fresh"])]
    assert [o.content for o in again[0].added] == ["brief"] and again[0].version == 3
    assert [(r.name, [o.content for o in r.observations]) for r in records] == [
        ("Old", ["stale", "fresh"]),
        ("Kept", ["brief"]),
    ]
    assert [o.content for o in history] == ["brief"]  # the expired one made way, it is not kept twice


async def test_writers_naming_entities_in_opposite_orders_all_commit(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    calls = 24
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("A", "t", ()), NewEntity("B", "t", ())], written())

        async def write(n: int) -> None:
            pair = [("A", [f"a{n}"]), ("B", [f"b{n}"])]
            await store.add_observations(ns, pair if n % 2 else pair[::-1], written())

        async with anyio.create_task_group() as group:
            for n in range(calls):
                group.start_soon(write, n)
    finally:
        await service.close()
    reader = service_for(suite_settings(store_kind, data_dir)).store  # another connection sees every write
    await reader.open()
    try:
        records = await reader.get_entities(ns, ["A", "B"], time.time())
    finally:
        await reader.close()
    assert [(r.name, r.version, len(r.observations)) for r in records] == [
        ("A", 1 + calls, calls),
        ("B", 1 + calls, calls),
    ]
