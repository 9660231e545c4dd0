"""What a collection remembers about itself, stored with it in the engine.

The record pins the embedder (kind, model, dimension) and the distance a collection was made
with, so that a query or an upsert with another model is refused instead of returning nonsense.
It is kept as one JSON string under :data:`RECORD_KEY` in the engine's collection metadata (Chroma
and Qdrant both keep collection metadata, Qdrant also in local mode), so it travels with the
collection and every replica of the server reads the same one.

``revision`` is a random token that the backends replace after every write (upsert, delete): the
keyword index is cached under it. It is written *after* the documents, so a reader that sees a
revision never caches an index missing a write made before that revision was set.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

Distance = Literal["cosine", "l2", "ip"]
DISTANCES: tuple[Distance, ...] = get_args(Distance)

RECORD_KEY = "mcp_suite_record"
"""The collection-metadata key under which the record's JSON is stored."""

RECORD_VERSION = 1


class RecordError(ValueError):
    """A stored record cannot be read (written by something else, or damaged)."""


def new_revision() -> str:
    """A fresh revision token."""
    return secrets.token_hex(8)


def utc_now() -> str:
    """The current time, ISO-8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class CollectionRecord:
    """What a collection remembers: its embedder, distance, declared fields, and the revision of its contents."""

    embedder_kind: str
    model: str
    dimension: int
    distance: Distance
    metadata_fields: tuple[str, ...]
    created_at: str
    revision: str
    description: str = ""

    @classmethod
    def new(
        cls,
        *,
        embedder_kind: str,
        model: str,
        dimension: int,
        distance: Distance = "cosine",
        metadata_fields: tuple[str, ...] = (),
        description: str = "",
    ) -> CollectionRecord:
        """A record for a collection made now, with a fresh revision."""
        return cls(
            embedder_kind=embedder_kind,
            model=model,
            dimension=dimension,
            distance=distance,
            metadata_fields=tuple(metadata_fields),
            created_at=utc_now(),
            revision=new_revision(),
            description=description,
        )

    def bumped(self) -> CollectionRecord:
        """The same record with a new revision: what a backend stores after a write."""
        return replace(self, revision=new_revision())

    def to_json(self) -> str:
        body: dict[str, Any] = {"version": RECORD_VERSION, **asdict(self)}
        body["metadata_fields"] = list(self.metadata_fields)
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CollectionRecord:
        """Read a record written by :meth:`to_json`.

        Raises:
            RecordError: the text is not a record this version understands.
        """
        try:
            body = json.loads(text)
            if not isinstance(body, dict) or body.get("version") != RECORD_VERSION:
                raise RecordError(f"not a collection record of version {RECORD_VERSION}")
            distance = body["distance"]
            if distance not in DISTANCES:
                raise RecordError(f"unknown distance {distance!r}")
            dimension = body["dimension"]
            if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
                raise RecordError(f"bad dimension {dimension!r}")
            return cls(
                embedder_kind=str(body["embedder_kind"]),
                model=str(body["model"]),
                dimension=dimension,
                distance=cast(Distance, distance),
                metadata_fields=tuple(str(field) for field in body["metadata_fields"]),
                created_at=str(body["created_at"]),
                revision=str(body["revision"]),
                description=str(body.get("description", "")),
            )
        except RecordError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise RecordError(f"unreadable collection record: {error}") from error
