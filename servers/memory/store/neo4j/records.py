"""Rows of the Neo4j store's Cypher as the store's records, and the keys it writes them under."""

from __future__ import annotations

from typing import Any

from servers.memory.store.base import EntityRecord, ObservationRecord, RelationRecord
from servers.memory.store.text_index import content_hash, entity_document, folded
from servers.memory.store.text_rank import term_counts

SEPARATOR = "\x1f"


def entity_key(namespace: str, name: str) -> str:
    """The unique ``key`` of an entity node: its namespace and its name (a separator neither may hold)."""
    return f"{namespace}{SEPARATOR}{name}"


def live(expires_at: float | None, now: float) -> bool:
    return expires_at is None or expires_at > now


def observation_of(row: dict[str, Any]) -> ObservationRecord:
    return ObservationRecord(
        id=int(row["id"]),
        entity=row["entity"],
        content=row["content"],
        created_at=float(row["created_at"]),
        principal=row["principal"],
        tool=row["tool"],
        expires_at=row.get("expires_at"),
        superseded_by=row.get("superseded_by"),
        superseded_at=row.get("superseded_at"),
    )


def entity_of(row: dict[str, Any], observations: tuple[ObservationRecord, ...]) -> EntityRecord:
    return EntityRecord(
        row["name"],
        row["type"],
        int(row["version"]),
        float(row["created_at"]),
        float(row["updated_at"]),
        row["principal"],
        observations,
        row.get("expires_at"),
    )


def relation_of(row: dict[str, Any]) -> RelationRecord:
    return RelationRecord(row["source"], row["target"], row["type"], float(row["created_at"]), row["principal"])


def observation_row(namespace: str, record: ObservationRecord) -> dict[str, Any]:
    """The properties of a new observation node (``None`` values are simply not set)."""
    row = {
        "id": record.id,
        "namespace": namespace,
        "entity": record.entity,
        "content": record.content,
        "hash": content_hash(record.content),
        "created_at": record.created_at,
        "principal": record.principal,
        "tool": record.tool,
        "expires_at": record.expires_at,
    }
    return {k: v for k, v in row.items() if v is not None}


def document(name: str, entity_type: str, contents: list[str]) -> tuple[str, int]:
    """The entity's case-folded searchable text and its length in words."""
    doc = folded(entity_document(name, entity_type, contents))
    return doc, sum(term_counts(doc).values())
