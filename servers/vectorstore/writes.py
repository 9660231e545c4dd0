"""The vectorstore's writes: upsert in batches with progress, updates, deletes and re-embedding.

Every write embeds a batch first (cancellable: nothing is written yet) and then writes it shielded
from cancellation, so a cancelled call stops between batches and never leaves one half-written.
Documents without ids get content-hash ids (:func:`.chunking.content_id`), so sending the same
texts again rewrites the same documents instead of adding copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import anyio
import numpy

from servers.kit.embedders.base import Embedder
from servers.vectorstore.backends import StoredDocument, VectorBackend
from servers.vectorstore.chunking import content_id
from servers.vectorstore.errors import VectorError
from servers.vectorstore.models import Metadata, ReembedResult, WriteResult
from servers.vectorstore.record import CollectionRecord
from servers.vectorstore.service import Progress, VectorService, identity_of, no_progress

MAX_IDS_SHOWN = 100


@dataclass
class NewDocument:
    text: str
    id: str | None = None
    metadata: Metadata = field(default_factory=dict)


def check_sizes(service: VectorService, docs: Sequence[NewDocument]) -> None:
    """Refuse an oversized call before anything is embedded or written."""
    limits = service.settings
    if len(docs) > limits.max_documents_per_call:
        raise VectorError(
            "too_many_documents",
            f"{len(docs)} documents in one call; at most {limits.max_documents_per_call} "
            "(vectorstore.max_documents_per_call): send them in several calls",
        )
    for position, doc in enumerate(docs):
        size = len(doc.text.encode("utf-8"))
        if size > limits.max_text_bytes:
            raise VectorError(
                "text_too_large",
                f"document {position} is {size} bytes; at most {limits.max_text_bytes} (vectorstore.max_text_bytes): "
                "cut it with `ingest_text`, which chunks",
            )


async def write_batches(
    service: VectorService,
    engine: VectorBackend,
    name: str,
    embedder: Embedder | None,
    docs: Sequence[StoredDocument],
    progress: Progress,
) -> int:
    """Embed (unless ``embedder`` is ``None``: the vectors are kept) and write ``docs`` in batches.

    Returns how many batches were written.
    """
    size = service.settings.upsert_batch_size
    total = len(docs)
    batches = 0
    for start in range(0, total, size):
        batch = list(docs[start : start + size])
        if embedder is not None:
            vectors = await service.embed(embedder, [doc.text or "" for doc in batch])
            batch = [replace(doc, vector=vectors[i]) for i, doc in enumerate(batch)]
        with anyio.CancelScope(shield=True):
            await engine.upsert(name, batch)
        batches += 1
        await progress(min(start + size, total), total, f"wrote {min(start + size, total)} of {total} documents")
    return batches


def result(engine: VectorBackend, name: str, ids: Sequence[str], batches: int) -> WriteResult:
    unique = list(dict.fromkeys(ids))
    return WriteResult(
        backend=engine.name,
        collection=name,
        ids=unique[:MAX_IDS_SHOWN],
        written=len(unique),
        batches=batches,
        ids_truncated=len(unique) > MAX_IDS_SHOWN,
    )


async def upsert_documents(
    service: VectorService,
    backend: str | None,
    name: str,
    docs: Sequence[NewDocument],
    *,
    embedder: str | None = None,
    progress: Progress = no_progress,
) -> WriteResult:
    """Add or replace ``docs``; ids default to the content hash of the text."""
    check_sizes(service, docs)
    engine, record = await service.collection(backend, name)
    _, chosen = await service.embedder_for(name, record, embedder)
    stored = [
        StoredDocument(id=doc.id or content_id(doc.text), text=doc.text, metadata=dict(doc.metadata)) for doc in docs
    ]
    batches = await write_batches(service, engine, name, chosen, stored, progress)
    return result(engine, name, [doc.id for doc in stored], batches)


@dataclass
class DocumentChange:
    id: str
    text: str | None = None
    metadata: Metadata | None = None
    replace_metadata: bool = False


async def update_documents(
    service: VectorService,
    backend: str | None,
    name: str,
    changes: Sequence[DocumentChange],
    *,
    embedder: str | None = None,
    progress: Progress = no_progress,
) -> WriteResult:
    """Change texts (re-embedded) and metadata (merged, or replaced); a metadata-only change keeps its vector."""
    check_sizes(service, [NewDocument(text=change.text or "") for change in changes])
    engine, record = await service.collection(backend, name)
    ids = list(dict.fromkeys(change.id for change in changes))
    current = {doc.id: doc for doc in await engine.get(name, ids, None, 0, len(ids), True)}
    missing = [doc_id for doc_id in ids if doc_id not in current]
    if missing:
        shown = ", ".join(repr(doc_id) for doc_id in missing[:10])
        raise VectorError(
            "unknown_documents",
            f"collection {name!r} has no documents {shown}; nothing was changed. Add new ones with `upsert_documents`",
        )
    retext: list[StoredDocument] = []
    keep: list[StoredDocument] = []
    for change in changes:
        doc = current[change.id]
        metadata = dict(doc.metadata)
        if change.metadata is not None:
            metadata = dict(change.metadata) if change.replace_metadata else {**metadata, **change.metadata}
        updated = StoredDocument(id=doc.id, text=doc.text, metadata=metadata, vector=doc.vector)
        if change.text is not None and change.text != doc.text:
            updated = StoredDocument(id=doc.id, text=change.text, metadata=metadata)
            retext.append(updated)
        else:
            keep.append(updated)
        current[change.id] = updated
    batches = 0
    if retext:
        _, chosen = await service.embedder_for(name, record, embedder)
        batches += await write_batches(service, engine, name, chosen, retext, progress)
    if keep:
        batches += await write_batches(service, engine, name, None, keep, progress)
    return result(engine, name, ids, batches)


async def delete_documents(
    service: VectorService,
    backend: str | None,
    name: str,
    ids: Sequence[str] | None,
    where: Mapping[str, object] | None,
) -> tuple[VectorBackend, int]:
    from servers.vectorstore.filters import parse_filter

    if ids is None and where is None:
        raise VectorError("invalid_arguments", "give ids or a filter; to empty a collection use `delete_collection`")
    engine, _ = await service.collection(backend, name)
    compiled = parse_filter(dict(where) if where is not None else None)
    with anyio.CancelScope(shield=True):
        deleted = await engine.delete(name, list(ids) if ids is not None else None, compiled)
    return engine, deleted


async def reembed_collection(
    service: VectorService,
    backend: str | None,
    name: str,
    embedder: str | None,
    *,
    progress: Progress = no_progress,
) -> ReembedResult:
    """Move ``name`` to ``embedder``: every text embedded again (cancellable), then the collection rewritten.

    The rewrite (drop, create with the new record, write every batch) is shielded: once it starts
    it finishes, so the collection is never left half-migrated by a cancellation.
    """
    engine, record = await service.collection(backend, name)
    chosen = service.embedders.get(embedder)
    await chosen.warm()
    docs: list[StoredDocument] = []
    async for batch in engine.scan(name):
        docs.extend(batch)
        if len(docs) > service.settings.keyword_index_max_documents:
            raise VectorError(
                "collection_too_large",
                f"collection {name!r} holds more than {service.settings.keyword_index_max_documents} documents "
                "(vectorstore.keyword_index_max_documents); raise it to re-embed this collection",
            )
    without = [doc.id for doc in docs if doc.text is None]
    if without:
        raise VectorError(
            "not_reembeddable", f"documents {without[:10]} have no text to embed again; nothing was changed"
        )
    total = len(docs)
    vectors: list[numpy.ndarray] = []
    step = service.settings.upsert_batch_size
    for start in range(0, total, step):
        chunk = docs[start : start + step]
        vectors.extend(await service.embed(chosen, [doc.text or "" for doc in chunk]))
        await progress(min(start + step, total), 2 * total, f"embedded {min(start + step, total)} of {total}")
    identity = chosen.identity
    previous = identity_of(record).label()
    new_record = CollectionRecord.new(
        embedder_kind=identity.kind,
        model=identity.model,
        dimension=identity.dimension,
        distance=record.distance,
        metadata_fields=record.metadata_fields,
        description=record.description,
    )
    rewritten = [replace(doc, vector=vectors[i]) for i, doc in enumerate(docs)]
    with anyio.CancelScope(shield=True):
        await engine.delete_collection(name)
        await engine.create_collection(name, new_record)
        for start in range(0, total, step):
            await engine.upsert(name, rewritten[start : start + step])
            done = min(start + step, total)
            await progress(total + done, 2 * total, f"wrote {done} of {total}")
    return ReembedResult(
        backend=engine.name, collection=name, documents=total, previous_embedder=previous, embedder=identity.label()
    )
