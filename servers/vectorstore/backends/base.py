"""What every vector backend offers the server, whatever the engine behind it.

Scores are "higher is closer" on every backend and distance:

- ``cosine``: the cosine similarity, ``1 - d`` for the cosine distance ``d`` (in [-1, 1]);
- ``l2``: minus the Euclidean distance (not its square, which Chroma reports: it is rooted first);
- ``ip``: the inner product (Chroma reports ``1 - dot``).

``get`` and ``scan`` list documents in an order that is stable while the collection does not
change (Chroma: insertion order; Qdrant: point-id order), so ``offset`` pages are consistent.
Documents asked for by id come back in the order asked, missing ids left out.

Collection names are portable: 3 to 63 characters of letters, digits, ``.``, ``_`` and ``-``,
starting and ending with a letter or a digit (Chroma's rule, narrowed), else ``invalid_collection_name``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy

from servers.kit.tool_errors import CodedToolError
from servers.vectorstore.filters import Filter
from servers.vectorstore.record import CollectionRecord

MetadataValue = str | int | float | bool
Metadata = dict[str, MetadataValue]
BackendKind = Literal["chroma", "qdrant"]

COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")


class BackendError(CodedToolError):
    """An engine's refusal or failure, coded.

    Codes: ``unknown_collection``, ``collection_exists``, ``backend_unavailable``, ``dimension_mismatch``,
    ``filter_unsupported``, ``invalid_collection_name``, ``invalid_metadata`` (a key or value the engine
    cannot store), ``invalid_document`` (an upserted document without a vector), ``backend_error`` (any other failure of the engine, its text kept).
    """


@dataclass
class StoredDocument:
    id: str
    text: str | None
    metadata: Metadata = field(default_factory=dict)
    vector: numpy.ndarray | None = None


@dataclass
class Hit:
    id: str
    text: str | None
    metadata: Metadata
    score: float
    vector: numpy.ndarray | None = None


class RecordCache:
    """The record each collection was last read or written with, and when (one backend's, in memory).

    The backend's own writes replace it at once; what another process wrote shows when it is read again.
    """

    def __init__(self) -> None:
        self._held: dict[str, tuple[CollectionRecord, float]] = {}

    def get(self, name: str, max_age: float | None = None) -> CollectionRecord | None:
        """The record held for ``name`` if it is younger than ``max_age`` seconds (None: of any age)."""
        held = self._held.get(name)
        if held is None or (max_age is not None and time.monotonic() - held[1] >= max_age):
            return None
        return held[0]

    def put(self, name: str, record: CollectionRecord) -> CollectionRecord:
        self._held[name] = (record, time.monotonic())
        return record

    def drop(self, name: str) -> None:
        self._held.pop(name, None)


class VectorBackend(Protocol):
    """One configured engine. Every method may raise :class:`BackendError`; a bad argument changes nothing."""

    name: str
    kind: BackendKind
    location: str

    async def open(self) -> None:
        """Connect (a server) or open the files (embedded); idempotent. ``backend_unavailable`` if it cannot."""

    async def aclose(self) -> None: ...

    async def ping(self) -> str:
        """One line for readiness, without secrets."""

    async def list_collections(self) -> list[str]:
        """Every collection's name, sorted (also those made by other tools, whose ``record`` is refused)."""

    async def create_collection(self, name: str, record: CollectionRecord) -> None:
        """Make ``name`` with ``record``'s distance and dimension; ``collection_exists``, ``invalid_collection_name``."""

    async def record(self, name: str, max_age: float = 0.0) -> CollectionRecord:
        """The stored record; ``unknown_collection`` (also for a collection without a record).

        Read afresh unless this backend read or wrote it less than ``max_age`` seconds ago.
        """

    async def set_record(self, name: str, record: CollectionRecord) -> None:
        """Store ``record`` as given (distance and dimension of the engine's index do not change)."""

    async def delete_collection(self, name: str) -> None: ...

    async def count(self, name: str, where: Filter | None = None) -> int: ...

    async def upsert(self, name: str, docs: Sequence[StoredDocument]) -> None:
        """Insert or replace by id (a repeated id: the last wins), then give the record a new revision.

        Every document is checked first (vector and its dimension, metadata types): one bad document
        refuses the whole batch before anything is written.
        """

    async def get(
        self,
        name: str,
        ids: Sequence[str] | None,
        where: Filter | None,
        offset: int,
        limit: int,
        include_vectors: bool = False,
    ) -> list[StoredDocument]:
        """Documents by ids (in the order asked) and/or filter, ``limit`` of them after ``offset``."""

    async def delete(self, name: str, ids: Sequence[str] | None, where: Filter | None) -> int:
        """Delete by ids and/or filter; how many existed and went. Neither given: every document (guard it)."""

    async def query(
        self, name: str, vector: numpy.ndarray, k: int, where: Filter | None, include_vectors: bool = False
    ) -> list[Hit]:
        """The ``k`` closest documents matching ``where``, best first, scores "higher is closer"."""

    def scan(self, name: str, batch: int = 1000) -> AsyncIterator[list[StoredDocument]]:
        """Every document in batches, with texts and metadata, without vectors."""

    async def index_settings(self, name: str) -> dict[str, str | int | float]:
        """The engine's index settings of the collection (HNSW parameters...), for descriptions."""


def check_collection_name(name: str) -> None:
    if not COLLECTION_NAME.fullmatch(name):
        raise BackendError(
            "invalid_collection_name",
            f"{name!r} is not a collection name: use 3 to 63 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or a digit",
        )


def unknown_collection(backend: str, name: str) -> BackendError:
    return BackendError(
        "unknown_collection",
        f"backend {backend!r} has no collection {name!r}; `list_collections` names the ones it has",
    )


def unmanaged_collection(backend: str, name: str) -> BackendError:
    return BackendError(
        "unknown_collection",
        f"collection {name!r} on backend {backend!r} was not made by this server (it has no collection record); "
        "create one with `create_collection`",
    )


def collection_exists(backend: str, name: str) -> BackendError:
    return BackendError(
        "collection_exists", f"backend {backend!r} already has a collection {name!r}; pick another name or delete it"
    )


def dimension_mismatch(name: str, expected: int, got: int) -> BackendError:
    return BackendError(
        "dimension_mismatch",
        f"collection {name!r} holds vectors of {expected} dimensions; got a vector of {got}. "
        "Use the embedder the collection was made with, or `reembed_collection`",
    )


def check_vectors(name: str, record: CollectionRecord, docs: Sequence[StoredDocument]) -> None:
    """Refuse a batch before anything is written: every document needs a vector of the record's dimension."""
    for doc in docs:
        if doc.vector is None:
            raise BackendError(
                "invalid_document", f"document {doc.id!r} has no vector; every upserted document needs one"
            )
        got = int(numpy.asarray(doc.vector).reshape(-1).shape[0])
        if got != record.dimension:
            raise dimension_mismatch(name, record.dimension, got)


def check_query_vector(name: str, record: CollectionRecord, vector: numpy.ndarray) -> list[float]:
    flat = numpy.asarray(vector, dtype=numpy.float32).reshape(-1)
    if flat.shape[0] != record.dimension:
        raise dimension_mismatch(name, record.dimension, int(flat.shape[0]))
    return [float(value) for value in flat]


def score_of(distance: str, engine_value: float, engine: BackendKind) -> float:
    """Turn what an engine reports into the suite's "higher is closer" score (see the module docstring)."""
    if engine == "chroma":
        if distance == "l2":
            return -math.sqrt(max(float(engine_value), 0.0))
        return 1.0 - float(engine_value)
    if distance == "l2":
        return -float(engine_value)
    return float(engine_value)


def prepared(name: str, record: CollectionRecord, docs: Sequence[StoredDocument]) -> list[StoredDocument]:
    """``docs`` checked before anything is written, the last of any repeated id kept (an upsert's meaning).

    Raises:
        BackendError: ``invalid_document``, ``invalid_metadata`` or ``dimension_mismatch``.
    """
    check_vectors(name, record, docs)
    latest: dict[str, StoredDocument] = {}
    for doc in docs:
        if not isinstance(doc.id, str) or not doc.id:
            raise BackendError("invalid_document", "a document id must be a non-empty string")
        for key, value in doc.metadata.items():
            if not isinstance(key, str) or not key:
                raise BackendError(
                    "invalid_metadata", f"document {doc.id!r}: a metadata key must be a non-empty string"
                )
            if not isinstance(value, str | int | float | bool):
                raise BackendError(
                    "invalid_metadata",
                    f"document {doc.id!r}: metadata {key!r} must be a string, number or boolean, not {type(value).__name__}",
                )
            if isinstance(value, float) and not numpy.isfinite(value):
                raise BackendError("invalid_metadata", f"document {doc.id!r}: metadata {key!r} must be a finite number")
        latest.pop(doc.id, None)
        latest[doc.id] = doc
    return list(latest.values())


def in_asked_order(ids: Sequence[str], found: Sequence[StoredDocument]) -> list[StoredDocument]:
    """``found`` in the order of ``ids`` (first occurrence), missing ids left out."""
    by_id = {doc.id: doc for doc in found}
    ordered: list[StoredDocument] = []
    for doc_id in dict.fromkeys(ids):
        doc = by_id.get(doc_id)
        if doc is not None:
            ordered.append(doc)
    return ordered
