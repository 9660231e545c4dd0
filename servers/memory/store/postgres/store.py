"""The PostgreSQL graph store: every write one transaction; the entity rows it changes are locked first.

Many server instances share one database. A write locks the rows of the entities it touches
(``FOR UPDATE``, in name order so two writers never deadlock), inserts with ``ON CONFLICT DO
NOTHING`` against the unique keys (an entity's name, an observation's text within its entity, a
relation) so concurrent writers of the same item create it once, and bumps each entity's version.
The answer comes after ``COMMIT``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from servers.memory.store.base import (
    DeleteCount,
    EntityWrite,
    NewEntity,
    ObservationRecord,
    Provenance,
    RelationKey,
    RelationRecord,
    Superseded,
    UnknownEntity,
    UnknownObservation,
    VersionConflict,
)
from servers.memory.store.postgres.reads import OBSERVATION_COLUMNS, PostgresReads, observation_of
from servers.memory.store.postgres.schema import statements
from servers.memory.store.text_index import content_hash

T = TypeVar("T")
Connection = Any


class PostgresGraphStore(PostgresReads):
    kind = "postgres"

    def __init__(
        self, dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0
    ) -> None:
        self.dsn = dsn
        self.s = schema
        self.min_size, self.max_size, self.connect_timeout = min_size, max_size, connect_timeout
        self._pool: Any = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool = await asyncpg.create_pool(
            self.dsn, min_size=self.min_size, max_size=self.max_size, timeout=self.connect_timeout
        )
        try:
            async with pool.acquire() as db, db.transaction():
                # Instances starting together must not race on CREATE ... IF NOT EXISTS (it is not atomic).
                await db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"mcp-suite memory {self.s}")
                for statement in statements(self.s):
                    await db.execute(statement)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _pool_open(self) -> Any:
        if self._pool is None:
            await self.open()
        return self._pool

    async def _read(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        pool = await self._pool_open()
        async with pool.acquire() as db:
            return await work(db)

    async def _write(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        pool = await self._pool_open()
        async with pool.acquire() as db, db.transaction():
            return await work(db)

    async def ping(self) -> str:
        version = await self._read(lambda db: db.fetchval("SHOW server_version"))
        return f"postgresql {version}, schema {self.s}"

    # -- shared pieces of writes -------------------------------------------------------------------

    async def _lock_entities(self, db: Connection, namespace: str, names: Sequence[str], now: float) -> dict[str, Any]:
        rows = await db.fetch(
            f"SELECT name, entity_type, version, expires_at FROM {self.s}.entities WHERE namespace = $1 "
            "AND name = ANY($2::text[]) ORDER BY name FOR UPDATE",
            namespace,
            sorted(set(names)),
        )
        return {r["name"]: r for r in rows if r["expires_at"] is None or r["expires_at"] > now}

    async def _drop_entity(self, db: Connection, namespace: str, name: str) -> tuple[int, int]:
        entities = await db.execute(
            f"DELETE FROM {self.s}.entities WHERE namespace = $1 AND name = $2", namespace, name
        )
        observations = await db.execute(
            f"DELETE FROM {self.s}.observations WHERE namespace = $1 AND entity = $2", namespace, name
        )
        return _count(entities), _count(observations)

    async def _refresh_text(
        self, db: Connection, namespace: str, name: str, now: float, *, bump: bool = False
    ) -> int | None:
        """Rebuild the entity's searchable text from its current observations (and bump its version): one statement.

        The text is lower-cased by PostgreSQL here and the query by PostgreSQL in :meth:`search`, so both
        sides fold case alike.
        """
        version = "version + 1" if bump else "version"
        found: int | None = await db.fetchval(
            f"UPDATE {self.s}.entities e SET version = {version}, updated_at = CASE WHEN $4 THEN $3 ELSE updated_at END, "
            "doc = lower(e.name || E'\\n' || e.entity_type || coalesce(E'\\n' || ("
            f"SELECT string_agg(o.content, E'\\n' ORDER BY o.id) FROM {self.s}.observations o "
            "WHERE o.namespace = e.namespace AND o.entity = e.name AND o.superseded_by IS NULL "
            "AND (o.expires_at IS NULL OR o.expires_at > $3)), '')) "
            "WHERE e.namespace = $1 AND e.name = $2 RETURNING version",
            namespace,
            name,
            now,
            bump,
        )
        return found

    async def _bump(self, db: Connection, namespace: str, name: str, at: float) -> int:
        """The entity's version after one more change, with its text rebuilt."""
        return int(await self._refresh_text(db, namespace, name, at, bump=True) or 0)

    async def _insert_observations(
        self, db: Connection, namespace: str, entity: str, contents: Sequence[str], by: Provenance
    ) -> list[ObservationRecord]:
        """Insert the texts not already current on ``entity``, in one statement; the ones it added, in order."""
        unique = list(dict.fromkeys(contents))
        if not unique:
            return []
        hashes = [content_hash(c) for c in unique]
        ids = await self._insert_batch(db, namespace, entity, unique, hashes, by)
        missing = [i for i, c in enumerate(unique) if c not in ids]
        if missing:
            # A text that collides only with an expired observation replaces it (expiry is decided at read time).
            freed = await db.fetch(
                f"DELETE FROM {self.s}.observations WHERE namespace = $1 AND entity = $2 "
                "AND content_hash = ANY($3::text[]) AND superseded_by IS NULL AND expires_at <= $4 RETURNING content_hash",
                namespace,
                entity,
                [hashes[i] for i in missing],
                by.at,
            )
            if freed:
                again = {r["content_hash"] for r in freed}
                retry = [i for i in missing if hashes[i] in again]
                ids.update(
                    await self._insert_batch(
                        db, namespace, entity, [unique[i] for i in retry], [hashes[i] for i in retry], by
                    )
                )
        return [
            ObservationRecord(ids[c], entity, c, by.at, by.principal, by.tool, by.expires_at)
            for c in unique
            if c in ids
        ]

    async def _insert_batch(
        self, db: Connection, namespace: str, entity: str, contents: list[str], hashes: list[str], by: Provenance
    ) -> dict[str, int]:
        rows = await db.fetch(
            f"INSERT INTO {self.s}.observations (namespace, entity, content, content_hash, created_at, principal, "
            "tool, expires_at) SELECT $1, $2, t.c, t.h, $5, $6, $7, $8 FROM unnest($3::text[], $4::text[]) "
            "WITH ORDINALITY AS t(c, h, n) ORDER BY t.n "
            "ON CONFLICT (namespace, entity, content_hash) WHERE superseded_by IS NULL DO NOTHING RETURNING id, content",
            namespace,
            entity,
            contents,
            hashes,
            by.at,
            by.principal,
            by.tool,
            by.expires_at,
        )
        return {r["content"]: r["id"] for r in rows}

    # -- writes ------------------------------------------------------------------------------------

    async def create_entities(self, namespace: str, entities: Sequence[NewEntity], by: Provenance) -> list[EntityWrite]:
        async def work(db: Connection) -> list[EntityWrite]:
            await self._lock_entities(db, namespace, [e.name for e in entities], by.at)
            await db.execute(
                f"DELETE FROM {self.s}.observations o USING {self.s}.entities e WHERE e.namespace = $1 "
                "AND e.name = ANY($2::text[]) AND e.expires_at <= $3 AND o.namespace = e.namespace AND o.entity = e.name",
                namespace,
                [e.name for e in entities],
                by.at,
            )
            await db.execute(
                f"DELETE FROM {self.s}.entities WHERE namespace = $1 AND name = ANY($2::text[]) AND expires_at <= $3",
                namespace,
                [e.name for e in entities],
                by.at,
            )
            written: dict[str, EntityWrite] = {}
            # In name order, like the locks: two writers creating the same names never wait on each other in a cycle.
            for entity in sorted(entities, key=lambda e: e.name):
                created = await db.fetchval(
                    f"INSERT INTO {self.s}.entities (namespace, name, entity_type, version, created_at, updated_at, "
                    "principal, tool, expires_at) VALUES ($1, $2, $3, 1, $4, $4, $5, $6, $7) "
                    "ON CONFLICT (namespace, name) DO NOTHING RETURNING id",
                    namespace,
                    entity.name,
                    entity.entity_type,
                    by.at,
                    by.principal,
                    by.tool,
                    by.expires_at,
                )
                if created is None:
                    continue
                added = await self._insert_observations(db, namespace, entity.name, entity.observations, by)
                await self._refresh_text(db, namespace, entity.name, by.at)
                written[entity.name] = EntityWrite(entity.name, entity.entity_type, 1, tuple(added))
            return [written[e.name] for e in entities if e.name in written]

        return await self._write(work)

    async def create_relations(
        self, namespace: str, relations: Sequence[RelationKey], by: Provenance
    ) -> list[RelationRecord]:
        async def work(db: Connection) -> list[RelationRecord]:
            ends = {name for r in relations for name in (r.source, r.target)}
            # Locked (not only read): an entity deleted by a concurrent writer must not leave a dangling relation.
            locked = await self._lock_entities(db, namespace, sorted(ends), by.at)
            missing = sorted(ends - set(locked))
            if missing:
                raise UnknownEntity(missing[0])
            created: list[RelationRecord] = []
            for r in relations:
                status = await db.execute(
                    f"INSERT INTO {self.s}.relations (namespace, source, target, relation_type, created_at, principal, "
                    "tool) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    namespace,
                    r.source,
                    r.target,
                    r.relation_type,
                    by.at,
                    by.principal,
                    by.tool,
                )
                if _count(status):
                    created.append(RelationRecord(r.source, r.target, r.relation_type, by.at, by.principal))
            return created

        return await self._write(work)

    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
    ) -> list[EntityWrite]:
        async def work(db: Connection) -> list[EntityWrite]:
            locked = await self._lock_entities(db, namespace, [name for name, _ in additions], by.at)
            written: list[EntityWrite] = []
            for name, contents in additions:
                row = locked.get(name)
                if row is None:
                    raise UnknownEntity(name)
                added = await self._insert_observations(db, namespace, name, contents, by)
                version = int(row["version"])
                if added:
                    version = await self._bump(db, namespace, name, by.at)
                    row = {**row, "version": version}  # a second addition to the same entity in this call
                    locked[name] = row
                written.append(EntityWrite(name, row["entity_type"], version, tuple(added)))
            return written

        return await self._write(work)

    async def delete_entities(self, namespace: str, names: Sequence[str]) -> DeleteCount:
        async def work(db: Connection) -> DeleteCount:
            count = DeleteCount()
            unique = sorted(set(names))
            await db.fetch(
                f"SELECT 1 FROM {self.s}.entities WHERE namespace = $1 AND name = ANY($2::text[]) ORDER BY name "
                "FOR UPDATE",
                namespace,
                unique,
            )
            for name in unique:
                entities, observations = await self._drop_entity(db, namespace, name)
                count.entities += entities
                count.observations += observations
            count.relations = _count(
                await db.execute(
                    f"DELETE FROM {self.s}.relations WHERE namespace = $1 AND (source = ANY($2::text[]) "
                    "OR target = ANY($2::text[]))",
                    namespace,
                    unique,
                )
            )
            return count

        return await self._write(work)

    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]], now: float
    ) -> DeleteCount:
        async def work(db: Connection) -> DeleteCount:
            count = DeleteCount()
            locked = await self._lock_entities(db, namespace, [name for name, _ in deletions], now)
            for name, contents in deletions:
                gone = _count(
                    await db.execute(
                        f"DELETE FROM {self.s}.observations WHERE namespace = $1 AND entity = $2 "
                        "AND content_hash = ANY($3::text[]) AND superseded_by IS NULL",
                        namespace,
                        name,
                        [content_hash(c) for c in contents],
                    )
                )
                if gone and name in locked:
                    count.versions[name] = await self._bump(db, namespace, name, now)
                count.observations += gone
            return count

        return await self._write(work)

    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> DeleteCount:
        async def work(db: Connection) -> DeleteCount:
            count = DeleteCount()
            for r in relations:
                count.relations += _count(
                    await db.execute(
                        f"DELETE FROM {self.s}.relations WHERE namespace = $1 AND source = $2 AND target = $3 "
                        "AND relation_type = $4",
                        namespace,
                        r.source,
                        r.target,
                        r.relation_type,
                    )
                )
            return count

        return await self._write(work)

    async def supersede_observation(
        self,
        namespace: str,
        entity: str,
        old: str | int,
        new: str,
        by: Provenance,
        expected_version: int | None,
    ) -> Superseded:
        async def work(db: Connection) -> Superseded:
            row = (await self._lock_entities(db, namespace, [entity], by.at)).get(entity)
            if row is None:
                raise UnknownEntity(entity)
            if expected_version is not None and row["version"] != expected_version:
                raise VersionConflict(entity, expected_version, row["version"])
            column, key = ("id", old) if isinstance(old, int) else ("content_hash", content_hash(old))
            found = await db.fetchrow(
                f"SELECT {OBSERVATION_COLUMNS} FROM {self.s}.observations WHERE namespace = $1 AND entity = $2 "
                f"AND {column} = $3 AND superseded_by IS NULL AND (expires_at IS NULL OR expires_at > $4)",
                namespace,
                entity,
                key,
                by.at,
            )
            if found is None:
                raise UnknownObservation(entity, str(old))
            previous = observation_of(found)
            await db.execute(
                f"UPDATE {self.s}.observations SET superseded_by = -1, superseded_at = $2 WHERE id = $1",
                previous.id,
                by.at,
            )
            added = await self._insert_observations(db, namespace, entity, [new], by)
            if not added:
                raise UnknownObservation(entity, f"{new} (already current)")
            await db.execute(
                f"UPDATE {self.s}.observations SET superseded_by = $2 WHERE id = $1", previous.id, added[0].id
            )
            version = await self._bump(db, namespace, entity, by.at)
            replaced = ObservationRecord(**{**previous.__dict__, "superseded_by": added[0].id, "superseded_at": by.at})
            return Superseded(replaced, added[0], version)

        return await self._write(work)

    async def store_embeddings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        async def work(db: Connection) -> None:
            await db.executemany(
                f"UPDATE {self.s}.observations SET vector = $2 WHERE id = $1", [(i, v) for i, v in rows]
            )

        await self._write(work)

    async def purge_expired(self, now: float) -> int:
        async def work(db: Connection) -> int:
            touched = await db.fetch(
                f"SELECT DISTINCT namespace, entity FROM {self.s}.observations WHERE expires_at IS NOT NULL "
                "AND expires_at <= $1",
                now,
            )
            removed = _count(
                await db.execute(
                    f"DELETE FROM {self.s}.observations WHERE expires_at IS NOT NULL AND expires_at <= $1", now
                )
            )
            for row in await db.fetch(
                f"SELECT namespace, name FROM {self.s}.entities WHERE expires_at IS NOT NULL AND expires_at <= $1", now
            ):
                entities, observations = await self._drop_entity(db, row["namespace"], row["name"])
                removed += entities + observations
            for row in touched:
                await self._refresh_text(db, row["namespace"], row["entity"], now)
            return removed

        return await self._write(work)

    async def drop_schema(self) -> None:
        """Remove the store's schema and everything in it (tests and benches clean up with it)."""
        await self._read(lambda db: db.execute(f"DROP SCHEMA IF EXISTS {self.s} CASCADE"))


def _count(status: str) -> int:
    """The row count of a command status such as ``DELETE 3`` or ``INSERT 0 1``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, AttributeError):
        return 0
