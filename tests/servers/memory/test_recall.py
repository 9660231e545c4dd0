"""recall: keyword, vector and graph neighbourhood ranked together, within a token budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.kit import blas
from servers.memory.access import Caller
from servers.memory.models import EntityInput, RelationInput
from servers.memory.service import MemoryService
from tests.servers.memory.support import service_for, suite_settings

pytestmark = pytest.mark.anyio
CALLER = Caller("tester", "test")

PEOPLE = [
    ("Ada", "person", ["drinks espresso every morning", "writes compilers in OCaml"]),
    ("Bob", "person", ["plays the cello in an orchestra", "grows tomatoes on his balcony"]),
    ("Cafe Nero", "place", ["a small bar near the station"]),
    ("Dana", "person", ["runs marathons", "trains at dawn on the river path"]),
]


async def filled(data_dir: Path, store_kind: str, **memory: object) -> MemoryService:
    service = service_for(suite_settings(store_kind, data_dir, **{"recall_vectors": True, **memory}))
    await service.open()
    entities = [EntityInput(name=n, entityType=t, observations=o) for n, t, o in PEOPLE]
    await service.create_entities(CALLER, entities, None)
    await service.create_relations(
        CALLER, [RelationInput.model_validate({"from": "Ada", "to": "Cafe Nero", "relationType": "visits"})], None
    )
    while await service.embedder.embed_pending():
        pass
    return service


async def test_recall_finds_by_meaning_what_no_keyword_matches(data_dir: Path, store_kind: str) -> None:
    service = await filled(data_dir, store_kind)
    try:
        result = await service.recall(CALLER, "who likes coffee", None, None, 5, 0)
    finally:
        await service.close()
    assert result.vector_search == "used"
    assert result.entities[0].name == "Ada" and "vector" in result.entities[0].via
    assert result.entities[0].observations[0] == "drinks espresso every morning"  # the most relevant first


async def test_recall_brings_the_neighbourhood_of_its_best_match(data_dir: Path, store_kind: str) -> None:
    service = await filled(data_dir, store_kind, recall_vectors=False)
    try:
        result = await service.recall(CALLER, "compilers", None, None, 5, 1)
    finally:
        await service.close()
    assert result.vector_search == "off"
    assert [(e.name, e.via) for e in result.entities] == [("Ada", ["keyword"]), ("Cafe Nero", ["neighbour"])]
    assert [(r.source, r.target) for r in result.relations] == [("Ada", "Cafe Nero")]


async def test_recall_spends_its_budget_on_names_before_observations(data_dir: Path) -> None:
    service = await filled(data_dir, "sqlite")
    try:
        result = await service.recall(CALLER, "people who do things in the morning", None, 100, 10, 0)
        roomy = await service.recall(CALLER, "people who do things in the morning", None, 5000, 10, 0)
    finally:
        await service.close()
    assert result.approx_tokens <= 100
    assert len(result.entities) >= 2 and result.omitted_observations > 0
    assert sum(len(e.observations) for e in result.entities) < sum(len(e.observations) for e in roomy.entities)
    assert roomy.omitted_observations == 0


async def test_a_service_that_ranks_by_vectors_keeps_numpy_to_one_blas_thread(data_dir: Path) -> None:
    found, before = blas._library(), blas.threads()
    if found is None or before is None:
        pytest.skip("numpy is not built with a bundled OpenBLAS here")
    found[0](2)
    service = service_for(suite_settings("sqlite", data_dir, recall_vectors=True))
    try:
        await service.open()
        assert blas.threads() == 1  # recall's scans never wake spinning BLAS workers
    finally:
        await service.close()
        found[0](before)
