"""The vectorstore's logic, testable without MCP: collections, documents and queries over named backends.

A collection is ``(backend, name)``. Its record (:mod:`.record`) pins the embedder it was made with;
every call that embeds checks the embedder it would use against that pin and refuses a different
one (``embedder_mismatch``) before anything is written. Writes (:mod:`.writes`) go in batches: the
embedding of a batch may be cancelled, its write is shielded, so a cancellation lands between
batches and never leaves one half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import anyio
import numpy

from servers.kit.budgets import OutputBudget, model_size
from servers.kit.cursors import fingerprint, offset_cursor, offset_of
from servers.kit.embedders.base import Embedder, EmbedderIdentity
from servers.kit.embedders.factory import EmbedderSet
from servers.kit.tool_errors import CodedToolError
from servers.vectorstore.backends import Hit, StoredDocument, VectorBackend, open_backend
from servers.vectorstore.errors import VectorError, embedder_mismatch, unknown_backend
from servers.vectorstore.filters import Filter, parse_filter
from servers.vectorstore.keyword_search import KeywordSearch
from servers.vectorstore.models import (
    CollectionInfo,
    CollectionList,
    CollectionRef,
    Document,
    DocumentCount,
    DocumentPage,
    QueryHit,
    QueryResult,
)
from servers.vectorstore.ranking import mmr, rrf
from servers.vectorstore.record import CollectionRecord, Distance
from servers.vectorstore.settings import VectorstoreSettings

log = logging.getLogger("mcp_suite.vectorstore")

Progress = Callable[[float, float | None, str], Awaitable[None]]
Mode = Literal["dense", "keyword", "hybrid"]
TRUNCATION_MARKER = " … [truncated: {more} more characters; ask `get_documents` with a larger max_text_chars]"


async def no_progress(done: float, total: float | None, message: str) -> None:
    return None


def uri_of(backend: str, collection: str) -> str:
    return f"vector://{backend}/{collection}"


def identity_of(record: CollectionRecord) -> EmbedderIdentity:
    kind = cast(Literal["local", "ollama", "openai"], record.embedder_kind)
    return EmbedderIdentity(kind=kind, model=record.model, dimension=record.dimension)


def same_identity(a: EmbedderIdentity, b: EmbedderIdentity) -> bool:
    return (a.kind, a.model, a.dimension) == (b.kind, b.model, b.dimension)


def clip(text: str | None, limit: int) -> tuple[str | None, bool]:
    """``text`` cut at ``limit`` characters with a marker saying how much was left out."""
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit] + TRUNCATION_MARKER.format(more=len(text) - limit), True


class VectorService:
    """The named backends and embedders of one server, and what the tools do with them."""

    def __init__(
        self,
        settings: VectorstoreSettings,
        data_dir: Path,
        *,
        embedders: EmbedderSet | None = None,
        backends: Mapping[str, VectorBackend] | None = None,
    ) -> None:
        self.settings = settings
        self.backends: dict[str, VectorBackend] = dict(
            backends or {name: open_backend(name, cfg, data_dir) for name, cfg in settings.backends.items()}
        )
        self.embedders = embedders or EmbedderSet(
            settings.embedders, settings.embedding_cache, default=settings.default_embedder, section="vectorstore"
        )
        self.keywords = KeywordSearch(settings.keyword_index_max_documents)
        self._opened: set[str] = set()
        self._open_lock = anyio.Lock()

    # ---- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        """Open every backend and warm the default embedder (the first call must not wait for a model)."""
        for name in self.backends:
            await self._backend_open(name)
        await self.embedders.get(None).warm()

    async def warm_up(self) -> None:
        """:meth:`open`, logging instead of raising: readiness reports what failed, and calls retry it."""
        try:
            await self.open()
        except (CodedToolError, OSError, RuntimeError, ValueError) as exc:
            log.warning("vectorstore warm-up failed: %s", exc)

    async def close_backends(self) -> None:
        """Close the open backends (they open again on the next call); the embedders stay warm."""
        for name in list(self._opened):
            await self.backends[name].aclose()
        self._opened.clear()

    async def aclose(self) -> None:
        await self.close_backends()
        await self.embedders.aclose()

    async def _backend_open(self, name: str) -> VectorBackend:
        backend = self.backends[name]
        if name not in self._opened:
            async with self._open_lock:
                if name not in self._opened:
                    await backend.open()
                    self._opened.add(name)
        return backend

    async def backend(self, name: str | None) -> VectorBackend:
        chosen = name or self.settings.backend_default
        if chosen not in self.backends:
            raise unknown_backend(chosen, sorted(self.backends))
        return await self._backend_open(chosen)

    async def collection(
        self, backend: str | None, name: str, max_age: float = 0.0
    ) -> tuple[VectorBackend, CollectionRecord]:
        """The backend and record of collection ``name``; ``unknown_collection`` when it has none.

        The record is read afresh unless this server read or wrote it less than ``max_age`` seconds ago.
        """
        engine = await self.backend(backend)
        return engine, await engine.record(name, max_age)

    # ---- embedders -------------------------------------------------------------------------
    async def embedder_for(self, collection: str, record: CollectionRecord, name: str | None) -> tuple[str, Embedder]:
        """The embedder to use on ``collection``: the one named, else a configured one matching the pin.

        Raises:
            VectorError: ``embedder_mismatch`` when it is not the embedder the collection was made with.
        """
        held = identity_of(record)
        if name is None:
            found = self.embedders.matching(held)
            if found is not None:
                return found
            name = self.embedders.default
        embedder = self.embedders.get(name)
        await embedder.warm()
        if not same_identity(embedder.identity, held):
            raise embedder_mismatch(collection, held.label(), name, embedder.identity.label())
        return name, embedder

    async def embed(self, embedder: Embedder, texts: Sequence[str]) -> numpy.ndarray:
        return await embedder.embed(list(texts))

    # ---- collections -----------------------------------------------------------------------
    async def list_collections(self, backend: str | None, cursor: str | None, limit: int) -> CollectionList:
        names = [backend] if backend else sorted(self.backends)
        refs: list[CollectionRef] = []
        for name in names:
            engine = await self.backend(name)
            refs.extend(
                CollectionRef(backend=name, name=c, uri=uri_of(name, c)) for c in await engine.list_collections()
            )
        query = fingerprint("list_collections", backend)
        start = offset_of(cursor, query)
        page = refs[start : start + limit]
        more = start + limit < len(refs)
        return CollectionList(
            collections=page,
            backends=sorted(self.backends),
            next_cursor=offset_cursor(start + limit, query) if more else None,
        )

    async def describe(self, backend: str | None, name: str) -> CollectionInfo:
        engine, record = await self.collection(backend, name)
        held = identity_of(record)
        match = self.embedders.matching(held)
        return CollectionInfo(
            backend=engine.name,
            name=name,
            uri=uri_of(engine.name, name),
            count=await engine.count(name),
            embedder=held.label(),
            embedder_kind=record.embedder_kind,
            model=record.model,
            dimension=record.dimension,
            distance=record.distance,
            metadata_fields=list(record.metadata_fields),
            description=record.description,
            created_at=record.created_at,
            revision=record.revision,
            served_by=match[0] if match else None,
            index_settings=await engine.index_settings(name),
        )

    async def create_collection(
        self,
        backend: str | None,
        name: str,
        *,
        embedder: str | None,
        distance: Distance,
        metadata_fields: Sequence[str],
        description: str,
    ) -> CollectionInfo:
        engine = await self.backend(backend)
        chosen = self.embedders.get(embedder)
        await chosen.warm()
        identity = chosen.identity
        record = CollectionRecord.new(
            embedder_kind=identity.kind,
            model=identity.model,
            dimension=identity.dimension,
            distance=distance,
            metadata_fields=tuple(metadata_fields),
            description=description,
        )
        await engine.create_collection(name, record)
        return await self.describe(engine.name, name)

    async def delete_collection(self, backend: str | None, name: str) -> int:
        engine, _ = await self.collection(backend, name)
        held = await engine.count(name)
        with anyio.CancelScope(shield=True):
            await engine.delete_collection(name)
        return held

    # ---- documents -------------------------------------------------------------------------
    async def count(self, backend: str | None, name: str, where: Mapping[str, Any] | None) -> DocumentCount:
        engine, _ = await self.collection(backend, name, self.settings.record_cache_seconds)
        compiled = parse_filter(where)
        return DocumentCount(
            backend=engine.name,
            collection=name,
            count=await engine.count(name, compiled),
            filtered=compiled is not None,
        )

    def _documents(
        self, docs: Sequence[StoredDocument], max_text_chars: int, limit: int
    ) -> tuple[list[Document], OutputBudget]:
        budget = OutputBudget(max_items=limit, max_bytes=self.settings.max_result_bytes)
        shown: list[Document] = []
        for doc in docs:
            text, cut = clip(doc.text, max_text_chars)
            item = Document(id=doc.id, text=text, text_truncated=cut, metadata=dict(doc.metadata))
            if not budget.admit(model_size(item) + 1):
                break
            shown.append(item)
        return shown, budget

    async def get_documents(
        self,
        backend: str | None,
        name: str,
        *,
        ids: Sequence[str] | None,
        where: Mapping[str, Any] | None,
        cursor: str | None,
        limit: int,
        max_text_chars: int,
    ) -> DocumentPage:
        engine, _ = await self.collection(backend, name, self.settings.record_cache_seconds)
        compiled = parse_filter(where)
        query = fingerprint("get_documents", engine.name, name, list(ids) if ids is not None else None, where)
        start = offset_of(cursor, query)
        missing: list[str] = []
        if ids is not None:
            unique = list(dict.fromkeys(ids))
            asked = unique[start : start + limit]
            found = await engine.get(name, asked, compiled, 0, len(asked)) if asked else []
            held = {doc.id for doc in found}
            missing = [doc_id for doc_id in asked if doc_id not in held] if compiled is None else []
            shown, budget = self._documents(found, max_text_chars, limit)
            consumed = len(asked) if budget.stopped is None else asked.index(found[len(shown)].id)
            more = start + consumed < len(unique)
        else:
            found = await engine.get(name, None, compiled, start, limit + 1)
            shown, budget = self._documents(found[:limit], max_text_chars, limit)
            consumed = len(shown)
            more = len(found) > limit or budget.stopped is not None
        return DocumentPage(
            backend=engine.name,
            collection=name,
            documents=shown,
            next_cursor=offset_cursor(start + consumed, query) if more else None,
            stopped_by=budget.stopped,
            missing_ids=missing,
        )

    # ---- queries ---------------------------------------------------------------------------
    async def query(
        self,
        backend: str | None,
        name: str,
        *,
        text: str | None,
        vector: Sequence[float] | None,
        top_k: int,
        mode: Mode,
        where: Mapping[str, Any] | None,
        score_threshold: float | None,
        use_mmr: bool,
        mmr_lambda: float,
        embedder: str | None,
        max_text_chars: int,
    ) -> QueryResult:
        # A query trusts a record read in the last `record_cache_seconds`; if the engine then refuses it
        # (another replica re-embedded or re-made the collection meanwhile), it runs again on a fresh one.
        engine, record = await self.collection(backend, name, self.settings.record_cache_seconds)
        top_k = min(top_k, self.settings.max_top_k)
        # The checks of the arguments alone, outside the retry: a bad argument costs no second record read.
        compiled = parse_filter(where)
        if (text is None) == (vector is None):
            raise VectorError("invalid_query", "give exactly one of text or vector")
        if vector is not None and mode != "dense":
            raise VectorError(
                "invalid_query", f"mode {mode!r} needs the query as text; a vector allows mode 'dense' only"
            )
        pool = max(top_k, self.settings.candidate_pool) if (use_mmr or mode == "hybrid") else top_k

        async def answer(record: CollectionRecord) -> QueryResult:
            used: str | None = None
            query_vector: numpy.ndarray | None = None
            chosen: Embedder | None = None
            if mode != "keyword" or use_mmr:  # MMR compares hits with the query vector in every mode
                if vector is not None:
                    query_vector = numpy.asarray(vector, dtype=numpy.float32)
                else:
                    used, chosen = await self.embedder_for(name, record, embedder)
            if chosen is not None:
                query_vector = (await self.embed(chosen, [text or ""]))[0]
            hits = await self._ranked(engine, name, record, mode, text, query_vector, pool, compiled, use_mmr, top_k)
            # Counted only when nothing matched, so that a query costs the engine one search, not two calls.
            if not hits and await engine.count(name) == 0:
                raise VectorError(
                    "empty_collection", f"collection {name!r} holds no documents yet; add some with `upsert_documents`"
                )
            if score_threshold is not None:
                hits = [hit for hit in hits if hit.score >= score_threshold]
            if use_mmr and query_vector is not None and hits:
                hits = mmr(query_vector, hits, top_k, mmr_lambda)
            hits = hits[:top_k]
            shown, budget = self._hits(hits, max_text_chars, top_k)
            return QueryResult(
                backend=engine.name,
                collection=name,
                mode=mode,
                mmr=use_mmr,
                embedder=used,
                hits=shown,
                stopped_by=budget.stopped,
            )

        try:
            return await answer(record)
        except CodedToolError:
            fresh = await engine.record(name)
            if fresh == record:
                raise
            return await answer(fresh)

    async def _ranked(
        self,
        engine: VectorBackend,
        name: str,
        record: CollectionRecord,
        mode: Mode,
        text: str | None,
        query_vector: numpy.ndarray | None,
        pool: int,
        where: Filter | None,
        use_mmr: bool,
        top_k: int,
    ) -> list[Hit]:
        if mode == "dense":
            assert query_vector is not None
            return await engine.query(name, query_vector, pool, where, include_vectors=use_mmr)
        keyword = await self.keywords.search(engine, name, record, text or "", pool, where)
        if mode == "keyword":
            return await self._hits_of(engine, name, keyword, use_mmr)
        assert query_vector is not None
        dense = await engine.query(name, query_vector, pool, where, include_vectors=use_mmr)
        # Fused over a window of each ranking, as Elasticsearch's rank_window_size: deep in a long list, one
        # shared common word would lift a document above the dense ranking's best hit.
        window = fusion_window(top_k, pool)
        fused = rrf([[hit.id for hit in dense[:window]], [doc_id for doc_id, _ in keyword[:window]]])
        return await self._hits_of(engine, name, fused, use_mmr, known={hit.id: hit for hit in dense})

    async def _hits_of(
        self,
        engine: VectorBackend,
        name: str,
        scored: Sequence[tuple[str, float]],
        with_vectors: bool,
        known: Mapping[str, Hit] | None = None,
    ) -> list[Hit]:
        known = known or {}
        wanted = [doc_id for doc_id, _ in scored if with_vectors or doc_id not in known]
        fetched = (
            {doc.id: doc for doc in await engine.get(name, wanted, None, 0, len(wanted), with_vectors)}
            if wanted
            else {}
        )
        hits: list[Hit] = []
        for doc_id, score in scored:
            doc = fetched.get(doc_id)
            if doc is not None:
                hits.append(Hit(id=doc.id, text=doc.text, metadata=doc.metadata, score=score, vector=doc.vector))
            elif doc_id in known:
                base = known[doc_id]
                hits.append(Hit(id=base.id, text=base.text, metadata=base.metadata, score=score, vector=base.vector))
        return hits

    def _hits(self, hits: Sequence[Hit], max_text_chars: int, limit: int) -> tuple[list[QueryHit], OutputBudget]:
        budget = OutputBudget(max_items=limit, max_bytes=self.settings.max_result_bytes)
        shown: list[QueryHit] = []
        for hit in hits:
            text, cut = clip(hit.text, max_text_chars)
            item = QueryHit(id=hit.id, text=text, text_truncated=cut, metadata=dict(hit.metadata), score=hit.score)
            if not budget.admit(model_size(item) + 1):
                break
            shown.append(item)
        return shown, budget


def fusion_window(top_k: int, pool: int) -> int:
    """How many of each ranking hybrid fusion reads: twice the hits asked for, at least 10, at most the pool."""
    return min(pool, max(2 * top_k, 10))
