"""The Neo4j graph store: every write one explicit write transaction over the entities it locks first.

The official async driver runs each write as a managed transaction (``session.execute_write``),
which it retries on transient failures (a deadlock, a leader switch, a lost server) for up to
``connect_timeout_seconds``; the transaction functions here have no effect outside the transaction,
so a retry is safe. A write first locks the entity nodes it changes, in key order (see
:mod:`.cypher`), reads what its decision depends on, then writes; a refused write raises inside
the transaction, which rolls it back. ``open`` makes the constraints, the indexes and the
full-text index; a Neo4j without the full-text procedures is searched by ranking in the server.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from neo4j import unit_of_work
from neo4j.exceptions import Neo4jError

from servers.memory.settings import Neo4jStoreSettings
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
from servers.memory.store.neo4j import cypher
from servers.memory.store.neo4j.driver import guarded, open_driver
from servers.memory.store.neo4j.reads import Neo4jReads, rows
from servers.memory.store.neo4j.records import document, entity_key, live, observation_of, observation_row
from servers.memory.store.text_index import content_hash

log = logging.getLogger(__name__)
fetch = rows
T = TypeVar("T")
Tx = Any


class Neo4jGraphStore(Neo4jReads):
    kind = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str | None,
        password: str | None,
        *,
        database: str | None = None,
        max_connections: int = 20,
        connect_timeout: float = 10.0,
        query_timeout: float = 30.0,
    ) -> None:
        self.uri, self.database, self.query_timeout = uri, database, query_timeout
        self.address = uri.split("@")[-1]  # never the credentials a URI may carry
        self._auth = (user, password) if user and password is not None else None
        self._config = {
            "max_connection_pool_size": max_connections,
            "connection_timeout": connect_timeout,
            # How long a managed transaction is retried on a transient failure or a lost server: a Neo4j that is
            # down answers store_unavailable after this, not after the (longer) query timeout.
            "max_transaction_retry_time": connect_timeout,
        }
        self._driver: Any = None
        self.fulltext = True

    @classmethod
    def from_settings(cls, settings: Neo4jStoreSettings) -> Neo4jGraphStore:
        return cls(
            settings.uri,
            settings.user,
            settings.password,
            database=settings.database,
            max_connections=settings.max_connections,
            connect_timeout=settings.connect_timeout_seconds,
            query_timeout=settings.query_timeout_seconds,
        )

    # -- plumbing ----------------------------------------------------------------------------------

    def _session(self) -> Any:
        if self._driver is None:
            self._driver = open_driver(self.uri, self._auth, **self._config)
        return self._driver.session(database=self.database) if self.database else self._driver.session()

    async def _write(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        async with self._session() as session:
            result: T = await session.execute_write(unit_of_work(timeout=self.query_timeout)(work))
            return result

    async def _read(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        async with self._session() as session:
            result: T = await session.execute_read(unit_of_work(timeout=self.query_timeout)(work))
            return result

    @guarded
    async def open(self) -> None:
        async with self._session() as session:
            for statement in cypher.SCHEMA:
                await (await session.run(statement)).consume()
            try:
                await (await session.run(cypher.FULLTEXT_INDEX)).consume()
            except Neo4jError as exc:
                self.fulltext = False
                log.warning(
                    "memory: this Neo4j cannot make a full-text index (%s); search_nodes ranks in the server",
                    exc.code,
                )
            await (await session.run(cypher.COUNTER)).consume()

    async def close(self) -> None:
        if self._driver is not None:
            driver, self._driver = self._driver, None
            await driver.close()

    @guarded
    async def ping(self) -> str:
        found = await self._read(lambda tx: rows(tx, cypher.PING))
        version = next((r["version"] for r in found if r["name"] == "Neo4j Kernel"), "?")
        return f"neo4j {version}, {self.address}"

    # -- shared pieces of writes -------------------------------------------------------------------

    @staticmethod
    async def _lock(tx: Tx, namespace: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        keys = sorted({entity_key(namespace, name) for name in names})
        return {row["name"]: row for row in await rows(tx, cypher.LOCK_ENTITIES, keys=keys)}

    @staticmethod
    async def _reserve(tx: Tx, count: int) -> list[int]:
        if count <= 0:
            return []
        [row] = await rows(tx, cypher.RESERVE_IDS, count=count)
        last = int(row["last"])
        return list(range(last - count + 1, last + 1))

    @staticmethod
    async def _current(tx: Tx, namespace: str, name: str) -> dict[str, ObservationRecord]:
        found = await rows(tx, cypher.CURRENT_OBSERVATIONS, namespace=namespace, name=name)
        return {row["hash"]: observation_of(row) for row in found}

    @staticmethod
    async def _drop(tx: Tx, namespace: str, name: str) -> tuple[int, int, int]:
        """Delete an entity, its observations (history included) and its relations: how many of each."""
        ids = [row["id"] for row in await rows(tx, cypher.HISTORY_IDS, namespace=namespace, name=name)]
        if ids:
            await rows(tx, cypher.DELETE_OBSERVATIONS, ids=ids)
        gone = await rows(tx, cypher.DELETE_ENTITY, key=entity_key(namespace, name))
        return (1 if gone else 0), len(ids), sum(int(r["relations"]) for r in gone)

    @staticmethod
    async def _update(
        tx: Tx,
        namespace: str,
        name: str,
        entity_type: str,
        version: int | None,
        at: float,
        current: Sequence[ObservationRecord],
    ) -> None:
        """Rebuild the entity's text from ``current`` (the unexpired ones); set its new ``version`` (none: the purge)."""
        contents = [o.content for o in sorted(current, key=lambda o: o.id) if live(o.expires_at, at)]
        doc, length = document(name, entity_type, contents)
        key = entity_key(namespace, name)
        if version is None:
            await rows(tx, cypher.SET_TEXT, key=key, doc=doc, length=length)
        else:
            await rows(tx, cypher.UPDATE_ENTITY, key=key, version=version, at=at, doc=doc, length=length)

    @staticmethod
    async def _create_observations(tx: Tx, namespace: str, records: Sequence[ObservationRecord]) -> None:
        if records:
            await rows(tx, cypher.CREATE_OBSERVATIONS, rows=[observation_row(namespace, r) for r in records])

    # -- writes ------------------------------------------------------------------------------------

    @guarded
    async def create_entities(self, namespace: str, entities: Sequence[NewEntity], by: Provenance) -> list[EntityWrite]:
        unique: dict[str, NewEntity] = {}
        for entity in entities:
            unique.setdefault(entity.name, entity)

        async def work(tx: Tx) -> list[EntityWrite]:
            locked = await self._lock(tx, namespace, list(unique))
            created: list[tuple[NewEntity, list[str]]] = []
            # In name order, and every entity before the id counter: writers take their locks in one order.
            for entity in sorted(unique.values(), key=lambda e: e.name):
                row = locked.get(entity.name)
                if row is not None and live(row.get("expires_at"), by.at):
                    continue
                if row is not None:  # an expired entity of that name goes; the new one takes its place
                    await self._drop(tx, namespace, entity.name)
                contents = list(dict.fromkeys(entity.observations))
                doc, length = document(entity.name, entity.entity_type, contents)
                props = {
                    "namespace": namespace,
                    "name": entity.name,
                    "type": entity.entity_type,
                    "version": 1,
                    "created_at": by.at,
                    "updated_at": by.at,
                    "principal": by.principal,
                    "tool": by.tool,
                    "expires_at": by.expires_at,
                    "doc": doc,
                    "length": length,
                }
                [made] = await rows(
                    tx,
                    cypher.MERGE_ENTITY,
                    key=entity_key(namespace, entity.name),
                    props={k: v for k, v in props.items() if v is not None},
                )
                if made["created"]:  # else a concurrent writer created it first
                    created.append((entity, contents))
            ids = await self._reserve(tx, sum(len(contents) for _, contents in created))
            written: dict[str, EntityWrite] = {}
            for entity, contents in created:
                taken, ids = ids[: len(contents)], ids[len(contents) :]
                added = [
                    ObservationRecord(oid, entity.name, c, by.at, by.principal, by.tool, by.expires_at)
                    for oid, c in zip(taken, contents, strict=True)
                ]
                await self._create_observations(tx, namespace, added)
                written[entity.name] = EntityWrite(entity.name, entity.entity_type, 1, tuple(added))
            return [written[name] for name in unique if name in written]

        return await self._write(work)

    @guarded
    async def create_relations(
        self, namespace: str, relations: Sequence[RelationKey], by: Provenance
    ) -> list[RelationRecord]:
        unique = list(dict.fromkeys(relations))

        async def work(tx: Tx) -> list[RelationRecord]:
            ends = list(dict.fromkeys(name for r in unique for name in (r.source, r.target)))
            locked = await self._lock(tx, namespace, ends)
            for end in ends:
                if end not in locked or not live(locked[end].get("expires_at"), by.at):
                    raise UnknownEntity(end)
            created: list[RelationRecord] = []
            for r in unique:
                [row] = await rows(
                    tx,
                    cypher.CREATE_RELATION,
                    source=entity_key(namespace, r.source),
                    target=entity_key(namespace, r.target),
                    type=r.relation_type,
                    at=by.at,
                    principal=by.principal,
                )
                if row["created"]:
                    created.append(RelationRecord(r.source, r.target, r.relation_type, by.at, by.principal))
            return created

        return await self._write(work)

    @guarded
    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
    ) -> list[EntityWrite]:
        merged: dict[str, list[str]] = {}
        for name, contents in additions:
            merged.setdefault(name, [])
            merged[name].extend(c for c in dict.fromkeys(contents) if c not in merged[name])

        async def work(tx: Tx) -> list[EntityWrite]:
            locked = await self._lock(tx, namespace, list(merged))
            for name in merged:
                if name not in locked or not live(locked[name].get("expires_at"), by.at):
                    raise UnknownEntity(name)
            written: list[EntityWrite] = []
            for name, contents in merged.items():
                row = locked[name]
                current = await self._current(tx, namespace, name)
                fresh, stale = [], []
                for content in contents:
                    there = current.get(content_hash(content))
                    if there is not None and live(there.expires_at, by.at):
                        continue
                    if there is not None:
                        stale.append(there.id)
                        del current[content_hash(content)]
                    fresh.append(content)
                version = int(row["version"])
                ids = await self._reserve(tx, len(fresh))
                added = [
                    ObservationRecord(oid, name, c, by.at, by.principal, by.tool, by.expires_at)
                    for oid, c in zip(ids, fresh, strict=True)
                ]
                if added:
                    if stale:
                        await rows(tx, cypher.DELETE_OBSERVATIONS, ids=stale)
                    await self._create_observations(tx, namespace, added)
                    version += 1
                    await self._update(tx, namespace, name, row["type"], version, by.at, [*current.values(), *added])
                written.append(EntityWrite(name, row["type"], version, tuple(added)))
            return written

        return await self._write(work)

    @guarded
    async def delete_entities(self, namespace: str, names: Sequence[str]) -> DeleteCount:
        unique = list(dict.fromkeys(names))

        async def work(tx: Tx) -> DeleteCount:
            await self._lock(tx, namespace, unique)
            count = DeleteCount()
            for name in unique:
                entities, observations, relations = await self._drop(tx, namespace, name)
                count.entities += entities
                count.observations += observations
                count.relations += relations
            return count

        return await self._write(work)

    @guarded
    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]], now: float
    ) -> DeleteCount:
        merged: dict[str, list[str]] = {}
        for name, contents in deletions:
            merged.setdefault(name, []).extend(contents)

        async def work(tx: Tx) -> DeleteCount:
            locked = await self._lock(tx, namespace, list(merged))
            count = DeleteCount()
            for name, contents in merged.items():
                current = await self._current(tx, namespace, name)
                gone = {content_hash(c) for c in contents} & set(current)
                if not gone:
                    continue
                await rows(tx, cypher.DELETE_OBSERVATIONS, ids=[current[key].id for key in gone])
                count.observations += len(gone)
                row = locked.get(name)
                if row is not None and live(row.get("expires_at"), now):
                    version = int(row["version"]) + 1
                    kept = [o for key, o in current.items() if key not in gone]
                    await self._update(tx, namespace, name, row["type"], version, now, kept)
                    count.versions[name] = version
            return count

        return await self._write(work)

    @guarded
    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> DeleteCount:
        async def work(tx: Tx) -> DeleteCount:
            count = DeleteCount()
            for r in dict.fromkeys(relations):
                for row in await rows(
                    tx,
                    cypher.DELETE_RELATION,
                    source=entity_key(namespace, r.source),
                    target=entity_key(namespace, r.target),
                    type=r.relation_type,
                ):
                    count.relations += int(row["deleted"])
            return count

        return await self._write(work)

    @guarded
    async def supersede_observation(
        self,
        namespace: str,
        entity: str,
        old: str | int,
        new: str,
        by: Provenance,
        expected_version: int | None,
    ) -> Superseded:
        async def work(tx: Tx) -> Superseded:
            row = (await self._lock(tx, namespace, [entity])).get(entity)
            if row is None or not live(row.get("expires_at"), by.at):
                raise UnknownEntity(entity)
            version = int(row["version"])
            if expected_version is not None and version != expected_version:
                raise VersionConflict(entity, expected_version, version)
            current = await self._current(tx, namespace, entity)
            if isinstance(old, int):
                previous = next((o for o in current.values() if o.id == old), None)
            else:
                previous = current.get(content_hash(old))
            if previous is None or not live(previous.expires_at, by.at):
                raise UnknownObservation(entity, str(old))
            del current[content_hash(previous.content)]
            clash = current.get(content_hash(new))
            if clash is not None and live(clash.expires_at, by.at):
                raise UnknownObservation(entity, f"{new} (already current)")
            if clash is not None:  # only an expired observation holds the new text
                await rows(tx, cypher.DELETE_OBSERVATIONS, ids=[clash.id])
                del current[content_hash(new)]
            [oid] = await self._reserve(tx, 1)
            record = ObservationRecord(oid, entity, new, by.at, by.principal, by.tool, by.expires_at)
            await rows(tx, cypher.SUPERSEDE, id=previous.id, by=oid, at=by.at)
            await self._create_observations(tx, namespace, [record])
            await self._update(tx, namespace, entity, row["type"], version + 1, by.at, [*current.values(), record])
            replaced = ObservationRecord(**{**previous.__dict__, "superseded_by": oid, "superseded_at": by.at})
            return Superseded(replaced, record, version + 1)

        return await self._write(work)

    @guarded
    async def store_embeddings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        if rows:
            payload = [{"id": oid, "vector": bytes(vector)} for oid, vector in rows]
            await self._write(lambda tx: fetch(tx, cypher.STORE_VECTORS, rows=payload))

    @guarded
    async def purge_expired(self, now: float) -> int:
        removed = 0
        entities = await self._read(lambda tx: rows(tx, cypher.EXPIRED_ENTITIES, now=now))
        for row in entities:
            purge = functools.partial(self._purge_entity, namespace=row["namespace"], name=row["entity"], now=now)
            removed += await self._write(purge)
        observations = await self._read(lambda tx: rows(tx, cypher.EXPIRED_OBSERVATIONS, now=now))
        for row in observations:
            purge = functools.partial(self._purge_observations, namespace=row["namespace"], name=row["entity"], now=now)
            removed += await self._write(purge)
        return removed

    async def _purge_entity(self, tx: Tx, namespace: str, name: str, now: float) -> int:
        row = (await self._lock(tx, namespace, [name])).get(name)
        if row is None or live(row.get("expires_at"), now):
            return 0
        entities, observations, _ = await self._drop(tx, namespace, name)
        return entities + observations

    async def _purge_observations(self, tx: Tx, namespace: str, name: str, now: float) -> int:
        row = (await self._lock(tx, namespace, [name])).get(name)
        [gone] = await rows(tx, cypher.DELETE_EXPIRED_OBSERVATIONS, namespace=namespace, name=name, now=now)
        if row is not None and gone["deleted"]:
            current = await self._current(tx, namespace, name)
            await self._update(tx, namespace, name, row["type"], None, now, list(current.values()))
        return int(gone["deleted"])

    @guarded
    async def drop_namespaces(self, namespaces: Sequence[str]) -> int:
        """Delete everything of ``namespaces`` (tests and benches clean up with it): the nodes removed."""
        found = await self._write(lambda tx: rows(tx, cypher.DROP_NAMESPACES, namespaces=list(namespaces)))
        return int(found[0]["deleted"]) if found else 0
