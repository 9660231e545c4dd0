"""``recall``: what the graph knows about a query, within a token budget.

Three rankings of entities are fused by reciprocal rank: full-text relevance (the store's search),
vector similarity of their observations to the query (the kit's embedder, when vectors are on)
and, at a lower weight, the graph neighbourhood of the best of those (one hop along relations).
The answer spends its budget on names first (every ranked entity's name and type), then on
observations, the most relevant first, taken in turns across entities so that one long entity
does not crowd out the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio
import numpy as np

from servers.kit.budgets import json_size
from servers.kit.embedders.base import EmbedderError
from servers.memory.models import RecalledEntity, RecallResult, Relation
from servers.memory.paging import BYTES_PER_TOKEN, relation_model, relation_size, tokens_of
from servers.memory.store.base import EntityRecord, GraphStore, RelationRecord, SearchHit
from servers.memory.store.text_index import query_words
from servers.memory.vectors import VectorIndex

RRF_K = 60
NEIGHBOUR_WEIGHT = 0.5
CANDIDATES = 50
VECTOR_HITS = 200
Via = Literal["keyword", "vector", "neighbour"]


@dataclass
class _Candidate:
    score: float = 0.0
    via: list[Via] = field(default_factory=list)

    def add(self, score: float, how: Via) -> None:
        self.score += score
        if how not in self.via:
            self.via.append(how)


async def recall(
    store: GraphStore,
    vectors: VectorIndex | None,
    embed: object,
    namespace: str,
    query: str,
    max_tokens: int,
    max_entities: int,
    hops: int,
) -> RecallResult:
    """Rank, hydrate and fit; ``embed`` is the embedder (or ``None`` when vectors are off)."""
    now = time.time()
    keyword: list[SearchHit] = []
    nearest: list[tuple[int, str, float]] = []
    state: Literal["used", "off", "unavailable"] = "off"

    async def by_keyword() -> None:
        keyword.extend(await store.search(namespace, query, CANDIDATES, 0, now, any_word=True))

    async def by_vector() -> None:
        nonlocal state
        try:
            vector = np.asarray((await embed.embed([query]))[0], dtype=np.float32)  # type: ignore[attr-defined]
        except EmbedderError:
            state = "unavailable"
            return
        state = "used"
        assert vectors is not None
        nearest.extend(await vectors.nearest(namespace, vector, VECTOR_HITS))

    # The keyword search (the store, in a worker thread) and the query's embedding (the model) overlap.
    async with anyio.create_task_group() as group:
        group.start_soon(by_keyword)
        if vectors is not None and embed is not None:
            group.start_soon(by_vector)

    candidates: dict[str, _Candidate] = {}
    for rank, hit in enumerate(keyword):
        candidates.setdefault(hit.name, _Candidate()).add(1.0 / (RRF_K + rank), "keyword")
    similarity: dict[int, float] = {}
    best_entity_rank: dict[str, int] = {}
    for oid, entity, score in nearest:
        similarity[oid] = score
        best_entity_rank.setdefault(entity, len(best_entity_rank))
    for entity, rank in best_entity_rank.items():
        if rank < CANDIDATES:
            candidates.setdefault(entity, _Candidate()).add(1.0 / (RRF_K + rank), "vector")

    ranked = sorted(candidates.items(), key=lambda item: (-item[1].score, item[0]))[:max_entities]
    relations: list[RelationRecord] = []
    frontier = [name for name, _ in ranked]
    for _ in range(hops):
        if not frontier:
            break
        found = await store.relations_touching(namespace, frontier)
        relations.extend(found)
        parents = {name: candidates[name].score for name in frontier if name in candidates}
        fresh: list[str] = []
        for relation in found:
            for here, there in ((relation.source, relation.target), (relation.target, relation.source)):
                if here in parents and there not in candidates:
                    candidates[there] = _Candidate()
                    candidates[there].add(parents[here] * NEIGHBOUR_WEIGHT, "neighbour")
                    fresh.append(there)
        frontier = fresh
    ranked = sorted(candidates.items(), key=lambda item: (-item[1].score, item[0]))[:max_entities]

    records = {r.name: r for r in await store.get_entities(namespace, [name for name, _ in ranked], now)}
    words = query_words(query)
    return _fit(query, namespace, ranked, records, relations, similarity, words, max_tokens, state)


def _observation_order(
    record: EntityRecord, similarity: dict[int, float], words: Sequence[str]
) -> list[tuple[str, int]]:
    """The entity's observations, least relevant first (the next one is popped off the end), with their sizes."""

    def relevance(index: int) -> tuple[float, int, int]:
        observation = record.observations[index]
        text = observation.content.lower()
        overlap = sum(1 for w in words if w in text)
        return (-similarity.get(observation.id, -1.0), -overlap, -observation.id)

    order = sorted(range(len(record.observations)), key=relevance, reverse=True)
    return [(content, json_size(content) + 1) for content in (record.observations[i].content for i in order)]


def _fit(
    query: str,
    namespace: str,
    ranked: list[tuple[str, _Candidate]],
    records: dict[str, EntityRecord],
    relations: list[RelationRecord],
    similarity: dict[int, float],
    words: Sequence[str],
    max_tokens: int,
    state: Literal["used", "off", "unavailable"],
) -> RecallResult:
    budget = max_tokens * BYTES_PER_TOKEN
    used = 128
    entities: list[RecalledEntity] = []
    queues: list[list[tuple[str, int]]] = []
    for name, candidate in ranked:
        record = records.get(name)
        if record is None:
            continue
        score = round(candidate.score, 6)
        wire = {
            "name": name,
            "entityType": record.entity_type,
            "score": score,
            "via": candidate.via,
            "observations": [],
        }
        size = json_size(wire) + 1
        if used + size > budget:
            break
        used += size
        entities.append(
            RecalledEntity.model_construct(
                name=name, entityType=record.entity_type, score=score, via=list(candidate.via), observations=[]
            )
        )
        queues.append(_observation_order(record, similarity, words))
    kept = {e.name for e in entities}
    chosen: list[Relation] = []
    seen: set[tuple[str, str, str]] = set()
    for relation in relations:
        key = (relation.source, relation.target, relation.relation_type)
        if relation.source in kept and relation.target in kept and key not in seen:
            size = relation_size(relation) + 1
            if used + size > budget:
                break
            seen.add(key)
            used += size
            chosen.append(relation_model(relation))
    omitted = sum(len(q) for q in queues) + sum(
        len(records[n].observations) for n, _ in ranked if n in records and n not in kept
    )
    progressing = True
    while progressing:
        progressing = False
        for entity, queue in zip(entities, queues, strict=True):
            if not queue:
                continue
            content, size = queue[-1]
            if used + size > budget:
                continue
            entity.observations.append(content)
            queue.pop()
            used += size
            omitted -= 1
            progressing = True
    return RecallResult(
        query=query,
        namespace=namespace,
        entities=entities,
        relations=chosen,
        approx_tokens=tokens_of(used),
        omitted_observations=omitted,
        vector_search=state,
    )
