"""The PostgreSQL graph store: every write one transaction; the entity rows it changes are locked first.

Many server instances share one database. A write locks the rows of the entities it touches
(``FOR UPDATE``, in name order so two writers never deadlock), inserts with ``ON CONFLICT DO
NOTHING`` against the unique keys (an entity's name, an observation's text within its entity, a
relation) so concurrent writers of the same item create it once, and bumps each entity's version.
The answer comes after ``COMMIT``. ``create_entities`` and ``add_observations`` are one statement
each (:mod:`.writes`), their own transaction.

A connection goes back to the pool without asyncpg's session reset (``RESET ALL``, ``UNLISTEN *``,
... : one more round trip per call): the store sends only its own statements, which leave no session
state behind (no ``SET`` but the set-up's, no ``LISTEN``, session advisory lock or cursor outside a
transaction). asyncpg still rolls back a transaction a cancelled call left open.

Its sessions plan each prepared statement once (``plan_cache_mode = force_generic_plan``): the
statements are fixed lookups by key, and re-planning the write's ``WITH`` on every call cost
PostgreSQL more than running it. Those plans are only as good as the tables' statistics: every
``STATISTICS_CHECK_WRITES`` writes, and at each purge of expired items (every minute), an instance
looks whether a table changed by more than autovacuum's default analyze threshold since its last
``ANALYZE`` and, if so, analyzes it (which re-plans every session's statements). So a server whose
PostgreSQL runs without autovacuum still plans by key rather than scanning a namespace's every row.
"""

from __future__ import annotations

import asyncio
import logging
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
from servers.memory.store.postgres import writes
from servers.memory.store.postgres.reads import OBSERVATION_COLUMNS, PostgresReads, observation_of
from servers.memory.store.postgres.schema import LEGACY_QUERY, migration, statements
from servers.memory.store.text_index import content_hash

log = logging.getLogger(__name__)
T = TypeVar("T")
Connection = Any
STATISTICS_CHECK_WRITES = 200
"""Writes by one instance between two looks at its tables' statistics (a read of ``pg_stat_user_tables``)."""
STALE_TABLES = """SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = ANY($2::text[])
AND n_mod_since_analyze >= 50 + 0.1 * n_live_tup"""
"""The store's tables changed by more than autovacuum's default analyze threshold (50 rows + 10 %) since their
last ``ANALYZE``: the same rule autovacuum follows, so with it on this seldom finds one."""
TABLES = ("entities", "observations", "relations")
SESSION_SETTINGS = {"application_name": "mcp-suite-memory"}
"""Sent when connecting (a pooler such as PgBouncer passes ``application_name`` on)."""


async def _plan_once(connection: Connection) -> None:
    """Each new session's set-up: a ``SET``, which a pooler in session mode passes on as it is (unlike an unknown
    startup parameter), and which stays for the session since the pool sends no reset."""
    await connection.execute("SET plan_cache_mode = force_generic_plan")


async def _no_session_state(_connection: Connection) -> None:
    """The pool's reset hook: nothing to undo (see the module's docstring)."""


class PostgresGraphStore(PostgresReads):
    kind = "postgres"

    def __init__(
        self, dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0
    ) -> None:
        self.dsn = dsn
        self.s = schema
        self.min_size, self.max_size, self.connect_timeout = min_size, max_size, connect_timeout
        self._pool: Any = None
        self._writes_unchecked = 0
        self._statistics: asyncio.Task[None] | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.connect_timeout,
            reset=_no_session_state,
            init=_plan_once,
            server_settings=SESSION_SETTINGS,
        )
        try:
            async with pool.acquire() as db, db.transaction():
                # Instances starting together must not race on CREATE ... IF NOT EXISTS (it is not atomic).
                await db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"mcp-suite memory {self.s}")
                legacy = await db.fetchval(LEGACY_QUERY, f"{self.s}.observations")
                for statement in [*(migration(self.s) if legacy else []), *statements(self.s)]:
                    await db.execute(statement)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._statistics is not None:
            self._statistics.cancel()
            await asyncio.gather(self._statistics, return_exceptions=True)
            self._statistics = None
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
            written = await work(db)
        self._wrote()
        return written

    async def _statement(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """``work`` issues one statement, which is its own transaction: committed when it answers."""
        pool = await self._pool_open()
        async with pool.acquire() as db:
            written = await work(db)
        self._wrote()
        return written

    def _wrote(self) -> None:
        self._writes_unchecked += 1
        if self._writes_unchecked >= STATISTICS_CHECK_WRITES and self._statistics is None:
            self._writes_unchecked = 0
            self._statistics = asyncio.get_running_loop().create_task(self._statistics_check())

    async def _statistics_check(self) -> None:
        try:
            await self._analyze_stale()
        finally:
            self._statistics = None

    async def _analyze_stale(self) -> None:
        """``ANALYZE`` each of the store's tables that changed past the threshold (see the module's docstring)."""
        try:
            async with (await self._pool_open()).acquire() as db:
                for row in await db.fetch(STALE_TABLES, self.s, list(TABLES)):
                    await db.execute(f"ANALYZE {self.s}.{row['relname']}")
        except Exception:  # the next check tries again; stale statistics cost speed, never a write
            log.warning("memory: analyzing the store's tables failed", exc_info=True)

    async def analyzed(self) -> None:
        """Wait for a statistics check under way (tests)."""
        if self._statistics is not None:
            await asyncio.gather(self._statistics, return_exceptions=True)

    async def ping(self) -> str:
        version = await self._read(lambda db: db.fetchval("SHOW server_version"))
        return f"postgresql {version}, schema {self.s}"

    # -- shared pieces of writes -------------------------------------------------------------------

    async def _lock_entities(self, db: Connection, namespace: str, names: Sequence[str], now: float) -> dict[str, Any]:
        rows = await db.fetch(
            writes.locked_entities_sql(self.s, "$2::text[]", writes.LOCKED_COLUMNS),
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

    async def _bump(self, db: Connection, namespace: str, name: str, at: float) -> int:
        """The entity's version after one more change."""
        version = await db.fetchval(
            f"UPDATE {self.s}.entities SET version = version + 1, updated_at = $3 WHERE namespace = $1 AND name = $2 "
            "RETURNING version",
            namespace,
            name,
            at,
        )
        return int(version or 0)

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
        if not entities:
            return []
        return await self._statement(lambda db: writes.create_entities(db, self.s, namespace, entities, by))

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
            rows = await db.fetch(
                f"INSERT INTO {self.s}.relations (namespace, source, target, relation_type, created_at, principal, "
                "tool) SELECT $1, t.s, t.t, t.r, $5, $6, $7 FROM unnest($2::text[], $3::text[], $4::text[]) "
                "WITH ORDINALITY AS t(s, t, r, n) ORDER BY t.n ON CONFLICT DO NOTHING "
                "RETURNING source, target, relation_type",
                namespace,
                [r.source for r in relations],
                [r.target for r in relations],
                [r.relation_type for r in relations],
                by.at,
                by.principal,
                by.tool,
            )
            made = {(r["source"], r["target"], r["relation_type"]) for r in rows}
            return [
                RelationRecord(r.source, r.target, r.relation_type, by.at, by.principal)
                for r in dict.fromkeys(relations)
                if (r.source, r.target, r.relation_type) in made
            ]

        return await self._write(work)

    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
    ) -> list[EntityWrite]:
        if not additions:
            return []
        return await self._statement(lambda db: writes.add_observations(db, self.s, namespace, additions, by))

    async def delete_entities(self, namespace: str, names: Sequence[str]) -> DeleteCount:
        async def work(db: Connection) -> DeleteCount:
            count = DeleteCount()
            unique = sorted(set(names))
            await db.fetch(writes.locked_entities_sql(self.s, "$2::text[]", ("name",)), namespace, unique)
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
            return removed

        removed = await self._write(work)
        # The purge runs every minute whatever the writes: a bulk import of a few large calls is analyzed too.
        await self.analyzed()
        await self._analyze_stale()
        return removed

    async def vacuum_analyze(self) -> None:
        """What autovacuum does a while after a bulk load: the planner's statistics, and the GIN indexes'
        pending entries merged (a search scans those one by one until then)."""
        tables = ", ".join(f"{self.s}.{table}" for table in TABLES)
        await self._read(lambda db: db.execute(f"VACUUM ANALYZE {tables}"))

    async def drop_schema(self) -> None:
        """Remove the store's schema and everything in it (tests and benches clean up with it)."""
        await self._read(lambda db: db.execute(f"DROP SCHEMA IF EXISTS {self.s} CASCADE"))


def _count(status: str) -> int:
    """The row count of a command status such as ``DELETE 3`` or ``INSERT 0 1``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, AttributeError):
        return 0
