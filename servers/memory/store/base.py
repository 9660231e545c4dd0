"""What every graph store does: the records it keeps and the operations the service calls.

A store keeps, per namespace, entities (name, type, version), observations (an id, the text,
when and by whom it was written, an optional expiry, and what superseded it) and relations. Every
write runs in one transaction and returns only once committed, with the ids and versions it wrote;
a write that is refused (an unknown entity) changes nothing. Reads never show an expired item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Provenance:
    """Who wrote, through which call, and when (epoch seconds); ``expires_at`` for a TTL."""

    principal: str
    tool: str
    at: float
    expires_at: float | None = None


@dataclass(frozen=True)
class NewEntity:
    name: str
    entity_type: str
    observations: tuple[str, ...]


@dataclass(frozen=True)
class RelationKey:
    source: str
    target: str
    relation_type: str


@dataclass(frozen=True)
class ObservationRecord:
    id: int
    entity: str
    content: str
    created_at: float
    principal: str
    tool: str
    expires_at: float | None = None
    superseded_by: int | None = None
    superseded_at: float | None = None


@dataclass(frozen=True)
class EntityRecord:
    name: str
    entity_type: str
    version: int
    created_at: float
    updated_at: float
    principal: str
    observations: tuple[ObservationRecord, ...] = ()
    expires_at: float | None = None


@dataclass(frozen=True)
class RelationRecord:
    source: str
    target: str
    relation_type: str
    created_at: float = 0.0
    principal: str = ""


@dataclass(frozen=True)
class EntityWrite:
    """What a write did to one entity: its version after the write and the observations it added."""

    name: str
    entity_type: str
    version: int
    added: tuple[ObservationRecord, ...] = ()


@dataclass(frozen=True)
class Superseded:
    old: ObservationRecord
    new: ObservationRecord
    version: int


@dataclass(frozen=True)
class SearchHit:
    name: str
    score: float


@dataclass(frozen=True)
class NamespaceStats:
    namespace: str
    entities: int
    observations: int
    relations: int


@dataclass
class DeleteCount:
    entities: int = 0
    observations: int = 0
    relations: int = 0
    versions: dict[str, int] = field(default_factory=dict)


class VersionConflict(Exception):
    """The entity's version is not the one the caller expected."""

    def __init__(self, name: str, expected: int, actual: int) -> None:
        super().__init__(f"{name}: expected version {expected}, found {actual}")
        self.name, self.expected, self.actual = name, expected, actual


class UnknownEntity(Exception):
    """A write names an entity the namespace does not hold; the transaction is rolled back."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class UnknownObservation(Exception):
    def __init__(self, entity: str, observation: str) -> None:
        super().__init__(f"{entity}: {observation}")
        self.entity, self.observation = entity, observation


class GraphStore(Protocol):
    """A backend. ``now`` is passed in (epoch seconds) so expiry is decided by one clock per call."""

    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> str: ...

    async def create_entities(self, namespace: str, entities: Sequence[NewEntity], by: Provenance) -> list[EntityWrite]:
        """Create the entities whose names are new; an existing (unexpired) name is skipped."""
        ...

    async def create_relations(
        self, namespace: str, relations: Sequence[RelationKey], by: Provenance
    ) -> list[RelationRecord]:
        """Create the relations not already there; return those created."""
        ...

    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
    ) -> list[EntityWrite]:
        """Add each entity's new contents (one already current is skipped).

        Raises:
            UnknownEntity: an entity is not there; nothing is written.
        """
        ...

    async def delete_entities(self, namespace: str, names: Sequence[str]) -> DeleteCount: ...

    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]], now: float
    ) -> DeleteCount: ...

    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> DeleteCount: ...

    async def supersede_observation(
        self,
        namespace: str,
        entity: str,
        old: str | int,
        new: str,
        by: Provenance,
        expected_version: int | None,
    ) -> Superseded:
        """Mark ``old`` (its text or id) superseded by a new observation, kept in the history.

        Raises:
            UnknownEntity, UnknownObservation, VersionConflict: nothing is written.
        """
        ...

    async def history(self, namespace: str, entity: str, now: float) -> list[ObservationRecord]:
        """Every observation of ``entity``, current and superseded, oldest first."""
        ...

    async def list_entities(self, namespace: str, after: str | None, limit: int, now: float) -> list[EntityRecord]:
        """Entities ordered by name, after ``after``, with their current observations."""
        ...

    async def get_entities(self, namespace: str, names: Sequence[str], now: float) -> list[EntityRecord]: ...

    async def relations_touching(
        self, namespace: str, names: Sequence[str], *, both_ends: bool = False
    ) -> list[RelationRecord]: ...

    async def relations_from(self, namespace: str, names: Sequence[str]) -> list[RelationRecord]: ...

    async def search(
        self, namespace: str, query: str, limit: int, offset: int, now: float, *, any_word: bool = False
    ) -> list[SearchHit]:
        """Entities matching ``query``: full-text hits by relevance, then substring matches by name.

        A full-text hit holds every word of the query (as a prefix), or any of them with ``any_word``.
        """
        ...

    async def search_graph(
        self, namespace: str, query: str, limit: int, offset: int, now: float
    ) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
        """:meth:`search`, the hits' entities and the relations at either end of them, in one visit to the store."""
        ...

    async def pending_embeddings(self, limit: int) -> list[tuple[int, str]]:
        """Current observations without a vector yet, as (id, text)."""
        ...

    async def store_embeddings(self, rows: Sequence[tuple[int, bytes]]) -> None: ...

    async def vectors_since(self, namespace: str, after_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        """(observation id, entity, float32 vector) of the observations after ``after_id`` that have one."""
        ...

    async def observations_by_id(self, namespace: str, ids: Sequence[int], now: float) -> list[ObservationRecord]:
        """The current observations among ``ids``."""
        ...

    async def stats(self, namespace: str, now: float) -> NamespaceStats: ...

    async def namespaces(self) -> list[str]: ...

    async def purge_expired(self, now: float) -> int:
        """Delete what has expired; the number of rows removed."""
        ...
