"""The behaviour every vector backend shares, run on each of them (see conftest.BACKENDS)."""

from __future__ import annotations

import itertools

import numpy
import pytest

from servers.vectorstore.backends import BackendError, StoredDocument, VectorBackend
from servers.vectorstore.filters import parse_filter
from servers.vectorstore.record import CollectionRecord, Distance

pytestmark = pytest.mark.anyio

DIM = 8


def unit_vectors(count: int, seed: int = 7) -> numpy.ndarray:
    rows = numpy.random.default_rng(seed).normal(size=(count, DIM)).astype(numpy.float32)
    return rows / numpy.linalg.norm(rows, axis=1, keepdims=True)


def record(distance: Distance = "cosine", dimension: int = DIM) -> CollectionRecord:
    return CollectionRecord.new(
        embedder_kind="local", model="all-MiniLM-L6-v2", dimension=dimension, distance=distance, description="d"
    )


def docs(count: int, seed: int = 7) -> list[StoredDocument]:
    vectors = unit_vectors(count, seed)
    return [
        StoredDocument(id=f"doc-{i}", text=f"text {i}", metadata={"n": i, "even": i % 2 == 0}, vector=vectors[i])
        for i in range(count)
    ]


async def made(backend: VectorBackend, name: str, count: int = 0, distance: Distance = "cosine") -> CollectionRecord:
    await backend.create_collection(name, record(distance))
    if count:
        await backend.upsert(name, docs(count))
    return await backend.record(name)


async def test_a_created_collection_is_listed_and_gives_its_record_back(backend: VectorBackend, name: str) -> None:
    written = record("l2")
    await backend.create_collection(name, written)
    assert await backend.record(name) == written
    assert name in await backend.list_collections()
    assert await backend.count(name) == 0
    assert await backend.ping()


async def test_a_changed_record_is_stored(backend: VectorBackend, name: str) -> None:
    first = await made(backend, name)
    changed = CollectionRecord(**{**first.__dict__, "description": "new words", "revision": "r2"})
    await backend.set_record(name, changed)
    assert await backend.record(name) == changed


async def test_creating_an_existing_collection_is_refused_and_keeps_the_first(
    backend: VectorBackend, name: str
) -> None:
    first = await made(backend, name, count=3)
    with pytest.raises(BackendError) as refused:
        await backend.create_collection(name, record("ip"))
    assert refused.value.code == "collection_exists"
    assert name in refused.value.detail
    assert await backend.record(name) == first
    assert await backend.count(name) == 3


@pytest.mark.parametrize("bad", ["ab", "-starts-with-dash", "has space", "x" * 64, "ends.", "é-accent"])
async def test_an_invalid_collection_name_is_refused_and_nothing_is_made(backend: VectorBackend, bad: str) -> None:
    before = await backend.list_collections()
    with pytest.raises(BackendError) as refused:
        await backend.create_collection(bad, record())
    assert refused.value.code == "invalid_collection_name"
    assert await backend.list_collections() == before


async def test_every_operation_on_an_unknown_collection_says_so(backend: VectorBackend, name: str) -> None:
    vector = unit_vectors(1)[0]
    calls = [
        backend.record(name),
        backend.set_record(name, record()),
        backend.count(name),
        backend.upsert(name, docs(1)),
        backend.get(name, None, None, 0, 10),
        backend.get(name, ["a"], None, 0, 10),
        backend.delete(name, ["a"], None),
        backend.query(name, vector, 3, None),
        backend.delete_collection(name),
        backend.index_settings(name),
    ]
    for call in calls:
        with pytest.raises(BackendError) as refused:
            await call
        assert refused.value.code == "unknown_collection", refused.value
        assert name in refused.value.detail
    with pytest.raises(BackendError) as refused:
        async for _ in backend.scan(name):
            pass
    assert refused.value.code == "unknown_collection"
    assert name not in await backend.list_collections()


async def test_a_deleted_collection_is_gone(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=2)
    await backend.delete_collection(name)
    assert name not in await backend.list_collections()
    with pytest.raises(BackendError) as refused:
        await backend.count(name)
    assert refused.value.code == "unknown_collection"


async def test_documents_round_trip_with_text_metadata_and_vector(backend: VectorBackend, name: str) -> None:
    await made(backend, name)
    vector = unit_vectors(1)[0]
    metadata = {"s": "word", "i": 7, "f": 2.5, "b": False}
    await backend.upsert(
        name, [StoredDocument("one", "the text", metadata, vector), StoredDocument("two", None, {}, vector)]
    )
    one, two = await backend.get(name, ["one", "two"], None, 0, 10, include_vectors=True)
    assert (one.id, one.text, one.metadata) == ("one", "the text", metadata)
    assert type(one.metadata["i"]) is int and type(one.metadata["b"]) is bool
    assert one.vector is not None and numpy.allclose(one.vector, vector, atol=1e-6)
    assert (two.id, two.text, two.metadata) == ("two", None, {})
    without = await backend.get(name, ["one"], None, 0, 10)
    assert without[0].vector is None


async def test_upserting_the_same_ids_again_keeps_one_document_each_with_the_newest_content(
    backend: VectorBackend, name: str
) -> None:
    await made(backend, name, count=4)
    newer = docs(4, seed=99)
    for doc in newer:
        doc.text = f"new {doc.id}"
    await backend.upsert(name, newer)
    await backend.upsert(name, newer)
    assert await backend.count(name) == 4
    got = await backend.get(name, [doc.id for doc in newer], None, 0, 10, include_vectors=True)
    assert [doc.text for doc in got] == [f"new doc-{i}" for i in range(4)]
    assert all(numpy.allclose(g.vector, n.vector, atol=1e-6) for g, n in zip(got, newer, strict=True))  # type: ignore[arg-type]


async def test_a_repeated_id_within_one_batch_keeps_the_last(backend: VectorBackend, name: str) -> None:
    await made(backend, name)
    vector = unit_vectors(1)[0]
    await backend.upsert(name, [StoredDocument("x", "first", {}, vector), StoredDocument("x", "last", {}, vector)])
    assert [doc.text for doc in await backend.get(name, ["x"], None, 0, 10)] == ["last"]


async def test_each_write_gives_the_record_a_new_revision(backend: VectorBackend, name: str) -> None:
    first = await made(backend, name)
    await backend.upsert(name, docs(3))
    second = await backend.record(name)
    assert second.revision != first.revision
    assert await backend.delete(name, ["doc-0"], None) == 1
    third = await backend.record(name)
    assert third.revision != second.revision
    assert await backend.delete(name, ["missing"], None) == 0
    assert (await backend.record(name)).revision == third.revision
    assert (third.model, third.dimension, third.created_at) == (first.model, first.dimension, first.created_at)


async def test_get_by_ids_keeps_the_asked_order_and_leaves_missing_ones_out(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=5)
    got = await backend.get(name, ["doc-3", "nope", "doc-0", "doc-3", "doc-1"], None, 0, 10)
    assert [doc.id for doc in got] == ["doc-3", "doc-0", "doc-1"]
    page = await backend.get(name, ["doc-3", "doc-0", "doc-1"], None, 1, 1)
    assert [doc.id for doc in page] == ["doc-0"]
    assert await backend.get(name, [], None, 0, 10) == []


async def test_get_by_ids_and_filter_returns_those_matching_both(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=5)
    got = await backend.get(name, ["doc-1", "doc-2", "doc-4"], parse_filter({"even": True}), 0, 10)
    assert [doc.id for doc in got] == ["doc-2", "doc-4"]


async def test_offset_pages_cover_every_match_once_in_a_stable_order(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=23)
    where = parse_filter({"even": True})
    pages = [await backend.get(name, None, where, offset, 5) for offset in range(0, 15, 5)]
    ids = [doc.id for page in pages for doc in page]
    assert [len(page) for page in pages] == [5, 5, 2]
    assert sorted(ids) == sorted(f"doc-{i}" for i in range(0, 23, 2))
    again = [doc.id for offset in range(0, 15, 5) for doc in await backend.get(name, None, where, offset, 5)]
    assert again == ids
    everything = await backend.get(name, None, None, 0, 100)
    assert len({doc.id for doc in everything}) == 23
    assert await backend.get(name, None, None, 23, 5) == []


async def test_count_with_a_filter_counts_the_matches_only(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=10)
    assert await backend.count(name) == 10
    assert await backend.count(name, parse_filter({"even": False})) == 5
    assert await backend.count(name, parse_filter({"n": {"$gte": 7}})) == 3


async def test_delete_by_ids_and_by_filter_says_how_many_went(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=10)
    assert await backend.delete(name, ["doc-0", "doc-1", "missing"], None) == 2
    assert await backend.delete(name, None, parse_filter({"n": {"$lt": 5}})) == 3
    assert await backend.delete(name, ["doc-5", "doc-6"], parse_filter({"n": 6})) == 1
    left = await backend.get(name, None, None, 0, 100)
    assert sorted(doc.id for doc in left) == ["doc-5", "doc-7", "doc-8", "doc-9"]
    assert await backend.delete(name, [], None) == 0
    assert await backend.count(name) == 4


def expected_scores(distance: Distance, query: numpy.ndarray, vectors: numpy.ndarray) -> numpy.ndarray:
    if distance == "l2":
        return -numpy.linalg.norm(vectors - query, axis=1)
    if distance == "ip":
        return vectors @ query
    return (vectors @ query) / (numpy.linalg.norm(vectors, axis=1) * numpy.linalg.norm(query))


@pytest.mark.parametrize("distance", ["cosine", "l2", "ip"])
async def test_query_returns_the_k_closest_best_first_with_scores_higher_is_closer(
    backend: VectorBackend, name: str, distance: Distance
) -> None:
    await backend.create_collection(name, record(distance))
    # Not unit length, so that the three distances rank differently.
    vectors = unit_vectors(30) * numpy.linspace(0.5, 2.0, 30, dtype=numpy.float32)[:, None]
    await backend.upsert(name, [StoredDocument(f"v{i}", None, {}, vector) for i, vector in enumerate(vectors)])
    query = unit_vectors(1, seed=3)[0]
    hits = await backend.query(name, query, 5, None)
    scores = expected_scores(distance, query, vectors)
    best = numpy.argsort(-scores)[:5]
    assert [hit.id for hit in hits] == [f"v{i}" for i in best]
    assert numpy.allclose([hit.score for hit in hits], scores[best], atol=1e-4)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


async def test_query_with_a_filter_ranks_only_the_matches(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=20)
    hits = await backend.query(name, unit_vectors(1, seed=5)[0], 50, parse_filter({"even": True}), include_vectors=True)
    assert sorted(hit.id for hit in hits) == sorted(f"doc-{i}" for i in range(0, 20, 2))
    assert all(hit.vector is not None and hit.vector.shape == (DIM,) for hit in hits)
    assert all(hit.metadata["even"] is True and hit.text for hit in hits)


async def test_query_on_an_empty_collection_finds_nothing(backend: VectorBackend, name: str) -> None:
    await made(backend, name)
    assert await backend.query(name, unit_vectors(1)[0], 5, None) == []


async def test_a_vector_of_another_dimension_is_refused_and_nothing_is_written(
    backend: VectorBackend, name: str
) -> None:
    await made(backend, name, count=3)
    revision = (await backend.record(name)).revision
    batch = [*docs(2, seed=11), StoredDocument("short", "s", {}, numpy.ones(DIM - 3, dtype=numpy.float32))]
    batch[0].id, batch[1].id = "fresh-0", "fresh-1"
    with pytest.raises(BackendError) as refused:
        await backend.upsert(name, batch)
    assert refused.value.code == "dimension_mismatch"
    assert str(DIM) in refused.value.detail and str(DIM - 3) in refused.value.detail
    assert await backend.count(name) == 3
    assert (await backend.record(name)).revision == revision
    with pytest.raises(BackendError) as asked:
        await backend.query(name, numpy.ones(DIM + 1, dtype=numpy.float32), 3, None)
    assert asked.value.code == "dimension_mismatch"


async def test_a_document_without_a_vector_is_refused(backend: VectorBackend, name: str) -> None:
    await made(backend, name)
    with pytest.raises(BackendError) as refused:
        await backend.upsert(name, [StoredDocument("a", "no vector", {})])
    assert refused.value.code == "invalid_document"
    assert await backend.count(name) == 0


async def test_scan_yields_every_document_once_with_its_text(backend: VectorBackend, name: str) -> None:
    await made(backend, name, count=25)
    seen: list[str] = []
    async for batch in backend.scan(name, batch=7):
        assert 0 < len(batch) <= 7
        assert all(doc.text == f"text {doc.id.removeprefix('doc-')}" and doc.vector is None for doc in batch)
        seen.extend(doc.id for doc in batch)
    assert sorted(seen) == sorted(f"doc-{i}" for i in range(25))


async def test_index_settings_describe_the_index(backend: VectorBackend, name: str) -> None:
    await made(backend, name)
    settings = await backend.index_settings(name)
    assert settings and all(isinstance(value, str | int | float) for value in settings.values())


RESERVED_KEY = {"chroma": "#secret", "qdrant": None}


async def test_metadata_the_engine_cannot_store_is_refused_and_nothing_is_written(
    backend: VectorBackend, name: str
) -> None:
    await made(backend, name, count=2)
    vector = unit_vectors(1)[0]
    bad_values: list[dict[str, object]] = [{"tags": ["a", "b"]}, {"nested": {"a": 1}}, {"x": float("inf")}]
    reserved = RESERVED_KEY[backend.kind]
    if reserved is not None:
        bad_values.append({reserved: 1})
    for metadata in bad_values:
        batch = [StoredDocument("fine", "ok", {}, vector), StoredDocument("bad", "no", metadata, vector)]  # type: ignore[arg-type]
        with pytest.raises(BackendError) as refused:
            await backend.upsert(name, batch)
        assert refused.value.code == "invalid_metadata"
        assert "bad" in refused.value.detail
    assert await backend.count(name) == 2
