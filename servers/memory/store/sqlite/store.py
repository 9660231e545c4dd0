"""The SQLite graph store: every write one ``BEGIN IMMEDIATE`` transaction, committed with ``synchronous=FULL``.

WAL lets readers run beside the one writer; ``BEGIN IMMEDIATE`` takes the write lock before
reading what the write depends on, so two processes on one file never interleave a
read-modify-write, and ``busy_timeout`` makes the second wait instead of failing. Writes go through
one connection, used from one worker thread at a time; reads take one of up to :data:`READERS`
read-only connections, so they never wait for a write, and each sees every write that has answered.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio

from servers.memory.store.base import (
    DeleteCount,
    EntityRecord,
    EntityWrite,
    NamespaceStats,
    NewEntity,
    ObservationRecord,
    Provenance,
    RelationKey,
    RelationRecord,
    SearchHit,
    Superseded,
    UnknownEntity,
    UnknownObservation,
    VersionConflict,
)
from servers.memory.store.sqlite import search
from servers.memory.store.sqlite.schema import SCHEMA_VERSION, STATEMENTS
from servers.memory.store.text_index import content_hash

T = TypeVar("T")
READERS = 1
"""Read connections. More let reads run side by side, but each thread releases and retakes the GIL at
every row it steps: with eight searches in flight on two cores, four readers cost 14.7 ms of CPU per
``search_nodes`` on the 10k graph against 6.6 ms for one (and were slower)."""
MMAP_BYTES = 256 << 20
LIVE = "(expires_at IS NULL OR expires_at > ?)"
OBSERVATION_COLUMNS = "id, entity, content, created_at, principal, tool, expires_at, superseded_by, superseded_at"


def _observation(row: Sequence[Any]) -> ObservationRecord:
    return ObservationRecord(
        id=row[0],
        entity=row[1],
        content=row[2],
        created_at=row[3],
        principal=row[4],
        tool=row[5],
        expires_at=row[6],
        superseded_by=row[7],
        superseded_at=row[8],
    )


class SqliteGraphStore:
    kind = "sqlite"

    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._readers = threading.Condition()
        self._idle: list[sqlite3.Connection] = []
        self._made = 0

    # -- plumbing ---------------------------------------------------------------------------------

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        if self._connection is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")  # a commit is on disk before the write answers
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in STATEMENTS:
                connection.execute(statement)
            search.migrate(connection)  # under the write lock: another process opening the file waits
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self._connection = connection

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
            with self._readers:
                for reader in self._idle:
                    reader.close()
                self._made -= len(self._idle)
                self._idle.clear()

        await anyio.to_thread.run_sync(close)

    def _reader(self) -> sqlite3.Connection:
        """An idle read-only connection, a new one while there are fewer than :data:`READERS`, else wait for one."""
        with self._readers:
            while not self._idle and self._made >= READERS:
                self._readers.wait()
            if self._idle:
                return self._idle.pop()
            self._made += 1
        try:
            with self._lock:
                self._db()  # the schema is made (or migrated) before anything reads
            reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            reader.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            reader.execute("PRAGMA query_only = 1")
            reader.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # full-text hits read observations all over the file
        except BaseException:
            with self._readers:
                self._made -= 1
                self._readers.notify()
            raise
        return reader

    def _release(self, reader: sqlite3.Connection) -> None:
        with self._readers:
            self._idle.append(reader)
            self._readers.notify()

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            reader = self._reader()
            try:
                return work(reader)
            finally:
                self._release(reader)

        return await anyio.to_thread.run_sync(run)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._lock:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result

        return await anyio.to_thread.run_sync(run)

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._open()
        assert self._connection is not None
        return self._connection

    async def ping(self) -> str:
        version = await self._read(lambda db: db.execute("SELECT sqlite_version()").fetchone()[0])
        return f"sqlite {version}, {self.path}"

    # -- shared pieces of writes -------------------------------------------------------------------

    @staticmethod
    def _entity_row(db: sqlite3.Connection, namespace: str, name: str, now: float) -> tuple[int, str, int] | None:
        row = db.execute(
            f"SELECT id, entity_type, version FROM entities WHERE namespace = ? AND name = ? AND {LIVE}",
            (namespace, name, now),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    @staticmethod
    def _drop_entity(db: sqlite3.Connection, namespace: str, name: str) -> tuple[int, int]:
        row = db.execute("SELECT id FROM entities WHERE namespace = ? AND name = ?", (namespace, name)).fetchone()
        if row is None:
            return 0, 0
        search.unindex(db, [-row[0]])
        db.execute("DELETE FROM entities WHERE id = ?", (row[0],))
        gone = db.execute(
            "DELETE FROM observations WHERE namespace = ? AND entity = ? RETURNING id, superseded_by",
            (namespace, name),
        ).fetchall()
        search.unindex(db, [r[0] for r in gone if r[1] is None])
        return 1, len(gone)

    @staticmethod
    def _insert_observations(
        db: sqlite3.Connection, namespace: str, entity: str, contents: Sequence[str], by: Provenance
    ) -> list[ObservationRecord]:
        """Insert the texts not already current on ``entity`` and index them: a cost per text, not per entity."""
        added: list[ObservationRecord] = []
        insert = (
            "INSERT OR IGNORE INTO observations (namespace, entity, content, content_hash, created_at, principal, "
            "tool, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for content in contents:
            key = content_hash(content)
            values = (namespace, entity, content, key, by.at, by.principal, by.tool, by.expires_at)
            cursor = db.execute(insert, values)
            if not cursor.rowcount:
                # A text that collides only with an expired observation replaces it (expiry is decided at read time).
                freed = db.execute(
                    "DELETE FROM observations WHERE namespace = ? AND entity = ? AND content_hash = ? "
                    "AND superseded_by IS NULL AND expires_at <= ? RETURNING id",
                    (namespace, entity, key, by.at),
                ).fetchall()
                if not freed:
                    continue
                search.unindex(db, [r[0] for r in freed])
                cursor = db.execute(insert, values)
            assert cursor.lastrowid is not None
            added.append(
                ObservationRecord(cursor.lastrowid, entity, content, by.at, by.principal, by.tool, by.expires_at)
            )
        search.index_observations(db, [(o.id, o.content) for o in added])
        return added

    @staticmethod
    def _bump(db: sqlite3.Connection, namespace: str, name: str, at: float) -> int:
        row = db.execute(
            "UPDATE entities SET version = version + 1, updated_at = ? WHERE namespace = ? AND name = ? "
            "RETURNING version",
            (at, namespace, name),
        ).fetchone()
        return int(row[0])

    # -- writes ------------------------------------------------------------------------------------

    async def create_entities(self, namespace: str, entities: Sequence[NewEntity], by: Provenance) -> list[EntityWrite]:
        def work(db: sqlite3.Connection) -> list[EntityWrite]:
            written: list[EntityWrite] = []
            for entity in entities:
                if self._entity_row(db, namespace, entity.name, by.at) is not None:
                    continue
                self._drop_entity(db, namespace, entity.name)  # an expired entity of that name
                cursor = db.execute(
                    "INSERT INTO entities (namespace, name, entity_type, version, created_at, updated_at, principal, "
                    "tool, expires_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
                    (namespace, entity.name, entity.entity_type, by.at, by.at, by.principal, by.tool, by.expires_at),
                )
                assert cursor.lastrowid is not None
                search.index_entity(db, cursor.lastrowid, entity.name, entity.entity_type)
                added = self._insert_observations(db, namespace, entity.name, entity.observations, by)
                written.append(EntityWrite(entity.name, entity.entity_type, 1, tuple(added)))
            return written

        return await self._write(work)

    async def create_relations(
        self, namespace: str, relations: Sequence[RelationKey], by: Provenance
    ) -> list[RelationRecord]:
        def work(db: sqlite3.Connection) -> list[RelationRecord]:
            created: list[RelationRecord] = []
            for relation in relations:
                for end in (relation.source, relation.target):
                    if self._entity_row(db, namespace, end, by.at) is None:
                        raise UnknownEntity(end)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO relations (namespace, source, target, relation_type, created_at, principal, "
                    "tool) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (namespace, relation.source, relation.target, relation.relation_type, by.at, by.principal, by.tool),
                )
                if cursor.rowcount:
                    created.append(
                        RelationRecord(relation.source, relation.target, relation.relation_type, by.at, by.principal)
                    )
            return created

        return await self._write(work)

    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
    ) -> list[EntityWrite]:
        def work(db: sqlite3.Connection) -> list[EntityWrite]:
            written: list[EntityWrite] = []
            for name, contents in additions:
                row = self._entity_row(db, namespace, name, by.at)
                if row is None:
                    raise UnknownEntity(name)
                added = self._insert_observations(db, namespace, name, contents, by)
                version = row[2]
                if added:
                    version = self._bump(db, namespace, name, by.at)
                written.append(EntityWrite(name, row[1], version, tuple(added)))
            return written

        return await self._write(work)

    async def delete_entities(self, namespace: str, names: Sequence[str]) -> DeleteCount:
        def work(db: sqlite3.Connection) -> DeleteCount:
            count = DeleteCount()
            for name in dict.fromkeys(names):
                entities, observations = self._drop_entity(db, namespace, name)
                count.entities += entities
                count.observations += observations
                count.relations += db.execute(
                    "DELETE FROM relations WHERE namespace = ? AND (source = ? OR target = ?)", (namespace, name, name)
                ).rowcount
            return count

        return await self._write(work)

    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]], now: float
    ) -> DeleteCount:
        def work(db: sqlite3.Connection) -> DeleteCount:
            count = DeleteCount()
            for name, contents in deletions:
                ids: list[int] = []
                for content in contents:
                    ids += [
                        r[0]
                        for r in db.execute(
                            "DELETE FROM observations WHERE namespace = ? AND entity = ? AND content_hash = ? "
                            "AND superseded_by IS NULL RETURNING id",
                            (namespace, name, content_hash(content)),
                        ).fetchall()
                    ]
                search.unindex(db, ids)
                if ids and self._entity_row(db, namespace, name, now) is not None:
                    count.versions[name] = self._bump(db, namespace, name, now)
                count.observations += len(ids)
            return count

        return await self._write(work)

    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> DeleteCount:
        def work(db: sqlite3.Connection) -> DeleteCount:
            count = DeleteCount()
            for r in relations:
                count.relations += db.execute(
                    "DELETE FROM relations WHERE namespace = ? AND source = ? AND target = ? AND relation_type = ?",
                    (namespace, r.source, r.target, r.relation_type),
                ).rowcount
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
        def work(db: sqlite3.Connection) -> Superseded:
            row = self._entity_row(db, namespace, entity, by.at)
            if row is None:
                raise UnknownEntity(entity)
            if expected_version is not None and row[2] != expected_version:
                raise VersionConflict(entity, expected_version, row[2])
            where, key = ("id = ?", old) if isinstance(old, int) else ("content_hash = ?", content_hash(old))
            found = db.execute(
                f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE namespace = ? AND entity = ? AND {where} "
                f"AND superseded_by IS NULL AND {LIVE}",
                (namespace, entity, key, by.at),
            ).fetchone()
            if found is None:
                raise UnknownObservation(entity, str(old))
            previous = _observation(found)
            # The old row leaves the current set before the new one joins it: the same text may be re-asserted.
            db.execute(
                "UPDATE observations SET superseded_by = -1, superseded_at = ? WHERE id = ?", (by.at, previous.id)
            )
            search.unindex(db, [previous.id])  # a superseded fact is no longer what the entity is found by
            added = self._insert_observations(db, namespace, entity, [new], by)
            if not added:
                raise UnknownObservation(entity, f"{new} (already current)")
            db.execute("UPDATE observations SET superseded_by = ? WHERE id = ?", (added[0].id, previous.id))
            version = self._bump(db, namespace, entity, by.at)
            replaced = ObservationRecord(**{**previous.__dict__, "superseded_by": added[0].id, "superseded_at": by.at})
            return Superseded(replaced, added[0], version)

        return await self._write(work)

    # -- reads -------------------------------------------------------------------------------------

    async def history(self, namespace: str, entity: str, now: float) -> list[ObservationRecord]:
        def work(db: sqlite3.Connection) -> list[ObservationRecord]:
            rows = db.execute(
                f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE namespace = ? AND entity = ? AND {LIVE} "
                "ORDER BY id",
                (namespace, entity, now),
            ).fetchall()
            return [_observation(r) for r in rows]

        return await self._read(work)

    def _hydrate(self, db: sqlite3.Connection, namespace: str, rows: list[Any], now: float) -> list[EntityRecord]:
        if not rows:
            return []
        names = [r[0] for r in rows]
        marks = ",".join("?" * len(names))
        by_entity: dict[str, list[ObservationRecord]] = {name: [] for name in names}
        for row in db.execute(
            f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE namespace = ? AND entity IN ({marks}) "
            f"AND superseded_by IS NULL AND {LIVE} ORDER BY id",
            (namespace, *names, now),
        ):
            by_entity[row[1]].append(_observation(row))
        return [EntityRecord(r[0], r[1], r[2], r[3], r[4], r[5], tuple(by_entity[r[0]]), r[6]) for r in rows]

    ENTITY_COLUMNS = "name, entity_type, version, created_at, updated_at, principal, expires_at"

    async def list_entities(self, namespace: str, after: str | None, limit: int, now: float) -> list[EntityRecord]:
        def work(db: sqlite3.Connection) -> list[EntityRecord]:
            rows = db.execute(
                f"SELECT {self.ENTITY_COLUMNS} FROM entities WHERE namespace = ? AND name > ? AND {LIVE} "
                "ORDER BY name LIMIT ?",
                (namespace, after or "", now, limit),
            ).fetchall()
            return self._hydrate(db, namespace, rows, now)

        return await self._read(work)

    def _get_entities(
        self, db: sqlite3.Connection, namespace: str, names: Sequence[str], now: float
    ) -> list[EntityRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        marks = ",".join("?" * len(unique))
        rows = db.execute(
            f"SELECT {self.ENTITY_COLUMNS} FROM entities WHERE namespace = ? AND name IN ({marks}) AND {LIVE}",
            (namespace, *unique, now),
        ).fetchall()
        order = {name: i for i, name in enumerate(unique)}
        rows.sort(key=lambda r: order[r[0]])
        return self._hydrate(db, namespace, rows, now)

    async def get_entities(self, namespace: str, names: Sequence[str], now: float) -> list[EntityRecord]:
        return await self._read(lambda db: self._get_entities(db, namespace, names, now))

    @staticmethod
    def _relations_touching(
        db: sqlite3.Connection, namespace: str, names: Sequence[str], both_ends: bool = False
    ) -> list[RelationRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        marks = ",".join("?" * len(unique))
        columns = "SELECT source, target, relation_type, created_at, principal FROM relations"
        if both_ends:
            sql = f"{columns} WHERE namespace = ? AND source IN ({marks}) AND target IN ({marks})"
        else:  # two index lookups: for the OR of two columns SQLite scans the namespace
            sql = (
                f"{columns} WHERE namespace = ? AND source IN ({marks}) UNION "
                f"{columns} INDEXED BY relations_to WHERE namespace = ? AND target IN ({marks})"
            )
        rows = db.execute(
            f"{sql} ORDER BY 1, 2, 3",
            (namespace, *unique, namespace, *unique) if not both_ends else (namespace, *unique, *unique),
        ).fetchall()
        return [RelationRecord(*r) for r in rows]

    async def relations_touching(
        self, namespace: str, names: Sequence[str], *, both_ends: bool = False
    ) -> list[RelationRecord]:
        return await self._read(lambda db: self._relations_touching(db, namespace, names, both_ends))

    async def relations_from(self, namespace: str, names: Sequence[str]) -> list[RelationRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []

        def work(db: sqlite3.Connection) -> list[RelationRecord]:
            marks = ",".join("?" * len(unique))
            rows = db.execute(
                "SELECT source, target, relation_type, created_at, principal FROM relations WHERE namespace = ? "
                f"AND source IN ({marks}) ORDER BY source, target, relation_type",
                (namespace, *unique),
            ).fetchall()
            return [RelationRecord(*r) for r in rows]

        return await self._read(work)

    async def search(
        self, namespace: str, query: str, limit: int, offset: int, now: float, *, any_word: bool = False
    ) -> list[SearchHit]:
        return await self._read(lambda db: search.search(db, namespace, query, limit, offset, now, any_word))

    async def search_graph(
        self, namespace: str, query: str, limit: int, offset: int, now: float
    ) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
        def work(db: sqlite3.Connection) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
            hits = search.search(db, namespace, query, limit, offset, now, False)
            records = self._get_entities(db, namespace, [h.name for h in hits], now)
            return hits, records, self._relations_touching(db, namespace, [r.name for r in records])

        return await self._read(work)

    async def pending_embeddings(self, limit: int) -> list[tuple[int, str]]:
        return await self._read(
            lambda db: [
                (r[0], r[1])
                for r in db.execute(
                    "SELECT id, content FROM observations WHERE vector IS NULL AND superseded_by IS NULL "
                    "ORDER BY id LIMIT ?",
                    (limit,),
                )
            ]
        )

    async def store_embeddings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.executemany("UPDATE observations SET vector = ? WHERE id = ?", [(v, i) for i, v in rows])

        await self._write(work)

    async def vectors_since(self, namespace: str, after_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        return await self._read(
            lambda db: [
                (r[0], r[1], r[2])
                for r in db.execute(
                    # ``+namespace``: walk the ids after ``after_id`` (usually none), not every row of the namespace
                    "SELECT id, entity, vector FROM observations WHERE +namespace = ? AND id > ? AND vector IS NOT NULL "
                    "ORDER BY id LIMIT ?",
                    (namespace, after_id, limit),
                )
            ]
        )

    async def observations_by_id(self, namespace: str, ids: Sequence[int], now: float) -> list[ObservationRecord]:
        if not ids:
            return []

        def work(db: sqlite3.Connection) -> list[ObservationRecord]:
            marks = ",".join("?" * len(ids))
            rows = db.execute(
                f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE namespace = ? AND id IN ({marks}) "
                f"AND superseded_by IS NULL AND {LIVE}",
                (namespace, *ids, now),
            ).fetchall()
            return [_observation(r) for r in rows]

        return await self._read(work)

    async def stats(self, namespace: str, now: float) -> NamespaceStats:
        def work(db: sqlite3.Connection) -> NamespaceStats:
            entities = db.execute(f"SELECT count(*) FROM entities WHERE namespace = ? AND {LIVE}", (namespace, now))
            observations = db.execute(
                f"SELECT count(*) FROM observations WHERE namespace = ? AND superseded_by IS NULL AND {LIVE}",
                (namespace, now),
            )
            relations = db.execute("SELECT count(*) FROM relations WHERE namespace = ?", (namespace,))
            return NamespaceStats(
                namespace, entities.fetchone()[0], observations.fetchone()[0], relations.fetchone()[0]
            )

        return await self._read(work)

    async def namespaces(self) -> list[str]:
        return await self._read(
            lambda db: [r[0] for r in db.execute("SELECT DISTINCT namespace FROM entities ORDER BY namespace")]
        )

    async def purge_expired(self, now: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            expired = db.execute(
                "DELETE FROM observations WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING id, superseded_by",
                (now,),
            ).fetchall()
            search.unindex(db, [r[0] for r in expired if r[1] is None])
            removed = len(expired)
            for namespace, name in db.execute(
                "SELECT namespace, name FROM entities WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            ).fetchall():
                entities, observations = self._drop_entity(db, namespace, name)
                removed += entities + observations
            return removed

        return await self._write(work)
