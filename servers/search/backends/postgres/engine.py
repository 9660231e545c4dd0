"""The PostgreSQL backend: indexes as tables of one schema, which any number of server instances share.

Ranking is ``ts_rank`` over the searched ``tsvector``, snippets are ``ts_headline`` of the page's
rows only, facets are ``GROUP BY`` counts over the matches, and an unstable order is made stable by
the id. Statements run on an asyncpg pool with a statement timeout.
"""

# Statements are built from identifiers checked against the schema patterns (and quoted) and from
# the compiler's fragments; every value is a bind parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from servers.search.backends.base import (
    ExplainStep,
    Explanation,
    FacetCount,
    Hit,
    IndexStats,
    SearchBackend,
    SearchOutcome,
)
from servers.search.backends.postgres.compile import CompiledQuery, compile_plan
from servers.search.backends.postgres.ddl import (
    REGISTRY,
    column_of,
    config_of,
    create_statements,
    ident,
    registry_statements,
    table_of,
)
from servers.search.backends.settings import BackendSettings
from servers.search.errors import SearchError, unknown_index
from servers.search.request import PagePlan, QueryPlan
from servers.search.schema import IndexSchema, json_value

SUGGEST_SAMPLE_ROWS = 5000
ANALYZE_FRACTION = 0.2
HEADLINE = "StartSel=<b>, StopSel=</b>, MaxWords={words}, MinWords={least}, MaxFragments=1"


def _doc_value(value: Any) -> Any:
    return json_value(value) if isinstance(value, datetime) else value


class PostgresBackend(SearchBackend):
    kind = "postgres"

    def __init__(self, name: str, settings: BackendSettings) -> None:
        super().__init__(name)
        self.settings = settings
        self.schema_name = settings.schema_name
        self._pool: asyncpg.Pool | None = None
        self._schemas: dict[str, IndexSchema] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise SearchError("backend_unavailable", f"backend {self.name!r} is not open")
        return self._pool

    async def open(self) -> None:
        if self._pool is not None:
            return
        dsn = self.settings.dsn.get_secret_value() if self.settings.dsn else ""
        timeout_ms = int(self.settings.timeout_seconds * 1000)
        try:
            self._pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=self.settings.pool_size,
                timeout=self.settings.timeout_seconds,
                # A query's words decide how many rows match (a rare word, a handful; a common one, thousands),
                # so every search is planned with its own values, never with a generic plan of the statement.
                server_settings={"statement_timeout": str(timeout_ms), "plan_cache_mode": "force_custom_plan"},
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise SearchError(
                "backend_unavailable", f"backend {self.name!r} cannot connect: {type(exc).__name__}"
            ) from None
        # Two instances creating the schema at once must not both fail: serialise on an advisory lock.
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema_name)
            for statement in registry_statements(self.schema_name):
                await connection.execute(statement)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> str:
        version = await self.pool.fetchval("SHOW server_version")
        return f"postgresql {version}, schema {self.schema_name}"

    async def list_indexes(self) -> list[str]:
        rows = await self.pool.fetch(f"SELECT name FROM {ident(self.schema_name)}.{REGISTRY} ORDER BY name")
        return [row["name"] for row in rows]

    async def create_index(self, index: str, schema: IndexSchema) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            inserted = await connection.fetchval(
                f"INSERT INTO {ident(self.schema_name)}.{REGISTRY} (name, spec) VALUES ($1, $2) "
                "ON CONFLICT (name) DO NOTHING RETURNING name",
                index,
                schema.model_dump_json(),
            )
            if inserted is None:
                raise SearchError("index_exists", f"backend {self.name!r} has an index {index!r} already")
            for statement in create_statements(self.schema_name, index, schema):
                await connection.execute(statement)
        self._schemas[index] = schema

    async def schema_of(self, index: str) -> IndexSchema:
        known = self._schemas.get(index)
        if known is not None:
            return known
        spec = await self.pool.fetchval(f"SELECT spec FROM {ident(self.schema_name)}.{REGISTRY} WHERE name = $1", index)
        if spec is None:
            raise unknown_index(self.name, index)
        schema = IndexSchema.model_validate_json(spec)
        self._schemas[index] = schema
        return schema

    async def delete_index(self, index: str) -> int:
        await self.schema_of(index)
        async with self.pool.acquire() as connection, connection.transaction():
            held = await connection.fetchval(f"SELECT count(*) FROM {table_of(self.schema_name, index)}")
            await connection.execute(f"DROP TABLE IF EXISTS {table_of(self.schema_name, index)}")
            await connection.execute(f"DELETE FROM {ident(self.schema_name)}.{REGISTRY} WHERE name = $1", index)
        self._schemas.pop(index, None)
        return int(held)

    async def stats(self, index: str) -> IndexStats:
        await self.schema_of(index)
        table = table_of(self.schema_name, index)
        row = await self.pool.fetchrow(
            f"SELECT (SELECT count(*) FROM {table}) AS n, pg_total_relation_size($1::regclass) AS size", table
        )
        return IndexStats(int(row["n"]), int(row["size"]), f"table {self.schema_name}.ix_{index}")

    async def upsert(self, index: str, schema: IndexSchema, documents: list[tuple[str, dict[str, Any]]]) -> int:
        typed = [f for f in schema.fields if f.type != "text"]
        columns = ["id", "doc", *(column_of(schema, f.name) for f in typed)]
        values = ", ".join(f"${i + 1}" for i in range(len(columns)))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
        statement = (
            f"INSERT INTO {table_of(self.schema_name, index)} ({', '.join(columns)}) VALUES ({values}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )
        rows = [
            (
                doc_id,
                json.dumps({k: _doc_value(v) for k, v in fields.items()}),
                *(fields.get(f.name) for f in typed),
            )
            for doc_id, fields in documents
        ]
        async with self.pool.acquire() as connection:
            async with connection.transaction():
                await connection.executemany(statement, rows)
            await self._settle(connection, index, len(rows))
        return len(rows)

    async def _settle(self, connection: Any, index: str, written: int) -> None:
        """Fold the GIN indexes' pending lists into the indexes and refresh the planner's statistics when stale.

        A write lands in each GIN index's pending list, which every query then scans row by row until
        a vacuum merges it; merged here, in bulk, a query right after a load pays nothing for it. The
        table is analysed while it has no statistics or this write changed a fifth of it or more, so
        the plans of a table loaded a moment ago are not those of an empty one.
        """
        table = table_of(self.schema_name, index)
        try:
            await self._fold_and_analyse(connection, table, written)
        except asyncpg.InsufficientPrivilegeError:
            return  # a role that does not own the table leaves both to autovacuum; the write stands

    async def _fold_and_analyse(self, connection: Any, table: str, written: int) -> None:
        await connection.execute(
            "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = $1::regclass AND a.amname = 'gin'",
            table,
        )
        known = await connection.fetchval("SELECT reltuples FROM pg_class WHERE oid = $1::regclass", table)
        if known is None or known < 0 or written >= ANALYZE_FRACTION * known:
            await connection.execute(f"ANALYZE {table}")

    async def delete(self, index: str, ids: list[str]) -> int:
        await self.schema_of(index)
        status = await self.pool.execute(
            f"DELETE FROM {table_of(self.schema_name, index)} WHERE id = ANY($1::text[])", ids
        )
        return int(status.split()[-1])

    async def fetch(self, index: str, ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        await self.schema_of(index)
        rows = await self.pool.fetch(
            f"SELECT id, doc FROM {table_of(self.schema_name, index)} WHERE id = ANY($1::text[])", ids
        )
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            doc = json.loads(row["doc"])
            out[row["id"]] = {f: doc[f] for f in fields if f in doc}
        return out

    def _from(self, index: str, compiled: CompiledQuery) -> str:
        tsq = compiled.tsquery or "NULL::tsquery"
        # OFFSET 0 keeps the planner from folding q into the outer query: a generic plan would then
        # build the tsquery again for every matching row it ranks, not once.
        return f"FROM {table_of(self.schema_name, index)} t, (SELECT {tsq} AS tsq OFFSET 0) q WHERE {compiled.where}"

    async def search(self, index: str, schema: IndexSchema, query: QueryPlan, page: PagePlan) -> SearchOutcome:
        compiled = compile_plan(self.name, schema, query)
        source = self._from(index, compiled)
        rank = f"ts_rank({compiled.vector}, q.tsq)" if compiled.tsquery else "NULL::real"
        if page.sort and page.sort[0][0] != "_score":
            order = ", ".join(f"{column_of(schema, f)} {o.upper()} NULLS LAST" for f, o in page.sort if f != "_score")
            sort_columns = [column_of(schema, f) for f, _ in page.sort if f != "_score"]
            by_field = True
        else:
            order, sort_columns, by_field = "score DESC", [], False
        params = list(compiled.params)
        extra = "".join(f", {c} AS s{i}" for i, c in enumerate(sort_columns))
        # The total rides on the page's rows (a window over every match, before the LIMIT): one scan, not two.
        # Only ids, scores and sort keys go through the window and the sort; the page's documents are
        # joined back afterwards, so thousands of matches do not carry their jsonb through both.
        inner = (
            f"SELECT t.id, q.tsq, {rank} AS score, count(*) OVER () AS total{extra} {source} "
            f"ORDER BY {order}, t.id ASC LIMIT {int(page.limit)} OFFSET {int(page.offset)}"
        )
        outer_order = (
            ", ".join(
                f"p.s{i} {o.upper()} NULLS LAST" for i, (_, o) in enumerate(s for s in page.sort if s[0] != "_score")
            )
            if by_field
            else "p.score DESC"
        )
        config = config_of(schema)
        headline = HEADLINE.format(words=max(page.snippet_chars // 7, 6), least=max(page.snippet_chars // 20, 3))
        headlines = "".join(
            f", ts_headline('{config}'::regconfig, coalesce(d.doc->>'{name}', ''), p.tsq, '{headline}') AS h_{name}"
            for name in page.highlight
            if compiled.tsquery
        )
        statement = (
            f"SELECT p.*, d.doc{headlines} FROM ({inner}) p JOIN {table_of(self.schema_name, index)} d ON d.id = p.id "
            f"ORDER BY {outer_order}, p.id ASC"
        )
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(statement, *params)
            total = rows[0]["total"] if rows else await connection.fetchval(f"SELECT count(*) {source}", *params)
            facets = {
                name: await self._facet(connection, schema, name, source, params, page.facet_size)
                for name in page.facets
            }
        hits = []
        for row in rows:
            doc = json.loads(row["doc"])
            hit = Hit(
                id=row["id"],
                score=None if by_field else float(row["score"] or 0.0),
                sort_values=[_doc_value(row[f"s{i}"]) for i in range(len(sort_columns))] if by_field else [],
                fields={f: doc[f] for f in page.return_fields if f in doc},
            )
            for name in page.highlight:
                text = row.get(f"h_{name}") if compiled.tsquery else None
                if text and "<b>" in text:
                    hit.snippets[name] = [text]
            hits.append(hit)
        return SearchOutcome(total=int(total), hits=hits, facets=facets)

    async def _facet(
        self, connection: Any, schema: IndexSchema, name: str, source: str, params: list[Any], size: int
    ) -> list[FacetCount]:
        column = column_of(schema, name)
        rows = await connection.fetch(
            f"SELECT {column} AS value, count(*) AS n {source} AND {column} IS NOT NULL "
            f"GROUP BY {column} ORDER BY n DESC, value ASC LIMIT {int(size)}",
            *params,
        )
        return [FacetCount(str(row["value"]), int(row["n"])) for row in rows]

    async def count(self, index: str, schema: IndexSchema, query: QueryPlan) -> int:
        compiled = compile_plan(self.name, schema, query)
        return int(await self.pool.fetchval(f"SELECT count(*) {self._from(index, compiled)}", *compiled.params))

    async def explain(self, index: str, schema: IndexSchema, query: QueryPlan, doc_id: str) -> Explanation:
        compiled = compile_plan(self.name, schema, query)
        table = table_of(self.schema_name, index)
        exists = await self.pool.fetchval(f"SELECT 1 FROM {table} WHERE id = $1", doc_id)
        if exists is None:
            return Explanation(found=False, matched=False, score=None)
        params = [*compiled.params, doc_id]
        marker = f"${len(params)}"
        rank = f"ts_rank({compiled.vector}, q.tsq)" if compiled.tsquery else "NULL::real"
        per_field = "".join(
            f", ts_rank({column_of(schema, f)}, q.tsq) AS r_{f}"
            for f in query.fields
            if compiled.tsquery and len(schema.text_fields) > 1
        )
        row = await self.pool.fetchrow(
            f"SELECT {rank} AS score, querytree(q.tsq) AS tree{per_field} {self._from(index, compiled)} "
            f"AND t.id = {marker}"
            if compiled.tsquery
            else f"SELECT NULL::real AS score {self._from(index, compiled)} AND t.id = {marker}",
            *params,
        )
        if row is None:
            return Explanation(found=True, matched=False, score=None)
        score = float(row["score"]) if row["score"] is not None else None
        steps = [ExplainStep(f"ts_rank of {compiled.vector} for the tsquery {row.get('tree')}", score or 0.0, 0)]
        steps.extend(
            ExplainStep(f"ts_rank in field {f}", float(row[f"r_{f}"]), 1)
            for f in query.fields
            if f"r_{f}" in row.keys()  # noqa: SIM118 - an asyncpg Record is no dict
        )
        if query.filters:
            steps.append(ExplainStep(f"passes {len(query.filters)} filter(s) (no score)", 0.0, 1))
        return Explanation(found=True, matched=True, score=score, steps=steps)

    async def vocabulary(self, index: str, schema: IndexSchema, word: str, field: str) -> list[tuple[str, int]]:
        lowered = word.lower()
        rows = await self.pool.fetch(
            "SELECT word, ndoc FROM ts_stat($1) WHERE length(word) BETWEEN $2 AND $3 ORDER BY ndoc DESC LIMIT 2000",
            f"SELECT to_tsvector('simple', coalesce(doc->>'{field}', '')) FROM {table_of(self.schema_name, index)} "
            f"LIMIT {SUGGEST_SAMPLE_ROWS}",
            max(len(lowered) - 2, 1),
            len(lowered) + 2,
        )
        return [(row["word"], int(row["ndoc"])) for row in rows]
