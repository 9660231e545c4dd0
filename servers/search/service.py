"""The search service: named backends, the index allow-list, and every tool's work apart from MCP.

Tools (:mod:`.tools_read`, :mod:`.tools_write`) only translate arguments; what is allowed, how a
query is checked, how a page is cut to its budget and paged by cursor lives here, once.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel

from servers.kit.budgets import OutputBudget, capped, json_size
from servers.kit.cursors import fingerprint, offset_cursor, offset_of
from servers.search.backends import SearchBackend, open_backend
from servers.search.errors import SearchError, invalid_query, unknown_backend
from servers.search.models import (
    CountResult,
    ExplainLine,
    ExplainResult,
    FacetValue,
    IndexInfo,
    IndexList,
    IndexRef,
    IndexWrite,
    SearchHit,
    SearchResult,
)
from servers.search.request import FilterClause, PagePlan, QueryPlan, SortKey, plan_query, plan_sort
from servers.search.schema import IndexSchema, check_index_name, normalise_document
from servers.search.settings import SearchSettings

Progress = Callable[[float, float | None, str], Awaitable[None]]
Operator = Literal["and", "or"]
CUT = "…"


def uri_of(backend: str, index: str) -> str:
    return f"search://{backend}/{index}"


async def no_progress(done: float, total: float | None, message: str) -> None:
    return None


def _approximate_bytes(fields: dict[str, Any]) -> int:
    """About the JSON size of a document's fields (its strings' characters, a little per value), without encoding it."""
    return sum(len(k) + (len(v) if isinstance(v, str) else 24) + 6 for k, v in fields.items())


def _json_bytes(hit: SearchHit) -> int:
    """Bytes of ``hit`` as compact UTF-8 JSON, from pydantic's own encoder (no Python dict on the way)."""
    return len(SearchHit.__pydantic_serializer__.to_json(hit))


def cut_value(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + CUT
    return value


class SearchService:
    def __init__(self, settings: SearchSettings, data_dir: Path) -> None:
        self.settings = settings
        self.backends: dict[str, SearchBackend] = {
            name: open_backend(name, spec, data_dir) for name, spec in settings.backends.items()
        }
        self._opened: set[str] = set()
        self._lock = anyio.Lock()

    async def backend(self, name: str | None) -> SearchBackend:
        chosen = name or self.settings.backend_default
        engine = self.backends.get(chosen)
        if engine is None:
            raise unknown_backend(chosen, sorted(self.backends))
        if chosen not in self._opened:
            async with self._lock:
                if chosen not in self._opened:
                    # Shielded: a pool half made when a caller gives up would outlive the service unclosed.
                    with anyio.CancelScope(shield=True):
                        await engine.open()
                    self._opened.add(chosen)
        return engine

    async def warm_up(self) -> None:
        for name in sorted(self.backends):
            try:
                await self.backend(name)
            except SearchError:
                continue  # readiness reports an unreachable backend; a call to it gets the error

    async def close_backends(self) -> None:
        for name in sorted(self._opened):
            await self.backends[name].close()
        self._opened.clear()

    def allowed(self, index: str) -> bool:
        patterns = self.settings.allowed_indexes
        return not patterns or any(fnmatch.fnmatchcase(index, p) for p in patterns)

    def check_allowed(self, index: str) -> str:
        check_index_name(index)
        if not self.allowed(index):
            raise SearchError(
                "index_not_allowed",
                f"the index {index!r} is outside the operator's search.allowed_indexes "
                f"({', '.join(self.settings.allowed_indexes)}); use an index those globs name",
            )
        return index

    async def target(self, backend: str | None, index: str) -> tuple[SearchBackend, IndexSchema]:
        self.check_allowed(index)
        engine = await self.backend(backend)
        return engine, await engine.schema_of(index)

    async def list_indexes(self, backend: str | None, cursor: str | None, limit: int) -> IndexList:
        names = [backend] if backend else sorted(self.backends)
        refs: list[IndexRef] = []
        for name in names:
            engine = await self.backend(name)
            refs.extend(
                IndexRef(backend=engine.name, name=i, uri=uri_of(engine.name, i))
                for i in await engine.list_indexes()
                if self.allowed(i)
            )
        query = fingerprint("list_indexes", backend)
        start = offset_of(cursor, query)
        page = refs[start : start + limit]
        more = start + limit < len(refs)
        return IndexList(
            indexes=page,
            backends=sorted(self.backends),
            next_cursor=offset_cursor(start + limit, query) if more else None,
        )

    async def create_index(self, backend: str | None, index: str, schema: IndexSchema) -> IndexInfo:
        self.check_allowed(index)
        engine = await self.backend(backend)
        await engine.create_index(index, schema)
        return await self.describe(engine.name, index)

    async def describe(self, backend: str | None, index: str) -> IndexInfo:
        engine, schema = await self.target(backend, index)
        stats = await engine.stats(index)
        return IndexInfo(
            backend=engine.name,
            backend_kind=engine.kind,
            name=index,
            uri=uri_of(engine.name, index),
            fields=schema.fields,
            language=schema.language,
            stemming=schema.stems,
            documents=stats.documents,
            size_bytes=stats.size_bytes,
            location=stats.location,
        )

    async def index_documents(
        self,
        backend: str | None,
        index: str,
        documents: list[tuple[str, dict[str, Any]]],
        progress: Progress = no_progress,
    ) -> IndexWrite:
        """Upsert ``(id, fields)`` pairs in batches, reporting progress; cancellation stops between batches.

        Raises:
            SearchError: ``unknown_index``, ``index_not_allowed``, ``invalid_document`` (before anything is written).
        """
        engine, schema = await self.target(backend, index)
        limit = self.settings.max_documents_per_call
        if len(documents) > limit:
            raise SearchError(
                "too_many_documents",
                f"{len(documents)} documents in one call; send at most {limit} (search.max_documents_per_call)",
            )
        clean = []
        for position, (doc_id, fields) in enumerate(documents):
            where = f"documents[{position}]"
            if _approximate_bytes(fields) > self.settings.max_document_bytes:
                raise SearchError(
                    "document_too_large",
                    f"{where} is over {self.settings.max_document_bytes} bytes (search.max_document_bytes): split it",
                )
            clean.append((doc_id, normalise_document(schema, fields, where)))
        size = self.settings.batch_size
        batches = 0
        for start in range(0, len(clean), size):
            await anyio.lowlevel.checkpoint()
            await engine.upsert(index, schema, clean[start : start + size])
            batches += 1
            done = min(start + size, len(clean))
            await progress(done, len(clean), f"{done} of {len(clean)} documents written")
        return IndexWrite(backend=engine.name, index=index, written=len(clean), batches=batches)

    def plan(
        self,
        schema: IndexSchema,
        text: str | None,
        fields: list[str] | None,
        filters: list[FilterClause] | None,
        operator: Operator,
    ) -> QueryPlan:
        return plan_query(schema, text, fields, filters, operator)

    async def search(
        self,
        backend: str | None,
        index: str,
        *,
        text: str | None,
        fields: list[str] | None,
        filters: list[FilterClause] | None,
        operator: Operator,
        sort: list[SortKey] | None,
        return_fields: list[str] | None,
        highlight: list[str] | None,
        snippet_chars: int | None,
        facets: list[str] | None,
        facet_size: int,
        limit: int | None,
        cursor: str | None,
    ) -> SearchResult:
        engine, schema = await self.target(backend, index)
        query = self.plan(schema, text, fields, filters, operator)
        for name in return_fields or []:
            schema.require(name, ("text", "keyword", "number", "date"), "return_fields")
        shown = tuple(highlight) if highlight is not None else query.fields
        for name in shown:
            schema.require(name, ("text",), "highlight")
        for name in facets or []:
            schema.require(name, ("keyword",), "facets")
        key = fingerprint(
            "search",
            engine.name,
            index,
            text,
            fields,
            [f.model_dump() for f in filters or []],
            operator,
            [s.model_dump() for s in sort or []],
            return_fields,
            highlight,
            snippet_chars,
            facets,
            facet_size,
            limit,
        )
        offset = offset_of(cursor, key)
        if offset > self.settings.max_offset:
            raise invalid_query(
                f"paging deeper than {self.settings.max_offset} hits: narrow the query with filters instead"
            )
        size = capped(limit, 10, self.settings.max_page_size)
        page = PagePlan(
            sort=plan_sort(schema, sort),
            offset=offset,
            limit=size,
            return_fields=tuple(return_fields or ()),
            highlight=shown if query.text is not None else (),
            snippet_chars=capped(snippet_chars, 200, self.settings.max_snippet_chars),
            facets=tuple(facets or ()) if offset == 0 else (),
            facet_size=min(facet_size, self.settings.max_facet_values),
        )
        outcome = await engine.search(index, schema, query, page)
        budget = OutputBudget(max_items=size, max_bytes=self.settings.max_result_bytes)
        facet_values = {n: [FacetValue(value=v.value, count=v.count) for v in c] for n, c in outcome.facets.items()}
        budget.used += json_size({n: [v.model_dump() for v in c] for n, c in facet_values.items()})
        hits: list[SearchHit] = []
        for found in outcome.hits:
            hit = SearchHit(
                id=found.id,
                score=found.score,
                sort_values=found.sort_values,
                fields={k: cut_value(v, self.settings.max_field_chars) for k, v in found.fields.items()},
                snippets=found.snippets,
            )
            if not budget.admit(_json_bytes(hit)) and hits:
                break
            hits.append(hit)
        following = offset + len(hits)
        more = following < outcome.total and len(hits) > 0 and following <= self.settings.max_offset
        return SearchResult(
            backend=engine.name,
            index=index,
            total=outcome.total,
            hits=hits,
            facets=facet_values,
            next_cursor=offset_cursor(following, key) if more else None,
            stopped_by=budget.stopped if budget.stopped == "max_bytes" else None,
        )

    async def count(
        self,
        backend: str | None,
        index: str,
        text: str | None,
        fields: list[str] | None,
        filters: list[FilterClause] | None,
        operator: Operator,
    ) -> CountResult:
        engine, schema = await self.target(backend, index)
        query = self.plan(schema, text, fields, filters, operator)
        return CountResult(backend=engine.name, index=index, count=await engine.count(index, schema, query))

    async def explain(
        self,
        backend: str | None,
        index: str,
        doc_id: str,
        text: str | None,
        fields: list[str] | None,
        filters: list[FilterClause] | None,
        operator: Operator,
    ) -> ExplainResult:
        engine, schema = await self.target(backend, index)
        query = self.plan(schema, text, fields, filters, operator)
        why = await engine.explain(index, schema, query, doc_id)
        return ExplainResult(
            backend=engine.name,
            index=index,
            id=doc_id,
            found=why.found,
            matched=why.matched,
            score=why.score,
            explanation=[ExplainLine(depth=s.depth, value=s.value, description=s.description) for s in why.steps],
        )

    async def delete_index(self, backend: str | None, index: str) -> tuple[SearchBackend, int]:
        engine, _ = await self.target(backend, index)
        return engine, await engine.delete_index(index)

    async def delete_documents(self, backend: str | None, index: str, ids: list[str]) -> tuple[SearchBackend, int]:
        engine, _ = await self.target(backend, index)
        return engine, await engine.delete(index, ids)
