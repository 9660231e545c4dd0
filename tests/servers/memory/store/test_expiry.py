"""TTL: an expired entity or observation is gone from every read, and a purge removes it from the store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from servers.memory.store.base import NewEntity, Provenance
from tests.servers.memory.support import fresh_namespace, service_for, suite_settings

pytestmark = pytest.mark.anyio


async def test_expired_items_vanish_from_reads_and_the_purge_deletes_them(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    now = time.time()
    lapsed = Provenance("tester", "create_entities", now - 20, expires_at=now - 10)
    kept = Provenance("tester", "create_entities", now - 20)
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("Old", "note", ("stale",))], lapsed)
        await store.create_entities(ns, [NewEntity("Kept", "note", ("fresh",))], kept)
        await store.add_observations(ns, [("Kept", ["short-lived"])], lapsed)
        listed = await store.list_entities(ns, None, 10, now)
        found = await store.search(ns, "stale", 10, 0, now)
        removed = await store.purge_expired(now)
        stats = await store.stats(ns, now)
        remade = await store.create_entities(ns, [NewEntity("Old", "note", ("new life",))], kept)
    finally:
        await service.close()
    assert [(e.name, [o.content for o in e.observations]) for e in listed] == [("Kept", ["fresh"])]
    assert found == []
    assert removed == 3  # the entity, its observation, and Kept's short-lived one
    assert (stats.entities, stats.observations) == (1, 1)
    assert [w.name for w in remade] == ["Old"]  # an expired name may be created again


async def test_a_ttl_above_the_operators_cap_is_refused(data_dir: Path) -> None:
    from servers.memory.access import Caller
    from servers.memory.errors import MemoryToolError
    from servers.memory.models import EntityInput

    service = service_for(suite_settings("sqlite", data_dir, max_ttl_seconds=60))
    await service.open()
    try:
        with pytest.raises(MemoryToolError) as refused:
            await service.create_entities(
                Caller("t", "create_entities"), [EntityInput(name="A", entityType="t")], None, ttl_seconds=61
            )
        stats = await service.store.stats(service.settings.default_namespace, time.time())
    finally:
        await service.close()
    assert refused.value.code == "ttl_too_long" and stats.entities == 0
