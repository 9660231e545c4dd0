"""The Neo4j store over every GraphStore operation: on the driver double, and on a real Neo4j when NEO4J_URI is set.

The double (tests/support/neo4j_memory_double.py) is not a live integration: the ``live`` variant
runs the same sentences against the server named by NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from neo4j.exceptions import ConstraintError

from servers.memory.errors import MemoryToolError
from servers.memory.settings import Neo4jStoreSettings
from servers.memory.store.base import (
    NewEntity,
    Provenance,
    RelationKey,
    UnknownEntity,
    UnknownObservation,
    VersionConflict,
)
from servers.memory.store.neo4j import cypher
from servers.memory.store.neo4j.driver import use_driver_factory
from servers.memory.store.neo4j.store import Neo4jGraphStore
from tests.servers.memory.support import fresh_namespace
from tests.support.neo4j_double import server_error
from tests.support.neo4j_memory_double import Neo4jMemoryDouble

pytestmark = pytest.mark.anyio
LIVE = pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="NEO4J_URI is not set: no Neo4j to run against")


def by(at: float | None = None, ttl: float | None = None) -> Provenance:
    now = time.time() if at is None else at
    return Provenance("tester", "test", now, None if ttl is None else now + ttl)


@pytest.fixture
def double() -> Iterator[Neo4jMemoryDouble]:
    made = Neo4jMemoryDouble()
    with use_driver_factory(made.factory):
        yield made


def double_store() -> Neo4jGraphStore:
    return Neo4jGraphStore("neo4j://neo4j-double:7687", "neo4j", "double")


@pytest.fixture(params=["double", pytest.param("live", marks=[LIVE, pytest.mark.live])])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Neo4jGraphStore]:
    if request.param == "double":
        made = Neo4jMemoryDouble()
        with use_driver_factory(made.factory):
            opened = double_store()
            await opened.open()
            yield opened
            await opened.close()
        return
    opened = Neo4jGraphStore.from_settings(Neo4jStoreSettings())
    await opened.open()
    yield opened
    await opened.close()


async def test_every_write_and_read_of_the_graph_store(store: Neo4jGraphStore) -> None:
    ns = fresh_namespace()
    try:
        made = await store.create_entities(
            ns, [NewEntity("Ada", "person", ("writes compilers", "drinks tea")), NewEntity("Bob", "person", ())], by()
        )
        again = await store.create_entities(ns, [NewEntity("Ada", "robot", ("other",))], by())
        related = await store.create_relations(
            ns, [RelationKey("Ada", "Bob", "knows"), RelationKey("Ada", "Bob", "knows")], by()
        )
        added = await store.add_observations(ns, [("Bob", ["plays cello", "plays cello"])], by())
        with pytest.raises(UnknownEntity):
            await store.add_observations(ns, [("Bob", ["never"]), ("Nobody", ["x"])], by())
        tea = next(o for o in made[0].added if o.content == "drinks tea")
        with pytest.raises(VersionConflict):
            await store.supersede_observation(ns, "Ada", tea.id, "drinks coffee", by(), expected_version=7)
        with pytest.raises(UnknownObservation):
            await store.supersede_observation(ns, "Ada", "drinks milk", "drinks coffee", by(), None)
        done = await store.supersede_observation(ns, "Ada", tea.id, "drinks coffee", by(), expected_version=1)
        now = time.time()
        listed = await store.list_entities(ns, None, 10, now)
        page = await store.list_entities(ns, "Ada", 10, now)
        history = await store.history(ns, "Ada", now)
        touching = await store.relations_touching(ns, ["Bob"])
        within = await store.relations_touching(ns, ["Bob"], both_ends=True)
        outgoing = await store.relations_from(ns, ["Ada"])
        hits = await store.search(ns, "compilers", 10, 0, now)
        inside = await store.search(ns, "OFFE", 10, 0, now)
        graph = await store.search_graph(ns, "cello", 10, 0, now)
        stats = await store.stats(ns, now)
        by_id = await store.observations_by_id(ns, [tea.id, done.new.id], now)
        gone_obs = await store.delete_observations(ns, [("Bob", ["plays cello", "not there"])], now)
        gone_rel = await store.delete_relations(ns, [RelationKey("Ada", "Bob", "knows")])
        namespaces = await store.namespaces()
    finally:
        gone = await store.delete_entities(ns, ["Ada", "Bob"])
    assert [w.name for w in made] == ["Ada", "Bob"] and again == [] and len(related) == 1
    assert [len(w.added) for w in added] == [1] and added[0].version == 2
    assert done.version == 2 and done.old.superseded_by == done.new.id
    assert [(e.name, [o.content for o in e.observations]) for e in listed] == [
        ("Ada", ["writes compilers", "drinks coffee"]),
        ("Bob", ["plays cello"]),
    ]
    assert [e.name for e in page] == ["Bob"]
    assert [(o.content, o.superseded_by is None) for o in history] == [
        ("writes compilers", True),
        ("drinks tea", False),
        ("drinks coffee", True),
    ]
    assert [(r.source, r.target) for r in touching] == [("Ada", "Bob")] and within == []
    assert [r.relation_type for r in outgoing] == ["knows"]
    assert [h.name for h in hits] == ["Ada"] and hits[0].score > 0
    assert [(h.name, h.score) for h in inside] == [("Ada", 0.0)]
    assert [h.name for h in graph[0]] == ["Bob"] and [r.source for r in graph[2]] == ["Ada"]
    assert (stats.entities, stats.observations, stats.relations) == (2, 3, 1)
    assert [o.id for o in by_id] == [done.new.id]
    assert gone_obs.observations == 1 and gone_obs.versions == {"Bob": 3} and gone_rel.relations == 1
    assert ns in namespaces
    assert (gone.entities, gone.observations, gone.relations) == (2, 3, 0)


async def test_vectors_and_expiry(store: Neo4jGraphStore) -> None:
    ns = fresh_namespace()
    now = time.time()
    try:
        await store.create_entities(ns, [NewEntity("Old", "note", ("stale",))], by(now - 20, ttl=10))
        [kept] = await store.create_entities(ns, [NewEntity("Kept", "note", ("fresh",))], by())
        await store.add_observations(ns, [("Kept", ["short-lived"])], by(now - 20, ttl=10))
        pending = [(oid, text) for oid, text in await store.pending_embeddings(10_000) if oid == kept.added[0].id]
        vector = np.ones(4, dtype=np.float32).tobytes()
        await store.store_embeddings([(kept.added[0].id, vector)])
        vectors = await store.vectors_since(ns, 0, 10)
        found = await store.search(ns, "stale", 10, 0, now)
        removed = await store.purge_expired(now)
        stats = await store.stats(ns, now)
    finally:
        await store.delete_entities(ns, ["Old", "Kept"])
    assert pending == [(kept.added[0].id, "fresh")]
    assert vectors == [(kept.added[0].id, "Kept", vector)]
    assert found == [] and removed == 3 and (stats.entities, stats.observations) == (1, 1)


async def test_open_makes_the_constraints_the_indexes_and_the_full_text_index(double: Neo4jMemoryDouble) -> None:
    store = double_store()
    await store.open()
    await store.close()
    assert double.graph.schema == {
        "memory_entity_key",
        "memory_observation_id",
        "memory_entity_namespace",
        "memory_observation_entity",
        "memory_entity_text",
    }
    assert store.fulltext is True and double.graph.counters == {"observation": 0} and double.closed


async def test_without_full_text_search_ranks_in_the_server_with_the_same_answers() -> None:
    answers = []
    for fulltext, lost_later in ((True, False), (False, False), (True, True)):
        double = Neo4jMemoryDouble(fulltext=fulltext)
        with use_driver_factory(double.factory):
            store = double_store()
            await store.open()
            ns = fresh_namespace()
            await store.create_entities(
                ns,
                [
                    NewEntity("Harbour", "place", ("boats boats boats at dawn",)),
                    NewEntity("Johnson", "person", ("once saw a boat",)),
                    NewEntity("Kitchen", "place", ("pots",)),
                ],
                by(),
            )
            double.fulltext = not lost_later and fulltext  # the procedure may vanish after open (a downgrade)
            hits = await store.search(ns, "boat", 10, 0, time.time())
            both = await store.search(ns, "boat dawn", 10, 0, time.time())
            await store.close()
        answers.append(([h.name for h in hits], [h.name for h in both], store.fulltext))
    assert answers[0] == (["Harbour", "Johnson"], ["Harbour"], True)
    assert answers[1] == (["Harbour", "Johnson"], ["Harbour"], False)
    assert answers[2] == (["Harbour", "Johnson"], ["Harbour"], False)


async def test_a_transient_failure_is_retried_by_the_driver_and_the_write_lands_once(
    double: Neo4jMemoryDouble,
) -> None:
    store = double_store()
    await store.open()
    ns = fresh_namespace()
    await store.create_entities(ns, [NewEntity("Ada", "person", ())], by())
    double.fail_once(
        cypher.CREATE_OBSERVATIONS,
        server_error("Neo.TransientError.Transaction.DeadlockDetected", "ForsetiClient can't acquire ExclusiveLock"),
    )
    [written] = await store.add_observations(ns, [("Ada", ["one"])], by())
    [ada] = await store.get_entities(ns, ["Ada"], time.time())
    await store.close()
    assert double.rolled_back == 1
    assert [o.content for o in ada.observations] == ["one"] and ada.version == written.version == 2


async def test_a_refused_write_rolls_back_and_changes_nothing(double: Neo4jMemoryDouble) -> None:
    store = double_store()
    await store.open()
    ns = fresh_namespace()
    await store.create_entities(ns, [NewEntity("Ada", "person", ("one",))], by())
    before = copy.deepcopy(double.graph)
    with pytest.raises(UnknownEntity):
        await store.add_observations(ns, [("Ada", ["two"]), ("Nobody", ["x"])], by())
    with pytest.raises(UnknownEntity):
        await store.create_relations(ns, [RelationKey("Ada", "Ghost", "knows")], by())
    await store.close()
    assert double.graph == before


async def test_writes_run_in_write_transactions_and_reads_in_read_transactions(double: Neo4jMemoryDouble) -> None:
    store = double_store()
    await store.open()
    ns = fresh_namespace()
    await store.create_entities(ns, [NewEntity("Ada", "person", ("one",))], by())
    await store.list_entities(ns, None, 10, time.time())
    await store.close()
    # The double refuses a write statement in a read transaction (AccessMode): none was refused.
    assert "LOCK_ENTITIES" in double.executed and "LIST_ENTITIES" in double.executed
    assert double.rolled_back == 0


async def test_a_neo4j_that_is_down_is_a_coded_store_unavailable(double: Neo4jMemoryDouble) -> None:
    double.unreachable = True
    store = Neo4jGraphStore("neo4j://neo4j:secret@neo4j-double:7687", "neo4j", "secret")
    with pytest.raises(MemoryToolError) as writing:
        await store.create_entities("ns", [NewEntity("Ada", "person", ())], by())
    with pytest.raises(MemoryToolError) as reading:
        await store.search("ns", "ada", 10, 0, time.time())
    await store.close()
    assert writing.value.code == reading.value.code == "store_unavailable"
    assert "neo4j-double:7687" in str(writing.value) and "secret" not in str(writing.value)


def test_settings_take_the_address_and_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "neo4j://graph.internal:7687")
    monkeypatch.setenv("NEO4J_USER", "memory")
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret")
    settings = Neo4jStoreSettings()
    assert (settings.uri, settings.user, settings.password) == ("neo4j://graph.internal:7687", "memory", "s3cret")
    assert "s3cret" not in repr(settings)


async def test_dropping_namespaces_deletes_their_nodes_and_no_others(double: Neo4jMemoryDouble) -> None:
    store = double_store()
    await store.open()
    doomed, kept = fresh_namespace(), fresh_namespace()
    for ns in (doomed, kept):
        await store.create_entities(ns, [NewEntity("Ada", "person", ("one",)), NewEntity("Bob", "person", ())], by())
        await store.create_relations(ns, [RelationKey("Ada", "Bob", "knows")], by())
    deleted = await store.drop_namespaces([doomed])
    left = await store.namespaces()
    stats = await store.stats(kept, time.time())
    await store.close()
    assert deleted == 3 and doomed not in left and kept in left
    assert (stats.entities, stats.observations, stats.relations) == (2, 1, 1)


async def test_an_observation_id_taken_twice_is_a_constraint_error_and_nothing_is_written(
    double: Neo4jMemoryDouble,
) -> None:
    store = double_store()
    await store.open()
    ns = fresh_namespace()
    await store.create_entities(ns, [NewEntity("Ada", "person", ("one",))], by())
    double.graph.counters["observation"] = 0  # the counter node reset behind the store's back
    before = copy.deepcopy(double.graph)
    with pytest.raises(ConstraintError):
        await store.add_observations(ns, [("Ada", ["two"])], by())
    await store.close()
    assert double.graph == before
