"""The tantivy backend: one on-disk index per search index under the backend's directory.

Each index lives in ``<path>/<index>/``: ``schema.json`` (the :class:`IndexSchema` it was made
with) and ``tantivy/`` (the engine's files). Writes take tantivy's writer lock for one call and
release it once the commit and the merges it started are done, so processes sharing the directory
write in turn and a call that finds it
taken is answered ``index_locked``; readers reload after each commit. Everything blocking runs in a
worker thread.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import tantivy
from tantivy import Occur, Order, Query

from servers.search.backends.base import (
    ExplainStep,
    Explanation,
    FacetCount,
    Hit,
    IndexStats,
    SearchBackend,
    SearchOutcome,
)
from servers.search.backends.settings import BackendSettings
from servers.search.backends.tantivy.analysis import analyzer_of, build_schema, tokenizer_name
from servers.search.backends.tantivy.compile import compile_plan
from servers.search.errors import SearchError, unknown_index, unsupported_query
from servers.search.request import PagePlan, QueryPlan
from servers.search.schema import IndexSchema, json_value

T = TypeVar("T")
SCHEMA_FILE = "schema.json"
ENGINE_DIR = "tantivy"
MAX_EXPLAIN_STEPS = 40
FACET_OVERFETCH = 4
SUGGEST_SAMPLE = 50
WRITER_THREADS = max(1, min(2, os.cpu_count() or 1))
_WORD = re.compile(r"\w+")


@dataclass
class _Open:
    schema: IndexSchema
    engine_schema: tantivy.Schema
    index: tantivy.Index
    analyzer: tantivy.TextAnalyzer
    lock: anyio.Lock


def _total(result: tantivy.SearchResult) -> int:
    # The package's type stubs leave out ``count``, which the engine sets when asked for (count=True).
    return int(getattr(result, "count", 0) or 0)


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else values


class TantivyBackend(SearchBackend):
    kind = "tantivy"

    def __init__(self, name: str, settings: BackendSettings, data_dir: Path) -> None:
        super().__init__(name)
        self.settings = settings
        self.root = settings.embedded_path(name, data_dir)
        self._open: dict[str, _Open] = {}

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(call, *args)

    async def open(self) -> None:
        await self._run(lambda: self.root.mkdir(parents=True, exist_ok=True))

    async def close(self) -> None:
        self._open.clear()

    async def ping(self) -> str:
        indexes = await self.list_indexes()
        return f"tantivy at {self.root} ({len(indexes)} indexes)"

    async def list_indexes(self) -> list[str]:
        def scan() -> list[str]:
            if not self.root.is_dir():
                return []
            return sorted(p.name for p in self.root.iterdir() if (p / SCHEMA_FILE).is_file())

        return await self._run(scan)

    def _load(self, index: str, schema: IndexSchema) -> _Open:
        engine_schema = build_schema(schema)
        engine = tantivy.Index(engine_schema, path=str(self.root / index / ENGINE_DIR), reuse=True)
        analyzer = analyzer_of(schema)
        engine.register_tokenizer(tokenizer_name(schema), analyzer)
        return _Open(schema, engine_schema, engine, analyzer_of(schema), anyio.Lock())

    async def _index(self, index: str) -> _Open:
        found = self._open.get(index)
        if found is not None:
            return found

        def load() -> _Open:
            spec = self.root / index / SCHEMA_FILE
            try:
                schema = IndexSchema.model_validate_json(spec.read_text("utf-8"))
            except FileNotFoundError:
                raise unknown_index(self.name, index) from None
            return self._load(index, schema)

        opened = await self._run(load)
        return self._open.setdefault(index, opened)

    async def create_index(self, index: str, schema: IndexSchema) -> None:
        def create() -> _Open:
            folder = self.root / index
            if (folder / SCHEMA_FILE).exists():
                raise SearchError("index_exists", f"backend {self.name!r} has an index {index!r} already")
            (folder / ENGINE_DIR).mkdir(parents=True, exist_ok=True)
            opened = self._load(index, schema)
            (folder / SCHEMA_FILE).write_text(schema.model_dump_json(), "utf-8")
            return opened

        self._open[index] = await self._run(create)

    async def schema_of(self, index: str) -> IndexSchema:
        return (await self._index(index)).schema

    async def delete_index(self, index: str) -> int:
        opened = await self._index(index)
        async with opened.lock:
            held = await self._run(lambda: opened.index.searcher().num_docs)
            self._open.pop(index, None)
            await self._run(shutil.rmtree, self.root / index)
        return held

    async def stats(self, index: str) -> IndexStats:
        opened = await self._index(index)

        def measure() -> IndexStats:
            folder = self.root / index
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            return IndexStats(opened.index.searcher().num_docs, size, str(folder))

        return await self._run(measure)

    def _writer(self, opened: _Open) -> tantivy.IndexWriter:
        try:
            return opened.index.writer(heap_size=self.settings.writer_heap_bytes, num_threads=WRITER_THREADS)
        except ValueError as exc:
            if "lock" in str(exc).lower():
                raise SearchError(
                    "index_locked",
                    "another process is writing this tantivy index; retry shortly, or give each replica its own "
                    "data directory (or use the postgres backend, which replicas share)",
                ) from None
            raise

    async def upsert(self, index: str, schema: IndexSchema, documents: list[tuple[str, dict[str, Any]]]) -> int:
        opened = await self._index(index)

        def write() -> int:
            writer = self._writer(opened)
            try:
                for doc_id, fields in documents:
                    writer.delete_documents_by_term("_id", doc_id)
                    writer.add_document(tantivy.Document(_id=doc_id, **fields))
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            # The writer lives for one call: let the merges its commit started finish, or every call
            # would leave a segment behind and queries would slow with each write.
            writer.wait_merging_threads()
            opened.index.reload()
            return len(documents)

        async with opened.lock:
            return await self._run(write)

    def _id_query(self, opened: _Open, ids: list[str]) -> Query:
        if len(ids) == 1:
            return Query.term_query(opened.engine_schema, "_id", ids[0])
        return Query.term_set_query(opened.engine_schema, "_id", ids)

    async def delete(self, index: str, ids: list[str]) -> int:
        opened = await self._index(index)

        def remove() -> int:
            present = _total(opened.index.searcher().search(self._id_query(opened, ids), 1, count=True))
            if present == 0:
                return 0
            writer = self._writer(opened)
            try:
                for doc_id in ids:
                    writer.delete_documents_by_term("_id", doc_id)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            writer.wait_merging_threads()
            opened.index.reload()
            return int(present)

        async with opened.lock:
            return await self._run(remove)

    async def fetch(self, index: str, ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        opened = await self._index(index)

        def read() -> dict[str, dict[str, Any]]:
            searcher = opened.index.searcher()
            found = searcher.search(self._id_query(opened, ids), len(ids), count=False).hits
            out: dict[str, dict[str, Any]] = {}
            for _, address in found:
                stored = searcher.doc(address).to_dict()
                out[_first(stored["_id"])] = {f: json_value(_first(stored[f])) for f in fields if f in stored}
            return out

        return await self._run(read)

    async def search(self, index: str, schema: IndexSchema, query: QueryPlan, page: PagePlan) -> SearchOutcome:
        opened = await self._index(index)
        if len(page.sort) > 1:
            raise unsupported_query(self.name, "a sort on more than one field", "sort by one field (or by _score)")
        compiled = compile_plan(opened.engine_schema, opened.analyzer, query)
        return await self._run(self._search, opened, compiled, page)

    def _search(self, opened: _Open, compiled: Query, page: PagePlan) -> SearchOutcome:
        searcher = opened.index.searcher()
        if page.sort and page.sort[0][0] != "_score":
            field, order = page.sort[0]
            found = searcher.search(
                compiled,
                page.limit,
                count=True,
                order_by_field=field,
                offset=page.offset,
                order=Order.Asc if order == "asc" else Order.Desc,
            )
            sorted_by_field = True
        else:
            found = searcher.search(compiled, page.limit, count=True, offset=page.offset)
            sorted_by_field = False
        generators = {
            name: tantivy.SnippetGenerator.create(searcher, compiled, opened.engine_schema, name)
            for name in page.highlight
        }
        for generator in generators.values():
            generator.set_max_num_chars(page.snippet_chars)
        hits: list[Hit] = []
        for key, address in found.hits:
            stored = searcher.doc(address)
            values = stored.to_dict()
            hit = Hit(
                id=_first(values["_id"]),
                score=None if sorted_by_field else float(key),
                sort_values=[json_value(_first(values.get(page.sort[0][0])))] if sorted_by_field else [],
                fields={f: json_value(_first(values[f])) for f in page.return_fields if f in values},
            )
            for name, generator in generators.items():
                snippet = generator.snippet_from_doc(stored)
                if snippet.highlighted():
                    hit.snippets[name] = [snippet.to_html()]
            hits.append(hit)
        facets: dict[str, list[FacetCount]] = {}
        if page.facets:
            spec = {
                name: {"terms": {"field": name, "size": page.facet_size * FACET_OVERFETCH + 10}} for name in page.facets
            }
            answer = searcher.aggregate(compiled, spec)
            for name in page.facets:
                buckets = [FacetCount(str(b["key"]), int(b["doc_count"])) for b in answer[name]["buckets"]]
                buckets.sort(key=lambda b: (-b.count, b.value))
                facets[name] = buckets[: page.facet_size]
        return SearchOutcome(total=_total(found), hits=hits, facets=facets)

    async def count(self, index: str, schema: IndexSchema, query: QueryPlan) -> int:
        opened = await self._index(index)
        compiled = compile_plan(opened.engine_schema, opened.analyzer, query)
        return await self._run(lambda: _total(opened.index.searcher().search(compiled, 1, count=True)))

    async def explain(self, index: str, schema: IndexSchema, query: QueryPlan, doc_id: str) -> Explanation:
        opened = await self._index(index)
        compiled = compile_plan(opened.engine_schema, opened.analyzer, query)

        def why() -> Explanation:
            searcher = opened.index.searcher()
            own = self._id_query(opened, [doc_id])
            located = searcher.search(own, 1).hits
            if not located:
                return Explanation(found=False, matched=False, score=None)
            both = Query.boolean_query([(Occur.Must, compiled), (Occur.Must, Query.const_score_query(own, 0.0))])
            matched = searcher.search(both, 1).hits
            if not matched:
                return Explanation(found=True, matched=False, score=None)
            tree = json.loads(compiled.explain(searcher, located[0][1]).to_json())
            steps: list[ExplainStep] = []
            _flatten(tree, 0, steps)
            return Explanation(found=True, matched=True, score=float(matched[0][0]), steps=steps)

        return await self._run(why)

    async def vocabulary(self, index: str, schema: IndexSchema, word: str, field: str) -> list[tuple[str, int]]:
        opened = await self._index(index)

        def near() -> list[tuple[str, int]]:
            # The term dictionary holds stems; the words of the stored text of documents that match the
            # word fuzzily are what a person types, so those are the candidates (counted per document).
            searcher = opened.index.searcher()
            tokens = [str(t) for t in opened.analyzer.analyze(word)] or [word.lower()]
            fuzzy = Query.fuzzy_term_query(opened.engine_schema, field, tokens[0], distance=2)
            counts: dict[str, int] = {}
            for _, address in searcher.search(fuzzy, SUGGEST_SAMPLE).hits:
                stored = searcher.doc(address).to_dict().get(field) or []
                for surface in {w.lower() for text in stored for w in _WORD.findall(str(text))}:
                    counts[surface] = counts.get(surface, 0) + 1
            return sorted(counts.items(), key=lambda item: -item[1])

        return await self._run(near)


def _flatten(node: dict[str, Any], depth: int, steps: list[ExplainStep]) -> None:
    if len(steps) >= MAX_EXPLAIN_STEPS:
        return
    steps.append(ExplainStep(str(node.get("description", "")), float(node.get("value", 0.0)), depth))
    for child in node.get("details", []) or []:
        _flatten(child, depth + 1, steps)
