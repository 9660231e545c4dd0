"""The Qdrant backend: local mode (``QdrantClient(path=...)``, embedded) or a Qdrant server.

A point's id is the uuid5 of the document id (Qdrant takes UUIDs or integers only); the payload
keeps ``doc_id``, ``text`` and ``metadata``. The collection record is the collection metadata's
:data:`~servers.vectorstore.record.RECORD_KEY` (collection metadata works in local mode too; an
update merges keys). Distances: ``cosine`` is ``Cosine`` (Qdrant normalises stored vectors, so a
vector read back has unit length), ``l2`` is ``Euclid``, ``ip`` is ``Dot``.

A local path is locked to one process and the local engine is not thread-safe: its calls run one
at a time in a worker thread. Server calls run in worker threads with the configured timeout.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import numpy
from qdrant_client import QdrantClient, models

from servers.vectorstore.backends.base import (
    BackendError,
    BackendKind,
    Hit,
    Metadata,
    RecordCache,
    StoredDocument,
    check_collection_name,
    check_query_vector,
    collection_exists,
    dimension_mismatch,
    in_asked_order,
    prepared,
    score_of,
    unknown_collection,
    unmanaged_collection,
)
from servers.vectorstore.backends.qdrant_filters import compile_filter
from servers.vectorstore.backends.settings import BackendSettings, redacted_url
from servers.vectorstore.filters import Filter
from servers.vectorstore.record import RECORD_KEY, CollectionRecord, RecordError

T = TypeVar("T")
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "mcp-suite/vectorstore")
DISTANCE = {"cosine": models.Distance.COSINE, "l2": models.Distance.EUCLID, "ip": models.Distance.DOT}
DIMENSION = re.compile(r"expected dim: (\d+), got (\d+)")
WRITE_BATCH = 256
PAGE = 1000


def point_id(doc_id: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, doc_id))


class QdrantBackend:
    kind: BackendKind = "qdrant"

    def __init__(self, name: str, settings: BackendSettings, data_dir: Path) -> None:
        self.name = name
        self._settings = settings
        self._path = None if settings.url else settings.embedded_path(name, data_dir)
        self.location = redacted_url(settings.url) if settings.url else str(self._path)
        self._client: QdrantClient | None = None
        # The last record read per collection: a query checks its vector against it without a round trip.
        self._records = RecordCache()
        # The local engine is plain Python over shared structures: one call at a time.
        self._limiter = anyio.CapacityLimiter(1 if self._path is not None else 16)

    # -- connection -------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is None:
            self._client = await self._run(self._connect)

    def _connect(self) -> QdrantClient:
        if self._settings.url:
            key = self._settings.token.get_secret_value() if self._settings.token is not None else None
            client = QdrantClient(url=self._settings.url, api_key=key, timeout=int(self._settings.timeout_seconds))
            client.get_collections()
            return client
        assert self._path is not None
        self._path.mkdir(parents=True, exist_ok=True)
        return QdrantClient(path=str(self._path))

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._run(client.close)

    async def ping(self) -> str:
        client = await self._ready()
        await self._run(client.get_collections)
        return f"qdrant at {self.location}: answering"

    # -- collections ------------------------------------------------------------------------
    async def list_collections(self) -> list[str]:
        client = await self._ready()
        answer = await self._run(client.get_collections)
        return sorted(collection.name for collection in answer.collections)

    async def create_collection(self, name: str, record: CollectionRecord) -> None:
        check_collection_name(name)
        client = await self._ready()
        if await self._run(lambda: client.collection_exists(name)):
            raise collection_exists(self.name, name)
        await self._run(
            lambda: client.create_collection(
                name,
                vectors_config=models.VectorParams(size=record.dimension, distance=DISTANCE[record.distance]),
                metadata={RECORD_KEY: record.to_json()},
            ),
            name,
        )
        self._records.put(name, record)

    async def _info(self, name: str) -> models.CollectionInfo:
        client = await self._ready()
        return await self._run(lambda: client.get_collection(name), name)

    async def record(self, name: str, max_age: float = 0.0) -> CollectionRecord:
        held = self._records.get(name, max_age)
        if held is not None:
            return held
        info = await self._info(name)
        text = (info.config.metadata or {}).get(RECORD_KEY)
        if not isinstance(text, str):
            raise unmanaged_collection(self.name, name)
        try:
            return self._records.put(name, CollectionRecord.from_json(text))
        except RecordError as error:
            raise BackendError("backend_error", f"collection {name!r}: {error}") from error

    async def set_record(self, name: str, record: CollectionRecord) -> None:
        client = await self._ready()
        await self._exists(name)
        await self._run(lambda: client.update_collection(name, metadata={RECORD_KEY: record.to_json()}), name)
        self._records.put(name, record)

    async def delete_collection(self, name: str) -> None:
        client = await self._ready()
        self._records.drop(name)
        await self._exists(name)
        await self._run(lambda: client.delete_collection(name), name)

    async def index_settings(self, name: str) -> dict[str, str | int | float]:
        info = await self._info(name)
        hnsw = info.config.hnsw_config
        return {"hnsw.m": hnsw.m, "hnsw.ef_construct": hnsw.ef_construct, "status": str(info.status.value)}

    # -- documents --------------------------------------------------------------------------
    async def count(self, name: str, where: Filter | None = None) -> int:
        compiled = compile_filter(where, self.name)
        client = await self._ready()
        await self._exists(name)
        answer = await self._run(lambda: client.count(name, count_filter=compiled, exact=True), name)
        return int(answer.count)

    async def upsert(self, name: str, docs: Sequence[StoredDocument]) -> None:
        record = await self.record(name)
        batch = prepared(name, record, docs)
        client = await self._ready()
        points = [
            models.PointStruct(
                id=point_id(doc.id),
                vector=[float(value) for value in numpy.asarray(doc.vector, dtype=numpy.float32).reshape(-1)],
                payload={"doc_id": doc.id, "text": doc.text, "metadata": dict(doc.metadata)},
            )
            for doc in batch
        ]
        for start in range(0, len(points), WRITE_BATCH):
            part = points[start : start + WRITE_BATCH]
            await self._run(partial(client.upsert, name, points=part, wait=True), name)
        if points:
            await self.set_record(name, (await self.record(name)).bumped())

    async def get(
        self,
        name: str,
        ids: Sequence[str] | None,
        where: Filter | None,
        offset: int,
        limit: int,
        include_vectors: bool = False,
    ) -> list[StoredDocument]:
        compiled = compile_filter(where, self.name)
        await self._exists(name)
        if limit <= 0 or (ids is not None and not ids):
            return []
        if ids is not None:
            unique = list(dict.fromkeys(ids))
            if compiled is None:
                found = await self._retrieve(name, unique, include_vectors)
            else:
                found = await self._points(name, _with_ids(compiled, unique), 0, len(unique), include_vectors)
            return in_asked_order(unique, found)[offset : offset + limit]
        return await self._points(name, compiled, offset, limit, include_vectors)

    async def delete(self, name: str, ids: Sequence[str] | None, where: Filter | None) -> int:
        compiled = compile_filter(where, self.name)
        await self._exists(name)
        if ids is not None and not ids:
            return 0
        selection = _with_ids(compiled, list(dict.fromkeys(ids))) if ids is not None else compiled
        client = await self._ready()
        found: list[models.ExtendedPointId] = []
        cursor: models.ExtendedPointId | None = None
        while True:
            page, cursor = await self._run(
                partial(
                    client.scroll,
                    name,
                    scroll_filter=selection,
                    limit=PAGE,
                    offset=cursor,
                    with_payload=False,
                    with_vectors=False,
                ),
                name,
            )
            found.extend(point.id for point in page)
            if cursor is None:
                break
        for start in range(0, len(found), WRITE_BATCH):
            part = found[start : start + WRITE_BATCH]
            selector = models.PointIdsList(points=part)
            await self._run(partial(client.delete, name, points_selector=selector, wait=True), name)
        if found:
            await self.set_record(name, (await self.record(name)).bumped())
        return len(found)

    async def query(
        self, name: str, vector: numpy.ndarray, k: int, where: Filter | None, include_vectors: bool = False
    ) -> list[Hit]:
        compiled = compile_filter(where, self.name)
        record = self._records.get(name) or await self.record(name)
        flat = check_query_vector(name, record, vector)
        if k <= 0:
            return []
        client = await self._ready()
        answer = await self._run(
            lambda: client.query_points(
                name, query=flat, limit=k, query_filter=compiled, with_payload=True, with_vectors=include_vectors
            ),
            name,
        )
        hits = []
        for point in answer.points:
            doc = _document(point, include_vectors)
            hits.append(
                Hit(doc.id, doc.text, doc.metadata, score_of(record.distance, point.score, "qdrant"), doc.vector)
            )
        return hits

    async def scan(self, name: str, batch: int = 1000) -> AsyncIterator[list[StoredDocument]]:
        client = await self._ready()
        await self._exists(name)
        cursor: models.ExtendedPointId | None = None
        size = max(1, min(batch, PAGE))
        while True:
            page, cursor = await self._run(
                partial(client.scroll, name, limit=size, offset=cursor, with_payload=True), name
            )
            if page:
                yield [_document(point, False) for point in page]
            if cursor is None:
                return

    # -- plumbing ---------------------------------------------------------------------------
    async def _points(
        self, name: str, selection: models.Filter | None, offset: int, limit: int, include_vectors: bool
    ) -> list[StoredDocument]:
        """The ``limit`` points after the first ``offset`` of ``selection``, in point-id order."""
        client = await self._ready()
        docs: list[StoredDocument] = []
        skip = offset
        cursor: models.ExtendedPointId | None = None
        while len(docs) < limit:
            size = min(PAGE, skip + limit - len(docs))
            page, cursor = await self._run(
                partial(
                    client.scroll,
                    name,
                    scroll_filter=selection,
                    limit=size,
                    offset=cursor,
                    with_payload=True,
                    with_vectors=include_vectors,
                ),
                name,
            )
            dropped = min(skip, len(page))
            skip -= dropped
            docs.extend(_document(point, include_vectors) for point in page[dropped:])
            if cursor is None:
                break
        return docs[:limit]

    async def _retrieve(self, name: str, ids: list[str], include_vectors: bool) -> list[StoredDocument]:
        """The points of ``ids`` by key: local mode scans every point for a ``has_id`` filter, not for this."""
        client = await self._ready()
        points = await self._run(
            partial(
                client.retrieve,
                name,
                ids=[point_id(doc_id) for doc_id in ids],
                with_payload=True,
                with_vectors=include_vectors,
            ),
            name,
        )
        return [_document(point, include_vectors) for point in points]

    async def _ready(self) -> QdrantClient:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    async def _exists(self, name: str) -> None:
        client = await self._ready()
        if not await self._run(lambda: client.collection_exists(name), name):
            raise unknown_collection(self.name, name)

    async def _run(self, function: Callable[[], T], collection: str | None = None) -> T:
        try:
            return await anyio.to_thread.run_sync(function, limiter=self._limiter)
        except BackendError:
            raise
        except Exception as error:
            raise self._coded(error, collection) from error

    def _coded(self, error: Exception, collection: str | None) -> BackendError:
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        text = str(error)
        status = error.status_code if isinstance(error, UnexpectedResponse) else None
        match = DIMENSION.search(text)
        if match and collection is not None:
            return dimension_mismatch(collection, int(match.group(1)), int(match.group(2)))
        if collection is not None and (status == 404 or re.search(r"Collection .* (not found|doesn't exist)", text)):
            return unknown_collection(self.name, collection)
        if collection is not None and (status == 409 or "already exists" in text):
            return collection_exists(self.name, collection)
        if "already accessed by another instance" in text:
            return BackendError(
                "backend_unavailable",
                f"qdrant backend {self.name!r}: the local path {self.location} is in use by another process "
                "(a local path is locked to one process; run a Qdrant server for several)",
            )
        if isinstance(error, ResponseHandlingException | ConnectionError | TimeoutError) or status in (502, 503, 504):
            return BackendError(
                "backend_unavailable", f"qdrant backend {self.name!r} at {self.location} cannot be reached: {text}"
            )
        return BackendError("backend_error", f"qdrant backend {self.name!r}: {text}")


def _with_ids(selection: models.Filter | None, ids: list[str]) -> models.Filter:
    has_id = models.HasIdCondition(has_id=[point_id(doc_id) for doc_id in ids])
    return models.Filter(must=[has_id] if selection is None else [has_id, selection])


def _document(point: models.Record | models.ScoredPoint, include_vectors: bool) -> StoredDocument:
    payload = point.payload or {}
    raw_metadata = payload.get("metadata")
    metadata: Metadata = dict(raw_metadata) if isinstance(raw_metadata, dict) else {}
    vector = None
    if include_vectors and isinstance(point.vector, list):
        vector = numpy.asarray(point.vector, dtype=numpy.float32)
    text = payload.get("text")
    return StoredDocument(
        id=str(payload.get("doc_id", point.id)),
        text=text if isinstance(text, str) else None,
        metadata=metadata,
        vector=vector,
    )
