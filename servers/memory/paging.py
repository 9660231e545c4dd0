"""Pages of the graph within a budget: a number of entities and an approximate number of tokens.

A page admits entities one at a time, each with the relations that travel with it, until the next
would pass ``max_entities`` or ``max_tokens`` (tokens counted as bytes of JSON / 4). The first
entity is always admitted, so a page is never empty while there is more to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from servers.kit.budgets import json_size
from servers.memory.models import Entity, ObservationDetail, Relation
from servers.memory.store.base import EntityRecord, ObservationRecord, RelationRecord

BYTES_PER_TOKEN = 4


def tokens_of(size: int) -> int:
    return (size + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def entity_model(record: EntityRecord) -> Entity:
    """The wire model of a stored entity, built without re-validating what the store already checked."""
    return Entity.model_construct(
        name=record.name, entityType=record.entity_type, observations=[o.content for o in record.observations]
    )


def relation_model(record: RelationRecord) -> Relation:
    return Relation.model_construct(source=record.source, target=record.target, relationType=record.relation_type)


def entity_size(record: EntityRecord) -> int:
    """Bytes of :func:`entity_model`'s JSON, from the record itself."""
    return json_size(
        {
            "name": record.name,
            "entityType": record.entity_type,
            "observations": [o.content for o in record.observations],
        }
    )


def relation_size(record: RelationRecord) -> int:
    """Bytes of :func:`relation_model`'s JSON (by alias), from the record itself."""
    return json_size({"from": record.source, "to": record.target, "relationType": record.relation_type})


def timestamp(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def observation_detail(record: ObservationRecord) -> ObservationDetail:
    return ObservationDetail(
        id=record.id,
        content=record.content,
        created_at=timestamp(record.created_at) or "",
        principal=record.principal,
        tool=record.tool,
        expires_at=timestamp(record.expires_at),
        superseded_by=record.superseded_by,
        superseded_at=timestamp(record.superseded_at),
    )


class PageBuilder:
    """Admits entities (with their relations) while the page stays within its budget."""

    def __init__(self, max_entities: int, max_tokens: int) -> None:
        self.max_entities = max_entities
        self.max_bytes = max_tokens * BYTES_PER_TOKEN
        self.entities: list[Entity] = []
        self.relations: list[Relation] = []
        self._relation_keys: set[tuple[str, str, str]] = set()
        self.used = 64  # the envelope: keys, namespace, cursor
        self.stopped: str | None = None

    def admit(self, record: EntityRecord, relations: Sequence[RelationRecord]) -> bool:
        if len(self.entities) >= self.max_entities:
            self.stopped = "max_entities"
            return False
        fresh = [r for r in relations if (r.source, r.target, r.relation_type) not in self._relation_keys]
        size = entity_size(record) + sum(relation_size(r) + 1 for r in fresh)
        if self.entities and self.used + size > self.max_bytes:
            self.stopped = "max_tokens"
            return False
        self.entities.append(entity_model(record))
        self.relations.extend(relation_model(r) for r in fresh)
        self._relation_keys.update((r.source, r.target, r.relation_type) for r in fresh)
        self.used += size + 1
        return True

    @property
    def approx_tokens(self) -> int:
        return tokens_of(self.used)
