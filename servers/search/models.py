"""The search server's result models: every tool answers with one of these (structured output)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from servers.search.schema import FieldSpec, Language

StoppedBy = Literal["max_rows", "max_bytes"] | None


class IndexRef(BaseModel):
    backend: str
    name: str
    uri: str = Field(description="the index's resource, search://<backend>/<name>")


class IndexList(BaseModel):
    indexes: list[IndexRef]
    backends: list[str] = Field(description="the configured backends")
    next_cursor: str | None = None


class IndexInfo(BaseModel):
    backend: str
    backend_kind: str
    name: str
    uri: str
    fields: list[FieldSpec]
    language: Language
    stemming: bool
    documents: int
    size_bytes: int | None = Field(description="bytes on disk (tantivy) or of the table and its indexes (postgres)")
    location: str


class IndexDeleted(BaseModel):
    backend: str
    name: str
    deleted: bool
    documents: int = Field(description="documents the index held")
    reason: str | None = Field(default=None, description="why nothing was deleted, when nothing was")


class IndexWrite(BaseModel):
    backend: str
    index: str
    written: int
    batches: int


class DocumentsDeleted(BaseModel):
    backend: str
    index: str
    deleted: int = Field(description="documents that existed and are gone")


class SearchHit(BaseModel):
    id: str
    score: float | None = Field(description="relevance (the backend's own scale); null when sorted by a field")
    sort_values: list[Any] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict, description="the fields asked for, long values cut")
    snippets: dict[str, list[str]] = Field(default_factory=dict, description="matched terms in <b>…</b>")


class FacetValue(BaseModel):
    value: str
    count: int


class SearchResult(BaseModel):
    backend: str
    index: str
    total: int = Field(description="every document the query matches")
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    next_cursor: str | None = None
    stopped_by: StoppedBy = Field(default=None, description="which budget cut this page short, if one did")


class CountResult(BaseModel):
    backend: str
    index: str
    count: int


class ExplainLine(BaseModel):
    depth: int
    value: float
    description: str


class ExplainResult(BaseModel):
    backend: str
    index: str
    id: str
    found: bool = Field(description="whether the index holds a document of this id")
    matched: bool = Field(description="whether the query matches it")
    score: float | None
    explanation: list[ExplainLine] = Field(default_factory=list, description="how the score was made, as a tree")


class Correction(BaseModel):
    word: str
    suggestions: list[str]


class SuggestResult(BaseModel):
    backend: str
    index: str
    matched: int = Field(description="documents the query as given matches")
    corrections: list[Correction] = Field(default_factory=list, description="for words that match nothing")
    suggested_query: str | None = Field(default=None, description="the query with the best spelling of each word")
    suggested_matches: int | None = None


class DirectoryIndexed(BaseModel):
    backend: str
    index: str
    files_seen: int
    indexed: int = Field(description="new or changed files written")
    unchanged: int = Field(description="files the index already held as they are")
    removed: int = Field(description="files gone from the directory, deleted from the index")
    skipped: list[str] = Field(default_factory=list, description="files passed over and why (first ones)")
    skipped_total: int = 0
