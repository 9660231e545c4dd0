"""The vectorstore server's result models: every tool answers with one of these (structured output)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MetadataValue = str | int | float | bool
Metadata = dict[str, MetadataValue]
StoppedBy = Literal["max_rows", "max_bytes"] | None


class CollectionRef(BaseModel):
    backend: str
    name: str
    uri: str = Field(description="the collection's resource, vector://<backend>/<name>")


class CollectionList(BaseModel):
    collections: list[CollectionRef]
    backends: list[str] = Field(description="the configured backends")
    next_cursor: str | None = None


class CollectionInfo(BaseModel):
    backend: str
    name: str
    uri: str
    count: int
    embedder: str = Field(description="the pinned embedder: kind:model (dimension)")
    embedder_kind: str
    model: str
    dimension: int
    distance: Literal["cosine", "l2", "ip"]
    metadata_fields: list[str]
    description: str
    created_at: str
    revision: str
    served_by: str | None = Field(description="the configured embedder that matches the pinned one, if any")
    index_settings: dict[str, str | int | float] = Field(default_factory=dict)


class CollectionCreated(BaseModel):
    collection: CollectionInfo


class CollectionDeleted(BaseModel):
    backend: str
    name: str
    deleted: bool
    documents: int = Field(description="documents the collection held")
    reason: str | None = Field(default=None, description="why nothing was deleted, when nothing was")


class Document(BaseModel):
    id: str
    text: str | None
    text_truncated: bool = False
    metadata: Metadata = Field(default_factory=dict)


class DocumentPage(BaseModel):
    backend: str
    collection: str
    documents: list[Document]
    next_cursor: str | None = None
    stopped_by: StoppedBy = None
    missing_ids: list[str] = Field(default_factory=list, description="asked ids the collection does not hold")


class DocumentCount(BaseModel):
    backend: str
    collection: str
    count: int
    filtered: bool


class QueryHit(Document):
    score: float = Field(description="higher is closer: the engine's similarity (dense), BM25 (keyword), RRF (hybrid)")


class QueryResult(BaseModel):
    backend: str
    collection: str
    mode: Literal["dense", "keyword", "hybrid"]
    mmr: bool
    embedder: str | None = Field(description="the embedder of the query vector (dense and hybrid)")
    hits: list[QueryHit]
    stopped_by: StoppedBy = None


class WriteResult(BaseModel):
    backend: str
    collection: str
    ids: list[str] = Field(description="the ids written (the first max_ids of them)")
    written: int
    batches: int
    ids_truncated: bool = False


class IngestResult(WriteResult):
    chunks: int
    sources: list[str]
    skipped: list[str] = Field(default_factory=list, description="files not ingested, each with the reason")


class DeleteResult(BaseModel):
    backend: str
    collection: str
    deleted: int


class ReembedResult(BaseModel):
    backend: str
    collection: str
    documents: int
    previous_embedder: str
    embedder: str
