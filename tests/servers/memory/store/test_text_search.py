"""Full text on both stores: a text per observation, every word somewhere in the entity, only current facts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from servers.memory.store.base import GraphStore, NewEntity, Provenance
from tests.servers.memory.support import fresh_namespace, service_for, suite_settings

pytestmark = pytest.mark.anyio


def written(at: float | None = None, ttl: float | None = None) -> Provenance:
    now = time.time() if at is None else at
    return Provenance("tester", "test", now, None if ttl is None else now + ttl)


async def names(store: GraphStore, ns: str, query: str, *, any_word: bool = False) -> list[str]:
    return [h.name for h in await store.search(ns, query, 10, 0, time.time(), any_word=any_word)]


async def test_words_in_different_observations_of_one_entity_match_together(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    await service.open()
    try:
        await store.create_entities(
            ns,
            [
                NewEntity("Ada", "person", ("sails a dinghy", "bakes sourdough")),
                NewEntity("Bob", "person", ("sails a yacht",)),
                NewEntity("Cy", "baker", ("makes sourdough",)),
            ],
            written(),
        )
        both = await names(store, ns, "sourdough dinghy")
        typed = await names(store, ns, "baker sourdough")
        either = await names(store, ns, "dinghy sourdough", any_word=True)
        prefix = await names(store, ns, "sail")
    finally:
        await service.close()
    assert both == ["Ada"]  # one word in each observation
    assert typed == ["Cy"]  # the type is searchable beside the observations
    assert set(either) == {"Ada", "Cy"} and either[0] == "Ada"  # two words found outrank one
    assert set(prefix) == {"Ada", "Bob"}


async def test_superseded_deleted_and_expired_observations_never_match(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    now = time.time()
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("Ada", "person", ("lives in Paris", "likes tea"))], written())
        await store.add_observations(ns, [("Ada", ["owns a kayak"])], written(now - 20, ttl=10))
        await store.supersede_observation(ns, "Ada", "lives in Paris", "lives in Rome", written(), None)
        await store.delete_observations(ns, [("Ada", ["likes tea"])], time.time())
        found = {q: await names(store, ns, q) for q in ("paris", "tea", "kayak", "rome", "ada")}
        substring = {q: await names(store, ns, q) for q in ("in par", "kes te", "s a kay")}
    finally:
        await service.close()
    assert found == {"paris": [], "tea": [], "kayak": [], "rome": ["Ada"], "ada": ["Ada"]}
    assert substring == {"in par": [], "kes te": [], "s a kay": []}


async def test_an_entity_found_by_full_text_keeps_being_found_after_many_writes(
    data_dir: Path, store_kind: str
) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("Log", "journal", ("first entry about herons",))], written())
        for n in range(40):
            await store.add_observations(ns, [("Log", [f"entry {n} about the weather"])], written())
        await store.create_entities(ns, [NewEntity("Other", "journal", ("herons",))], written())
        herons = await names(store, ns, "herons")
        weather = await names(store, ns, "weather entry")
        records = await store.get_entities(ns, ["Log"], time.time())
    finally:
        await service.close()
    assert set(herons) == {"Log", "Other"}
    assert weather == ["Log"]
    assert records[0].version == 41 and len(records[0].observations) == 41


async def test_a_deleted_entity_and_its_observations_leave_the_index(data_dir: Path, store_kind: str) -> None:
    service = service_for(suite_settings(store_kind, data_dir))
    store, ns = service.store, fresh_namespace()
    await service.open()
    try:
        await store.create_entities(ns, [NewEntity("Ada", "pilot", ("flies gliders",))], written())
        await store.delete_entities(ns, ["Ada"])
        await store.create_entities(ns, [NewEntity("Ada", "cook", ("makes soup",))], written())
        gliders = await names(store, ns, "gliders")
        pilot = await names(store, ns, "pilot")
        soup = await names(store, ns, "cook soup")
    finally:
        await service.close()
    assert (gliders, pilot, soup) == ([], [], ["Ada"])
