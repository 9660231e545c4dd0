"""The Chroma backend: an embedded ``PersistentClient`` under the data dir, or a Chroma server.

Every call passes explicit embeddings and opens collections with ``embedding_function=None``:
Chroma's default embedding function downloads a model, which must never happen here. The
collection record is the collection metadata's :data:`~servers.vectorstore.record.RECORD_KEY`;
``modify(metadata=...)`` *replaces* a collection's metadata, so the record is its only key. The
distance is the HNSW ``space`` of the collection's configuration, fixed at creation.

Chroma's calls block; they run in worker threads. Collection handles are cached by name and
fetched again once when Chroma answers that the cached one is gone (deleted or re-created by
another process).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import numpy

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
    in_asked_order,
    prepared,
    score_of,
    unknown_collection,
    unmanaged_collection,
)
from servers.vectorstore.backends.chroma_filters import compile_where, unsupported_field
from servers.vectorstore.backends.settings import BackendSettings, redacted_url
from servers.vectorstore.filters import Filter
from servers.vectorstore.record import RECORD_KEY, CollectionRecord, RecordError

T = TypeVar("T")
DIMENSION = re.compile(r"dimension of (\d+), got (\d+)")


class _Gone(Exception):
    """The cached handle's collection no longer exists: fetch it again."""


class ChromaBackend:
    kind: BackendKind = "chroma"

    def __init__(self, name: str, settings: BackendSettings, data_dir: Path) -> None:
        self.name = name
        self._settings = settings
        self._path = None if settings.url else settings.embedded_path(name, data_dir)
        self.location = redacted_url(settings.url) if settings.url else str(self._path)
        self._client: Any = None
        self._handles: dict[str, Any] = {}
        # The last record read per collection: a query checks its vector against it without a round trip
        # (the engine refuses a wrong dimension in a non-empty collection).
        self._records = RecordCache()
        self._batch = 1000

    # -- connection -------------------------------------------------------------------------
    async def open(self) -> None:
        if self._client is None:
            self._client = await self._run(self._connect)

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        chroma_settings = Settings(anonymized_telemetry=False)
        if self._settings.url:
            parts = urlsplit(self._settings.url)
            headers: dict[str, str] = {}
            if self._settings.token is not None:
                secret = self._settings.token.get_secret_value()
                headers[self._settings.auth_header] = (
                    f"Bearer {secret}" if self._settings.auth_header == "Authorization" else secret
                )
            ssl = parts.scheme == "https"
            client = chromadb.HttpClient(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or (443 if ssl else 8000),
                ssl=ssl,
                headers=headers,
                settings=chroma_settings,
            )
        else:
            assert self._path is not None
            self._path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(self._path), settings=chroma_settings)
        self._batch = max(1, min(int(client.get_max_batch_size()), 5000))
        return client

    async def aclose(self) -> None:
        self._handles.clear()
        self._client = None

    async def ping(self) -> str:
        client = await self._ready()
        await self._run(client.heartbeat)
        return f"chroma at {self.location}: answering"

    # -- collections ------------------------------------------------------------------------
    async def list_collections(self) -> list[str]:
        client = await self._ready()
        collections = await self._run(client.list_collections)
        return sorted(collection.name for collection in collections)

    async def create_collection(self, name: str, record: CollectionRecord) -> None:
        check_collection_name(name)
        client = await self._ready()

        def create() -> Any:
            return client.create_collection(
                name,
                metadata={RECORD_KEY: record.to_json()},
                configuration={"hnsw": {"space": record.distance}},
                embedding_function=None,
            )

        try:
            self._handles[name] = await self._run(create, name)
            self._records.put(name, record)
        except BackendError as error:
            if error.code == "backend_error" and "already exists" in error.detail:
                raise collection_exists(self.name, name) from error
            raise

    async def record(self, name: str, max_age: float = 0.0) -> CollectionRecord:
        held = self._records.get(name, max_age)
        if held is not None:
            return held
        handle = await self._fetch(name)
        return self._records.put(name, self._record_of(name, handle))

    async def set_record(self, name: str, record: CollectionRecord) -> None:
        await self._on(name, lambda handle: handle.modify(metadata={RECORD_KEY: record.to_json()}))
        self._records.put(name, record)

    async def delete_collection(self, name: str) -> None:
        client = await self._ready()
        self._handles.pop(name, None)
        self._records.drop(name)
        await self._run(lambda: client.delete_collection(name), name)

    async def index_settings(self, name: str) -> dict[str, str | int | float]:
        handle = await self._fetch(name)
        with warnings.catch_warnings():  # Chroma warns about the absent embedding function's config
            warnings.simplefilter("ignore", DeprecationWarning)
            configuration = handle.configuration or {}
        hnsw = configuration.get("hnsw") or {}
        return {f"hnsw.{key}": value for key, value in hnsw.items() if isinstance(value, str | int | float)}

    # -- documents --------------------------------------------------------------------------
    async def count(self, name: str, where: Filter | None = None) -> int:
        compiled = compile_where(where, self.name)
        if compiled is None:
            return int(await self._on(name, lambda handle: handle.count()))
        result = await self._on(name, lambda handle: handle.get(where=compiled, include=[]))
        return len(result["ids"])

    async def upsert(self, name: str, docs: Sequence[StoredDocument]) -> None:
        record = await self.record(name)
        batch = prepared(name, record, docs)
        for doc in batch:
            for key in doc.metadata:
                reason = unsupported_field(key)
                if reason is not None:
                    raise BackendError("invalid_metadata", f"document {doc.id!r}: Chroma cannot store {reason}")
        if not batch:
            return
        for start in range(0, len(batch), self._batch):
            part = batch[start : start + self._batch]

            def write(handle: Any, part: list[StoredDocument] = part) -> None:
                handle.upsert(
                    ids=[doc.id for doc in part],
                    embeddings=numpy.stack(
                        [numpy.asarray(doc.vector, dtype=numpy.float32).reshape(-1) for doc in part]
                    ),
                    documents=[doc.text for doc in part],
                    metadatas=[dict(doc.metadata) or None for doc in part],
                )

            await self._on(name, write)
        await self._bump(name)

    async def get(
        self,
        name: str,
        ids: Sequence[str] | None,
        where: Filter | None,
        offset: int,
        limit: int,
        include_vectors: bool = False,
    ) -> list[StoredDocument]:
        compiled = compile_where(where, self.name)
        include = ["documents", "metadatas", *(["embeddings"] if include_vectors else [])]
        if ids is not None:
            if not ids or limit <= 0:
                return []
            unique = list(dict.fromkeys(ids))
            result = await self._on(name, lambda handle: handle.get(ids=unique, where=compiled, include=include))
            return in_asked_order(unique, _documents(result))[offset : offset + limit]
        if limit <= 0:
            return []
        result = await self._on(
            name, lambda handle: handle.get(where=compiled, offset=offset, limit=limit, include=include)
        )
        return _documents(result)

    async def delete(self, name: str, ids: Sequence[str] | None, where: Filter | None) -> int:
        compiled = compile_where(where, self.name)
        if ids is not None and not ids:
            return 0

        def matched(handle: Any) -> list[str]:
            if ids is not None:
                return list(handle.get(ids=list(dict.fromkeys(ids)), where=compiled, include=[])["ids"])
            return list(handle.get(where=compiled, include=[])["ids"])

        found = await self._on(name, matched)
        for start in range(0, len(found), self._batch):
            part = found[start : start + self._batch]

            def remove(handle: Any, part: list[str] = part) -> None:
                handle.delete(ids=part)

            await self._on(name, remove)
        if found:
            await self._bump(name)
        return len(found)

    async def query(
        self, name: str, vector: numpy.ndarray, k: int, where: Filter | None, include_vectors: bool = False
    ) -> list[Hit]:
        compiled = compile_where(where, self.name)
        record = self._records.get(name) or await self.record(name)
        flat = check_query_vector(name, record, vector)
        if k <= 0:
            return []
        include = ["documents", "metadatas", "distances", *(["embeddings"] if include_vectors else [])]
        result = await self._on(
            name,
            lambda handle: handle.query(query_embeddings=[flat], n_results=k, where=compiled, include=include),
        )
        ids = result["ids"][0]
        texts = (result.get("documents") or [[None] * len(ids)])[0]
        metadatas = (result.get("metadatas") or [[None] * len(ids)])[0]
        distances = result["distances"][0]
        vectors = result.get("embeddings")
        return [
            Hit(
                id=doc_id,
                text=texts[index],
                metadata=_metadata(metadatas[index]),
                score=score_of(record.distance, distances[index], "chroma"),
                vector=numpy.asarray(vectors[0][index], dtype=numpy.float32)
                if include_vectors and vectors is not None
                else None,
            )
            for index, doc_id in enumerate(ids)
        ]

    async def scan(self, name: str, batch: int = 1000) -> AsyncIterator[list[StoredDocument]]:
        offset = 0
        size = max(1, min(batch, self._batch))
        while True:

            def page(handle: Any, offset: int = offset) -> Any:
                return handle.get(offset=offset, limit=size, include=["documents", "metadatas"])

            docs = _documents(await self._on(name, page))
            if docs:
                yield docs
            if len(docs) < size:
                return
            offset += len(docs)

    # -- plumbing ---------------------------------------------------------------------------
    async def _ready(self) -> Any:
        if self._client is None:
            await self.open()
        return self._client

    def _record_of(self, name: str, handle: Any) -> CollectionRecord:
        text = (handle.metadata or {}).get(RECORD_KEY)
        if not isinstance(text, str):
            raise unmanaged_collection(self.name, name)
        try:
            return CollectionRecord.from_json(text)
        except RecordError as error:
            raise BackendError("backend_error", f"collection {name!r}: {error}") from error

    async def _bump(self, name: str) -> None:
        record = await self.record(name)
        await self.set_record(name, record.bumped())

    async def _fetch(self, name: str) -> Any:
        client = await self._ready()
        handle = await self._run(lambda: client.get_collection(name, embedding_function=None), name)
        self._handles[name] = handle
        return handle

    async def _on(self, name: str, action: Callable[[Any], T]) -> T:
        """``action(handle)`` on the collection ``name``, once more with a fresh handle if the cached one is gone."""
        for attempt in range(2):
            handle = self._handles.get(name) if attempt == 0 else None
            if handle is None:
                handle = await self._fetch(name)

            def call(handle: Any = handle) -> T:
                try:
                    return action(handle)
                except Exception as error:
                    if _is_not_found(error):
                        raise _Gone() from error
                    raise

            try:
                return await self._run(call, name)
            except _Gone:
                self._handles.pop(name, None)
                self._records.drop(name)
        raise unknown_collection(self.name, name)

    async def _run(self, function: Callable[[], T], collection: str | None = None) -> T:
        if self._settings.url is None:
            return await self._call(function, collection)
        # Chroma's HTTP client waits without a timeout: the deadline is kept here, and a call past it is
        # left to finish in its thread.
        seconds = self._settings.timeout_seconds
        try:
            with anyio.fail_after(seconds):
                return await self._call(function, collection, abandon=True)
        except TimeoutError as error:
            raise BackendError(
                "backend_unavailable",
                f"chroma backend {self.name!r} at {self.location} did not answer within {seconds:g} s (timeout_seconds)",
            ) from error

    async def _call(self, function: Callable[[], T], collection: str | None, abandon: bool = False) -> T:
        try:
            return await anyio.to_thread.run_sync(function, abandon_on_cancel=abandon)
        except (_Gone, BackendError):
            raise
        except Exception as error:
            raise self._coded(error, collection) from error

    def _coded(self, error: Exception, collection: str | None) -> BackendError:
        text = str(error)
        if _is_not_found(error) and collection is not None:
            return unknown_collection(self.name, collection)
        match = DIMENSION.search(text)
        if match and collection is not None:
            from servers.vectorstore.backends.base import dimension_mismatch

            return dimension_mismatch(collection, int(match.group(1)), int(match.group(2)))
        if _is_unreachable(error):
            return BackendError(
                "backend_unavailable", f"chroma backend {self.name!r} at {self.location} cannot be reached: {text}"
            )
        return BackendError("backend_error", f"chroma backend {self.name!r}: {text}")


def _is_not_found(error: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(error, NotFoundError) or "does not exist" in str(error)


def _is_unreachable(error: Exception) -> bool:
    import httpx

    text = str(error)
    return isinstance(error, httpx.TransportError | ConnectionError) or "Could not connect" in text


def _metadata(raw: Any) -> Metadata:
    return dict(raw) if raw else {}


def _documents(result: Any) -> list[StoredDocument]:
    ids = result["ids"]
    texts = result.get("documents") or [None] * len(ids)
    metadatas = result.get("metadatas") or [None] * len(ids)
    vectors = result.get("embeddings")
    return [
        StoredDocument(
            id=doc_id,
            text=texts[index],
            metadata=_metadata(metadatas[index]),
            vector=None if vectors is None else numpy.asarray(vectors[index], dtype=numpy.float32),
        )
        for index, doc_id in enumerate(ids)
    ]
