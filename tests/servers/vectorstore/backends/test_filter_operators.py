"""Every operator of the portable filter selects the same documents on every backend.

The expected ids are worked out by hand from the table below, so a backend that drifts from the
documented semantics (numbers compare as numbers, a bool is not a number, a missing field matches
``$ne``/``$nin`` only, ``$not`` pushed down) fails here, whichever it is.
"""

from __future__ import annotations

from typing import Any

import numpy
import pytest

from servers.vectorstore.backends import BackendError, StoredDocument, VectorBackend
from servers.vectorstore.filters import parse_filter
from servers.vectorstore.record import CollectionRecord

pytestmark = pytest.mark.anyio

TABLE: dict[str, dict[str, Any]] = {
    "d0": {"year": 1990, "genre": "rock", "rating": 4.5, "live": True},
    "d1": {"year": 2001, "genre": "jazz", "rating": 3.0, "live": False},
    "d2": {"year": 2010, "genre": "rock", "rating": 5.0},
    "d3": {"year": 2020.0, "genre": "pop", "live": True},
    "d4": {"genre": "jazz"},
    "d5": {},
    "d6": {"year": 2001, "genre": "rock", "count": 1},
}

CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"genre": "rock"}, {"d0", "d2", "d6"}),
    ({"genre": {"$eq": "rock"}}, {"d0", "d2", "d6"}),
    ({"genre": {"$ne": "rock"}}, {"d1", "d3", "d4", "d5"}),
    ({"year": {"$gt": 2001}}, {"d2", "d3"}),
    ({"year": {"$gte": 2001}}, {"d1", "d2", "d3", "d6"}),
    ({"year": {"$lt": 2001}}, {"d0"}),
    ({"year": {"$lte": 2001}}, {"d0", "d1", "d6"}),
    ({"rating": {"$gt": 3}}, {"d0", "d2"}),
    ({"year": 2020}, {"d3"}),
    ({"year": 2001.0}, {"d1", "d6"}),
    ({"year": {"$in": [1990, 2020]}}, {"d0", "d3"}),
    ({"year": {"$nin": [1990, 2020]}}, {"d1", "d2", "d4", "d5", "d6"}),
    ({"genre": {"$in": ["jazz", "pop"]}}, {"d1", "d3", "d4"}),
    ({"genre": {"$nin": ["jazz", "pop"]}}, {"d0", "d2", "d5", "d6"}),
    ({"year": {"$in": [2001, "x", True]}}, {"d1", "d6"}),
    ({"live": True}, {"d0", "d3"}),
    ({"live": {"$ne": True}}, {"d1", "d2", "d4", "d5", "d6"}),
    ({"live": 1}, set()),
    ({"count": True}, set()),
    ({"$and": [{"genre": "rock"}, {"year": {"$gt": 2000}}]}, {"d2", "d6"}),
    ({"genre": "rock", "year": {"$gt": 2000}}, {"d2", "d6"}),
    ({"$or": [{"genre": "pop"}, {"rating": {"$gte": 4.5}}]}, {"d0", "d2", "d3"}),
    ({"$or": [{"genre": "jazz"}]}, {"d1", "d4"}),
    ({"$not": {"genre": "rock"}}, {"d1", "d3", "d4", "d5"}),
    ({"$not": {"year": {"$gt": 2001}}}, {"d0", "d1", "d6"}),
    ({"$not": {"genre": {"$in": ["rock", "pop"]}}}, {"d1", "d4", "d5"}),
    ({"$not": {"$and": [{"genre": "rock"}, {"year": {"$gt": 2000}}]}}, {"d0", "d1", "d3", "d4", "d5"}),
    ({"$not": {"$or": [{"genre": "rock"}, {"live": True}]}}, {"d1", "d4", "d5"}),
    ({"$not": {"$not": {"genre": "pop"}}}, {"d3"}),
]


@pytest.fixture
async def table(backend: VectorBackend, name: str) -> str:
    record = CollectionRecord.new(embedder_kind="local", model="m", dimension=4, distance="cosine")
    await backend.create_collection(name, record)
    rows = numpy.random.default_rng(1).normal(size=(len(TABLE), 4)).astype(numpy.float32)
    await backend.upsert(
        name, [StoredDocument(doc_id, doc_id, metadata, rows[i]) for i, (doc_id, metadata) in enumerate(TABLE.items())]
    )
    return name


@pytest.mark.parametrize(("raw", "expected"), CASES, ids=[str(raw) for raw, _ in CASES])
async def test_the_filter_selects_the_expected_documents_in_get_count_and_query(
    backend: VectorBackend, table: str, raw: dict[str, Any], expected: set[str]
) -> None:
    where = parse_filter(raw)
    assert {doc.id for doc in await backend.get(table, None, where, 0, 100)} == expected
    assert await backend.count(table, where) == len(expected)
    hits = await backend.query(table, numpy.ones(4, dtype=numpy.float32), 100, where)
    assert {hit.id for hit in hits} == expected


UNSUPPORTED = {"chroma": {"#secret": 1}, "qdrant": {"a.b": 1}}


async def test_a_filter_the_backend_cannot_express_is_refused_before_anything_changes(
    backend: VectorBackend, table: str
) -> None:
    raw = UNSUPPORTED[backend.kind]
    revision = (await backend.record(table)).revision
    for call in (
        backend.delete(table, None, parse_filter(raw)),
        backend.delete(table, ["d0"], parse_filter({"$or": [{"genre": "rock"}, raw]})),
        backend.count(table, parse_filter(raw)),
        backend.get(table, None, parse_filter({"$not": raw}), 0, 10),
        backend.query(table, numpy.ones(4, dtype=numpy.float32), 3, parse_filter(raw)),
    ):
        with pytest.raises(BackendError) as refused:
            await call
        assert refused.value.code == "filter_unsupported"
        assert backend.name in refused.value.detail and next(iter(raw)) in refused.value.detail
    assert await backend.count(table) == len(TABLE)
    assert (await backend.record(table)).revision == revision
