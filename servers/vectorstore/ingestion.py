"""Ingestion: texts cut into overlapping chunks with their source, and text files under the operator's roots.

Every chunk carries ``source``, ``chunk`` (its index) and ``start`` / ``end`` (character offsets in
the source text) in its metadata, and an id hashed from source and chunk text: ingesting the same
source again rewrites the same documents. Files are found through :mod:`.ingest_files` (the kit's
path policy: the operator's ``vectorstore.ingest_roots`` and deny globs), read as UTF-8; a file
that is not text, too large or unreadable is skipped and reported, not fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from servers.kit.embedders.base import Embedder
from servers.vectorstore.backends import StoredDocument, VectorBackend
from servers.vectorstore.chunking import chunk_text, content_id
from servers.vectorstore.errors import VectorError
from servers.vectorstore.models import IngestResult, Metadata
from servers.vectorstore.service import Progress, VectorService, no_progress
from servers.vectorstore.writes import MAX_IDS_SHOWN, write_batches

SOURCE_KEYS = ("source", "chunk", "start", "end")


@dataclass(frozen=True)
class Chunking:
    size: int = 1000
    overlap: int = 150


@dataclass(frozen=True)
class SourceText:
    source: str
    text: str


def chunk_documents(sources: Sequence[SourceText], chunking: Chunking, metadata: Metadata) -> list[StoredDocument]:
    """The chunks of every source as documents with source metadata and content-hash ids."""
    docs: list[StoredDocument] = []
    for item in sources:
        for index, chunk in enumerate(chunk_text(item.text, chunking.size, chunking.overlap)):
            meta: Metadata = {**metadata, "source": item.source, "chunk": index, "start": chunk.start, "end": chunk.end}
            docs.append(StoredDocument(id=content_id(item.source, chunk.text), text=chunk.text, metadata=meta))
    return docs


def check_metadata(metadata: Metadata) -> None:
    taken = sorted(set(metadata) & set(SOURCE_KEYS))
    if taken:
        raise VectorError(
            "invalid_metadata",
            f"metadata keys {taken} are set by ingestion itself (source, chunk, start, end); rename them",
        )


async def ingest(
    service: VectorService,
    backend: str | None,
    name: str,
    sources: Sequence[SourceText],
    *,
    chunking: Chunking,
    metadata: Metadata,
    embedder: str | None = None,
    progress: Progress = no_progress,
    skipped: Sequence[str] = (),
) -> IngestResult:
    """Chunk ``sources`` and write the chunks in batches (see :func:`.writes.write_batches`)."""
    check_metadata(metadata)
    if chunking.overlap >= chunking.size:
        raise VectorError("invalid_arguments", "overlap must be smaller than chunk_size")
    total_bytes = sum(len(item.text.encode("utf-8")) for item in sources)
    if total_bytes > service.settings.max_ingest_bytes:
        raise VectorError(
            "text_too_large",
            f"{total_bytes} bytes to ingest; at most {service.settings.max_ingest_bytes} in one call "
            "(vectorstore.max_ingest_bytes): ingest in several calls",
        )
    engine, record = await service.collection(backend, name)
    _, chosen = await service.embedder_for(name, record, embedder)
    docs = chunk_documents(sources, chunking, metadata)
    batches = await write_batches(service, engine, name, chosen, docs, progress) if docs else 0
    return ingest_result(engine, name, docs, batches, [item.source for item in sources], skipped)


def ingest_result(
    engine: VectorBackend,
    name: str,
    docs: Sequence[StoredDocument],
    batches: int,
    sources: Sequence[str],
    skipped: Sequence[str],
) -> IngestResult:
    ids = list(dict.fromkeys(doc.id for doc in docs))
    return IngestResult(
        backend=engine.name,
        collection=name,
        ids=ids[:MAX_IDS_SHOWN],
        written=len(ids),
        batches=batches,
        ids_truncated=len(ids) > MAX_IDS_SHOWN,
        chunks=len(docs),
        sources=list(sources)[:MAX_IDS_SHOWN],
        skipped=list(skipped)[:MAX_IDS_SHOWN],
    )


__all__ = ["Chunking", "Embedder", "SourceText", "chunk_documents", "ingest"]
