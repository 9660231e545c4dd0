"""The memory bench's graphs: entities, observations and relations made from a seeded vocabulary.

:func:`make_graph` builds ``entities`` entities with ``per_entity`` observations each and one
relation per entity; :func:`fill_store` writes it into a store in batches (with vectors when
given), :func:`official_file` writes it as the official server's ``memory.jsonl``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from servers.memory.store.base import GraphStore, NewEntity, Provenance, RelationKey

SYLLABLES = ["ka", "lo", "mi", "ter", "son", "vel", "ra", "dun", "pe", "sil", "or", "an", "bek", "tu", "fi", "gor"]
TYPES = ["person", "project", "service", "library", "team", "decision", "host", "document", "meeting", "idea"]
BATCH = 500


@dataclass(frozen=True)
class Graph:
    entities: list[NewEntity]
    relations: list[RelationKey]
    words: list[str]

    @property
    def observations(self) -> list[str]:
        return [o for e in self.entities for o in e.observations]


def make_graph(entities: int, per_entity: int = 5, seed: int = 19) -> Graph:
    rng = random.Random(seed)
    words = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))) for _ in range(600)})
    made = []
    for n in range(entities):
        observations = tuple(
            f"{' '.join(rng.choices(words, k=rng.randint(6, 10)))} (note {n}.{k})" for k in range(per_entity)
        )
        made.append(NewEntity(f"entity-{n:05d}", TYPES[n % len(TYPES)], observations))
    relations = [
        RelationKey(made[n].name, made[rng.randrange(entities)].name, rng.choice(["uses", "owns", "knows"]))
        for n in range(entities)
    ]
    return Graph(made, list(dict.fromkeys(relations)), words)


async def fill_store(
    store: GraphStore, namespace: str, graph: Graph, vectors: npt.NDArray[np.float32] | None = None
) -> None:
    """Write ``graph`` into ``store`` (and ``vectors``, one row per observation in order)."""
    by = Provenance("bench", "bench", time.time())
    for start in range(0, len(graph.entities), BATCH):
        await store.create_entities(namespace, graph.entities[start : start + BATCH], by)
    for start in range(0, len(graph.relations), BATCH):
        await store.create_relations(namespace, graph.relations[start : start + BATCH], by)
    if vectors is None:
        return
    pending = await store.pending_embeddings(len(graph.observations) + 1)
    index = {text: row for row, text in enumerate(graph.observations)}
    rows = [(oid, vectors[index[text]].tobytes()) for oid, text in pending if text in index]
    for start in range(0, len(rows), 5_000):
        await store.store_embeddings(rows[start : start + 5_000])


def official_file(path: Path, graph: Graph) -> None:
    """``graph`` as the official server's JSON-lines file (its own layout: compact lines, no final newline)."""
    lines = [
        json.dumps(
            {"type": "entity", "name": e.name, "entityType": e.entity_type, "observations": list(e.observations)}
        )
        for e in graph.entities
    ]
    lines += [
        json.dumps({"type": "relation", "from": r.source, "to": r.target, "relationType": r.relation_type})
        for r in graph.relations
    ]
    path.write_text("\n".join(lines))
