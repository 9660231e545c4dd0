"""The PostgreSQL store's reads: the graph in pages, search, history, vectors, counts.

A mixin of :class:`~servers.memory.store.postgres.store.PostgresGraphStore`, which gives it the
schema (``s``) and ``_read`` (one pooled connection per call); the writes live there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from servers.memory.store.base import EntityRecord, NamespaceStats, ObservationRecord, RelationRecord, SearchHit
from servers.memory.store.postgres.search import search_sql, substring_sql
from servers.memory.store.text_index import merge_ranked, needs_substring, query_words

T = TypeVar("T")
OBSERVATION_COLUMNS = "id, entity, content, created_at, principal, tool, expires_at, superseded_by, superseded_at"
ENTITY_COLUMNS = "name, entity_type, version, created_at, updated_at, principal, expires_at"
Connection = Any


def observation_of(row: Any) -> ObservationRecord:
    return ObservationRecord(
        id=row["id"],
        entity=row["entity"],
        content=row["content"],
        created_at=row["created_at"],
        principal=row["principal"],
        tool=row["tool"],
        expires_at=row["expires_at"],
        superseded_by=row["superseded_by"],
        superseded_at=row["superseded_at"],
    )


class PostgresReads:
    s: str

    async def _read(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        raise NotImplementedError

    async def history(self, namespace: str, entity: str, now: float) -> list[ObservationRecord]:
        rows = await self._read(
            lambda db: db.fetch(
                f"SELECT {OBSERVATION_COLUMNS} FROM {self.s}.observations WHERE namespace = $1 AND entity = $2 "
                "AND (expires_at IS NULL OR expires_at > $3) ORDER BY id",
                namespace,
                entity,
                now,
            )
        )
        return [observation_of(r) for r in rows]

    async def _hydrate(self, db: Connection, namespace: str, rows: list[Any], now: float) -> list[EntityRecord]:
        if not rows:
            return []
        names = [r["name"] for r in rows]
        by_entity: dict[str, list[ObservationRecord]] = {name: [] for name in names}
        for row in await db.fetch(
            f"SELECT {OBSERVATION_COLUMNS} FROM {self.s}.observations WHERE namespace = $1 "
            "AND entity = ANY($2::text[]) AND superseded_by IS NULL AND (expires_at IS NULL OR expires_at > $3) "
            "ORDER BY id",
            namespace,
            names,
            now,
        ):
            by_entity[row["entity"]].append(observation_of(row))
        return [
            EntityRecord(
                r["name"],
                r["entity_type"],
                r["version"],
                r["created_at"],
                r["updated_at"],
                r["principal"],
                tuple(by_entity[r["name"]]),
                r["expires_at"],
            )
            for r in rows
        ]

    async def list_entities(self, namespace: str, after: str | None, limit: int, now: float) -> list[EntityRecord]:
        async def work(db: Connection) -> list[EntityRecord]:
            rows = await db.fetch(
                f'SELECT {ENTITY_COLUMNS} FROM {self.s}.entities WHERE namespace = $1 AND name COLLATE "C" > $2 '
                'AND (expires_at IS NULL OR expires_at > $3) ORDER BY name COLLATE "C" LIMIT $4',
                namespace,
                after or "",
                now,
                limit,
            )
            return await self._hydrate(db, namespace, list(rows), now)

        return await self._read(work)

    async def _get_entities(
        self, db: Connection, namespace: str, names: Sequence[str], now: float
    ) -> list[EntityRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        rows = list(
            await db.fetch(
                f"SELECT {ENTITY_COLUMNS} FROM {self.s}.entities WHERE namespace = $1 AND name = ANY($2::text[]) "
                "AND (expires_at IS NULL OR expires_at > $3)",
                namespace,
                unique,
                now,
            )
        )
        order = {name: i for i, name in enumerate(unique)}
        rows.sort(key=lambda r: order[r["name"]])
        return await self._hydrate(db, namespace, rows, now)

    async def get_entities(self, namespace: str, names: Sequence[str], now: float) -> list[EntityRecord]:
        return await self._read(lambda db: self._get_entities(db, namespace, names, now))

    async def _relations_touching(
        self, db: Connection, namespace: str, names: Sequence[str], both_ends: bool = False
    ) -> list[RelationRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        join = "AND" if both_ends else "OR"
        rows = await db.fetch(
            f"SELECT source, target, relation_type, created_at, principal FROM {self.s}.relations "
            f"WHERE namespace = $1 AND (source = ANY($2::text[]) {join} target = ANY($2::text[])) "
            'ORDER BY source COLLATE "C", target COLLATE "C", relation_type COLLATE "C"',
            namespace,
            unique,
        )
        return [RelationRecord(*r) for r in rows]

    async def relations_touching(
        self, namespace: str, names: Sequence[str], *, both_ends: bool = False
    ) -> list[RelationRecord]:
        return await self._read(lambda db: self._relations_touching(db, namespace, names, both_ends))

    async def relations_from(self, namespace: str, names: Sequence[str]) -> list[RelationRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        rows = await self._read(
            lambda db: db.fetch(
                f"SELECT source, target, relation_type, created_at, principal FROM {self.s}.relations "
                "WHERE namespace = $1 AND source = ANY($2::text[]) "
                'ORDER BY source COLLATE "C", target COLLATE "C", relation_type COLLATE "C"',
                namespace,
                unique,
            )
        )
        return [RelationRecord(*r) for r in rows]

    async def _search(
        self, db: Connection, namespace: str, query: str, limit: int, offset: int, now: float, any_word: bool
    ) -> list[SearchHit]:
        words = query_words(query)
        window = offset + limit
        ranked: list[tuple[str, float]] = []
        if words:
            rows = await db.fetch(search_sql(self.s), namespace, words, now, 1 if any_word else len(words), window)
            ranked = [(r["name"], float(r["score"])) for r in rows]
        substring: list[str] = []
        if needs_substring(ranked, window):
            substring = [
                r["name"] for r in await db.fetch(substring_sql(self.s), namespace, query, now, window + len(ranked))
            ]
        merged = merge_ranked(ranked, substring, limit, offset)
        return [SearchHit(name, score) for name, score in merged]

    async def search(
        self, namespace: str, query: str, limit: int, offset: int, now: float, *, any_word: bool = False
    ) -> list[SearchHit]:
        return await self._read(lambda db: self._search(db, namespace, query, limit, offset, now, any_word))

    async def search_graph(
        self, namespace: str, query: str, limit: int, offset: int, now: float
    ) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
        async def work(db: Connection) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
            hits = await self._search(db, namespace, query, limit, offset, now, False)
            records = await self._get_entities(db, namespace, [h.name for h in hits], now)
            return hits, records, await self._relations_touching(db, namespace, [r.name for r in records])

        return await self._read(work)

    async def pending_embeddings(self, limit: int) -> list[tuple[int, str]]:
        rows = await self._read(
            lambda db: db.fetch(
                f"SELECT id, content FROM {self.s}.observations WHERE vector IS NULL AND superseded_by IS NULL "
                "ORDER BY id LIMIT $1",
                limit,
            )
        )
        return [(r["id"], r["content"]) for r in rows]

    async def vectors_since(self, namespace: str, after_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        rows = await self._read(
            lambda db: db.fetch(
                f"SELECT id, entity, vector FROM {self.s}.observations WHERE namespace = $1 AND id > $2 "
                "AND vector IS NOT NULL ORDER BY id LIMIT $3",
                namespace,
                after_id,
                limit,
            )
        )
        return [(r["id"], r["entity"], bytes(r["vector"])) for r in rows]

    async def observations_by_id(self, namespace: str, ids: Sequence[int], now: float) -> list[ObservationRecord]:
        if not ids:
            return []
        rows = await self._read(
            lambda db: db.fetch(
                f"SELECT {OBSERVATION_COLUMNS} FROM {self.s}.observations WHERE namespace = $1 "
                "AND id = ANY($2::bigint[]) AND superseded_by IS NULL AND (expires_at IS NULL OR expires_at > $3)",
                namespace,
                list(ids),
                now,
            )
        )
        return [observation_of(r) for r in rows]

    async def stats(self, namespace: str, now: float) -> NamespaceStats:
        async def work(db: Connection) -> NamespaceStats:
            live = "(expires_at IS NULL OR expires_at > $2)"
            entities = await db.fetchval(
                f"SELECT count(*) FROM {self.s}.entities WHERE namespace = $1 AND {live}", namespace, now
            )
            observations = await db.fetchval(
                f"SELECT count(*) FROM {self.s}.observations WHERE namespace = $1 AND superseded_by IS NULL AND {live}",
                namespace,
                now,
            )
            relations = await db.fetchval(f"SELECT count(*) FROM {self.s}.relations WHERE namespace = $1", namespace)
            return NamespaceStats(namespace, int(entities), int(observations), int(relations))

        return await self._read(work)

    async def namespaces(self) -> list[str]:
        rows = await self._read(
            lambda db: db.fetch(f"SELECT DISTINCT namespace FROM {self.s}.entities ORDER BY namespace")
        )
        return [r["namespace"] for r in rows]
