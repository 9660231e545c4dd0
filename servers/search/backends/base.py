"""What every search backend does: one interface, compiled per engine in its own subpackage.

A backend keeps named indexes, each with its :class:`~servers.search.schema.IndexSchema`; it
upserts and deletes documents by id and answers a checked :class:`~servers.search.request.QueryPlan`
with hits (id, score or sort values, the fields asked for, highlighted snippets), a total count and
facet counts. Anything it cannot run is an ``unsupported_query`` error naming what to change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from servers.search.request import PagePlan, QueryPlan
from servers.search.schema import IndexSchema


@dataclass
class Hit:
    id: str
    score: float | None
    sort_values: list[Any] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    snippets: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class FacetCount:
    value: str
    count: int


@dataclass
class SearchOutcome:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)


@dataclass
class ExplainStep:
    description: str
    value: float
    depth: int = 0


@dataclass
class Explanation:
    found: bool
    matched: bool
    score: float | None
    steps: list[ExplainStep] = field(default_factory=list)


@dataclass
class IndexStats:
    documents: int
    size_bytes: int | None
    location: str


class SearchBackend(ABC):
    """One configured engine. ``open()`` before use, ``close()`` after; methods raise ``SearchError``s."""

    kind: str

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> str:
        """A one-line description of the engine as it answered (no secret in it)."""

    @abstractmethod
    async def list_indexes(self) -> list[str]: ...

    @abstractmethod
    async def create_index(self, index: str, schema: IndexSchema) -> None:
        """Raises ``index_exists`` when ``index`` is there already."""

    @abstractmethod
    async def schema_of(self, index: str) -> IndexSchema:
        """Raises ``unknown_index``."""

    @abstractmethod
    async def delete_index(self, index: str) -> int:
        """Delete ``index``; the number of documents it held."""

    @abstractmethod
    async def stats(self, index: str) -> IndexStats: ...

    @abstractmethod
    async def upsert(self, index: str, schema: IndexSchema, documents: list[tuple[str, dict[str, Any]]]) -> int:
        """Write ``(id, fields)`` pairs (fields already normalised), replacing documents of the same id."""

    @abstractmethod
    async def delete(self, index: str, ids: list[str]) -> int:
        """Delete the documents of ``ids``; how many there were."""

    @abstractmethod
    async def fetch(self, index: str, ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        """The stored ``fields`` of the documents of ``ids`` that exist."""

    @abstractmethod
    async def search(self, index: str, schema: IndexSchema, query: QueryPlan, page: PagePlan) -> SearchOutcome: ...

    @abstractmethod
    async def count(self, index: str, schema: IndexSchema, query: QueryPlan) -> int: ...

    @abstractmethod
    async def explain(self, index: str, schema: IndexSchema, query: QueryPlan, doc_id: str) -> Explanation: ...

    @abstractmethod
    async def vocabulary(self, index: str, schema: IndexSchema, word: str, field: str) -> list[tuple[str, int]]:
        """Words of ``field`` near ``word`` (its neighbours in spelling) with their document counts."""
