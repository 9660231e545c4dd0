"""The search bench's server process and the engines' own APIs called directly.

The corpus and the queries are :mod:`suite.bench.search_corpus`'s. :class:`DirectTantivy` opens the
server's on-disk index read-only in this process and runs a query as the server does (parse, top 10, a snippet per hit); :class:`DirectPostgres` runs the
server's statement for the same query with asyncpg. :func:`search_server` runs ``mcp-suite serve
search --transport http`` with a config file.
"""

# The one statement here names a table the bench made itself; the query text is a bind parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import asyncpg  # type: ignore[import-untyped]
import tantivy

from servers.search.backends.tantivy.analysis import analyzer_of, tokenizer_name
from servers.search.schema import IndexSchema
from suite.bench.processes import served_over_http

READY_SECONDS = 120.0


class DirectTantivy:
    """The server's tantivy index, opened by this process for reading, queried with tantivy's own API."""

    def __init__(self, directory: Path) -> None:
        schema = IndexSchema.model_validate_json((directory / "schema.json").read_text())
        self.index = tantivy.Index.open(str(directory / "tantivy"))
        self.index.register_tokenizer(tokenizer_name(schema), analyzer_of(schema))
        self.schema = self.index.schema

    def run(self, text: str) -> int:
        searcher = self.index.searcher()
        query = self.index.parse_query(" ".join(f"+{word}" for word in text.split()), ["title", "body"])
        found = searcher.search(query, 10)
        snippets = tantivy.SnippetGenerator.create(searcher, query, self.schema, "body")
        for _, address in found.hits:
            snippets.snippet_from_doc(searcher.doc(address)).to_html()
        return len(found.hits)

    async def query(self, text: str) -> int:
        return await anyio.to_thread.run_sync(self.run, text)


class DirectPostgres:
    """The server's PostgreSQL table, queried with the statement the server sends, through asyncpg."""

    def __init__(self, dsn: str, schema: str, index: str) -> None:
        self.dsn = dsn
        self.table = f'"{schema}"."ix_{index}"'
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=8, server_settings={"plan_cache_mode": "force_custom_plan"}
        )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def query(self, text: str) -> int:
        assert self.pool is not None
        rows = await self.pool.fetch(
            "SELECT p.id, ts_headline('english'::regconfig, coalesce(d.doc->>'body', ''), p.tsq, "
            "'StartSel=<b>, StopSel=</b>, MaxWords=28, MinWords=10, MaxFragments=1') FROM ("
            f"SELECT t.id, q.tsq, ts_rank(tsv_all, q.tsq) AS score, count(*) OVER () AS total FROM {self.table} t, "
            "(SELECT plainto_tsquery('english'::regconfig, $1) AS tsq OFFSET 0) q WHERE tsv_all @@ q.tsq "
            f"ORDER BY score DESC, t.id LIMIT 10) p JOIN {self.table} d ON d.id = p.id ORDER BY p.score DESC, p.id",
            text,
        )
        return len(rows)


@contextmanager
def search_server(tmp: Path, search: dict[str, Any]) -> Iterator[tuple[str, Path, int]]:
    """``mcp-suite serve search`` over HTTP with the ``search`` section given; yields (MCP URL, data dir, pid)."""
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "data"
    with served_over_http(tmp, "search", search, "search", READY_SECONDS, data_dir) as (url, pid):
        yield url, data_dir, pid
