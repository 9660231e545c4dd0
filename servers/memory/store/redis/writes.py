"""The Redis store's writes: each one optimistic transaction over the entities it changes.

See :mod:`.connection` for the transaction and :mod:`.keys` for the layout. Every change to an
entity rewrites its hash ``e:<name>`` (version, text), which is the key a concurrent writer of the
same entity watches; deleting an entity also watches its relation sets, which creating a relation
to it writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
from servers.memory.store.redis.connection import Plan, RedisBase, guarded
from servers.memory.store.redis.keys import (
    Keys,
    Space,
    current_entry,
    current_record,
    expiry_score,
    live,
    observation_fields,
    optional_float,
    relation_key,
    relation_member,
    stored,
)
from servers.memory.store.redis.text import TextState, queue_reindex, stored_text, text_of
from servers.memory.store.text_index import content_hash

Current = dict[str, ObservationRecord]


def queue_observation(pipe: Any, space: Space, record: ObservationRecord) -> None:
    keys = space.keys
    key = content_hash(record.content)
    pipe.hset(keys.obs(record.id), mapping=observation_fields(space, record, key))
    pipe.zadd(space.history(record.entity), {record.id: record.id})
    pipe.hset(space.current(record.entity), key, current_entry(record))
    pipe.zadd(space.live_observations, {record.id: expiry_score(record.expires_at)})
    pipe.zadd(space.observations, {record.id: record.id})
    pipe.zadd(keys.pending, {record.id: record.id})
    if record.expires_at is not None:
        pipe.zadd(keys.expiring, {space.expiring_observation(record.id): record.expires_at})


def queue_forget_observation(pipe: Any, space: Space, entity: str, oid: int) -> None:
    """Remove an observation and every index of it (its entity's current set is the caller's)."""
    keys = space.keys
    pipe.delete(keys.obs(oid))
    pipe.zrem(space.history(entity), oid)
    for index in (space.live_observations, space.observations, space.vectors):
        pipe.zrem(index, oid)
    pipe.zrem(keys.pending, oid)
    pipe.zrem(keys.expiring, space.expiring_observation(oid))


def queue_drop_entity(pipe: Any, space: Space, name: str, fields: dict[str, str], ids: Sequence[str]) -> None:
    """Remove an entity, its observations (history included) and its text; its relations stay (callers decide)."""
    for oid in ids:
        queue_forget_observation(pipe, space, name, int(oid))
    pipe.delete(space.entity(name), space.history(name), space.current(name))
    pipe.zrem(space.names, name)
    pipe.zrem(space.expiring_entities, name)
    pipe.zrem(space.keys.expiring, space.expiring_entity(name))
    queue_reindex(pipe, space, name, stored_text(fields), None)


def queue_text(pipe: Any, space: Space, name: str, fields: dict[str, str], current: Current, now: float) -> None:
    """Rebuild the entity's text from its current, unexpired observations (oldest first)."""
    contents = [r.content for r in sorted(current.values(), key=lambda r: r.id) if live(r.expires_at, now)]
    new = text_of(name, fields["type"], contents)
    queue_reindex(pipe, space, name, stored_text(fields), new)
    pipe.hset(space.entity(name), mapping=new.fields())


def queue_bump(pipe: Any, space: Space, name: str, fields: dict[str, str], at: float) -> int:
    version = int(fields["version"]) + 1
    pipe.hset(space.entity(name), mapping={"version": str(version), "updated_at": stored(at)})
    return version


def is_live(fields: dict[str, str], now: float) -> bool:
    return bool(fields) and live(optional_float(fields.get("expires_at")), now)


class RedisWrites(RedisBase):
    async def _entity(self, pipe: Any, space: Space, name: str) -> tuple[dict[str, str], Current]:
        fields: dict[str, str] = await pipe.hgetall(space.entity(name))
        entries: dict[str, str] = await pipe.hgetall(space.current(name)) if fields else {}
        return fields, {key: current_record(name, entry) for key, entry in entries.items()}

    def _records(self, ids: list[int], entity: str, contents: Sequence[str], by: Provenance) -> list[ObservationRecord]:
        return [
            ObservationRecord(oid, entity, content, by.at, by.principal, by.tool, by.expires_at)
            for oid, content in zip(ids, contents, strict=True)
        ]

    @guarded
    async def create_entities(self, namespace: str, entities: Sequence[NewEntity], by: Provenance) -> list[EntityWrite]:
        unique: dict[str, NewEntity] = {}
        for entity in entities:
            unique.setdefault(entity.name, entity)

        async def plan(pipe: Any, space: Space) -> Plan[list[EntityWrite]]:
            stale: dict[str, tuple[dict[str, str], list[str]]] = {}
            creating: list[NewEntity] = []
            for entity in unique.values():
                fields = await pipe.hgetall(space.entity(entity.name))
                if is_live(fields, by.at):
                    continue
                if fields:  # an expired entity of that name: it goes, and the new one takes its place
                    stale[entity.name] = (fields, await pipe.zrange(space.history(entity.name), 0, -1))
                creating.append(entity)
            contents = {e.name: list(dict.fromkeys(e.observations)) for e in creating}
            ids = await self._reserve_ids(pipe, sum(len(c) for c in contents.values()))
            written: list[EntityWrite] = []
            for entity in creating:
                taken, ids = ids[: len(contents[entity.name])], ids[len(contents[entity.name]) :]
                added = self._records(taken, entity.name, contents[entity.name], by)
                written.append(EntityWrite(entity.name, entity.entity_type, 1, tuple(added)))

            def queue(p: Any) -> None:
                for write in written:
                    name = write.name
                    old = TextState()
                    if name in stale:
                        fields, old_ids = stale[name]
                        old = stored_text(fields)
                        for oid in old_ids:
                            queue_forget_observation(p, space, name, int(oid))
                        p.delete(space.entity(name), space.history(name), space.current(name))
                        p.zrem(space.keys.expiring, space.expiring_entity(name))
                        p.zrem(space.expiring_entities, name)
                    text = text_of(name, write.entity_type, [o.content for o in write.added])
                    queue_reindex(p, space, name, old, text)
                    p.hset(space.entity(name), mapping=self._entity_fields(write.entity_type, by) | text.fields())
                    p.zadd(space.names, {name: 0})
                    if by.expires_at is not None:
                        p.zadd(space.expiring_entities, {name: by.expires_at})
                        p.zadd(space.keys.expiring, {space.expiring_entity(name): by.expires_at})
                    for record in write.added:
                        queue_observation(p, space, record)

            return queue, lambda _: written

        return await self._transact(namespace, lambda space: [space.entity(n) for n in unique], plan, entities=unique)

    @staticmethod
    def _entity_fields(entity_type: str, by: Provenance) -> dict[str, str]:
        return {
            "type": entity_type,
            "version": "1",
            "created_at": stored(by.at),
            "updated_at": stored(by.at),
            "principal": by.principal,
            "tool": by.tool,
            "expires_at": stored(by.expires_at),
        }

    @guarded
    async def create_relations(
        self, namespace: str, relations: Sequence[RelationKey], by: Provenance
    ) -> list[RelationRecord]:
        unique = list(dict.fromkeys(relations))
        ends = list(dict.fromkeys(name for r in unique for name in (r.source, r.target)))

        async def plan(pipe: Any, space: Space) -> Plan[list[RelationRecord]]:
            for end in ends:
                if not is_live(await pipe.hgetall(space.entity(end)), by.at):
                    raise UnknownEntity(end)
            meta = json.dumps([by.at, by.principal])

            def queue(p: Any) -> None:
                for r in unique:
                    member = relation_member(r)
                    p.hsetnx(space.relations, member, meta)
                    p.sadd(space.out(r.source), member)
                    p.sadd(space.into(r.target), member)

            def finish(results: list[Any]) -> list[RelationRecord]:
                return [
                    RelationRecord(r.source, r.target, r.relation_type, by.at, by.principal)
                    for i, r in enumerate(unique)
                    if int(results[3 * i]) == 1
                ]

            return queue, finish

        return await self._transact(namespace, lambda space: [space.entity(n) for n in ends], plan, entities=ends)

    @guarded
    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
    ) -> list[EntityWrite]:
        merged: dict[str, list[str]] = {}
        for name, contents in additions:
            merged.setdefault(name, [])
            merged[name].extend(c for c in dict.fromkeys(contents) if c not in merged[name])

        async def plan(pipe: Any, space: Space) -> Plan[list[EntityWrite]]:
            states: dict[str, tuple[dict[str, str], Current]] = {}
            for name in merged:
                fields, current = await self._entity(pipe, space, name)
                if not is_live(fields, by.at):
                    raise UnknownEntity(name)
                states[name] = (fields, current)
            fresh: dict[str, list[str]] = {}
            replaced: dict[str, list[tuple[str, ObservationRecord]]] = {}
            for name, contents in merged.items():
                current = states[name][1]
                fresh[name] = []
                for content in contents:
                    key = content_hash(content)
                    there = current.get(key)
                    if there is not None and live(there.expires_at, by.at):
                        continue
                    if there is not None:  # only an expired observation holds the text: the new one replaces it
                        replaced.setdefault(name, []).append((key, there))
                    fresh[name].append(content)
            ids = await self._reserve_ids(pipe, sum(len(c) for c in fresh.values()))
            written: list[EntityWrite] = []
            plans: list[tuple[str, list[ObservationRecord]]] = []
            for name in merged:
                taken, ids = ids[: len(fresh[name])], ids[len(fresh[name]) :]
                plans.append((name, self._records(taken, name, fresh[name], by)))

            def queue(p: Any) -> None:
                for name, added in plans:
                    fields, current = states[name]
                    version = int(fields["version"])
                    if added:
                        for key, old in replaced.get(name, []):
                            queue_forget_observation(p, space, name, old.id)
                            p.hdel(space.current(name), key)
                            current.pop(key, None)
                        for record in added:
                            queue_observation(p, space, record)
                            current[content_hash(record.content)] = record
                        version = queue_bump(p, space, name, fields, by.at)
                        queue_text(p, space, name, fields, current, by.at)
                    written.append(EntityWrite(name, fields["type"], version, tuple(added)))

            return queue, lambda _: written

        return await self._transact(namespace, lambda space: [space.entity(n) for n in merged], plan, entities=merged)

    @guarded
    async def delete_entities(self, namespace: str, names: Sequence[str]) -> DeleteCount:
        unique = list(dict.fromkeys(names))

        def watch(space: Space) -> list[str]:
            return [key for n in unique for key in (space.entity(n), space.out(n), space.into(n))]

        async def plan(pipe: Any, space: Space) -> Plan[DeleteCount]:
            count = DeleteCount()
            found: list[tuple[str, dict[str, str], list[str]]] = []
            members: set[str] = set()
            for name in unique:
                fields = await pipe.hgetall(space.entity(name))
                ids = await pipe.zrange(space.history(name), 0, -1)
                members |= set(await pipe.smembers(space.out(name))) | set(await pipe.smembers(space.into(name)))
                if fields or ids:
                    found.append((name, fields, ids))
                    count.entities += 1 if fields else 0
                    count.observations += len(ids)
            count.relations = len(members)

            def queue(p: Any) -> None:
                for name, fields, ids in found:
                    queue_drop_entity(p, space, name, fields, ids)
                for member in members:
                    r = relation_key(member)
                    p.hdel(space.relations, member)
                    p.srem(space.out(r.source), member)
                    p.srem(space.into(r.target), member)

            return queue, lambda _: count

        return await self._transact(namespace, watch, plan, entities=unique)

    @guarded
    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]], now: float
    ) -> DeleteCount:
        merged: dict[str, list[str]] = {}
        for name, contents in deletions:
            merged.setdefault(name, []).extend(contents)

        async def plan(pipe: Any, space: Space) -> Plan[DeleteCount]:
            count = DeleteCount()
            work: list[tuple[str, dict[str, str], Current, list[tuple[str, ObservationRecord]]]] = []
            for name, contents in merged.items():
                fields, current = await self._entity(pipe, space, name)
                keys = dict.fromkeys(content_hash(c) for c in contents)
                gone = [(key, current[key]) for key in keys if key in current]
                if gone:
                    work.append((name, fields, current, gone))
                    count.observations += len(gone)
                    if is_live(fields, now):
                        count.versions[name] = int(fields["version"]) + 1

            def queue(p: Any) -> None:
                for name, fields, current, gone in work:
                    for key, record in gone:
                        queue_forget_observation(p, space, name, record.id)
                        p.hdel(space.current(name), key)
                        current.pop(key)
                    if name in count.versions:
                        queue_bump(p, space, name, fields, now)
                        queue_text(p, space, name, fields, current, now)

            return queue, lambda _: count

        return await self._transact(namespace, lambda space: [space.entity(n) for n in merged], plan, entities=merged)

    @guarded
    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> DeleteCount:
        unique = list(dict.fromkeys(relations))

        async def plan(pipe: Any, space: Space) -> Plan[DeleteCount]:
            def queue(p: Any) -> None:
                for r in unique:
                    member = relation_member(r)
                    p.hdel(space.relations, member)
                    p.srem(space.out(r.source), member)
                    p.srem(space.into(r.target), member)

            return queue, lambda results: DeleteCount(relations=sum(int(results[3 * i]) for i in range(len(unique))))

        return await self._transact(namespace, lambda space: [], plan)

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
        async def plan(pipe: Any, space: Space) -> Plan[Superseded]:
            fields, current = await self._entity(pipe, space, entity)
            if not is_live(fields, by.at):
                raise UnknownEntity(entity)
            version = int(fields["version"])
            if expected_version is not None and version != expected_version:
                raise VersionConflict(entity, expected_version, version)
            if isinstance(old, int):
                match = [(k, r) for k, r in current.items() if r.id == old]
            else:
                match = [(content_hash(old), current[content_hash(old)])] if content_hash(old) in current else []
            if not match or not live(match[0][1].expires_at, by.at):
                raise UnknownObservation(entity, str(old))
            old_key, previous = match[0]
            new_key = content_hash(new)
            clash = current.get(new_key)
            if clash is not None and clash.id != previous.id and live(clash.expires_at, by.at):
                raise UnknownObservation(entity, f"{new} (already current)")
            (oid,) = await self._reserve_ids(pipe, 1)
            record = ObservationRecord(oid, entity, new, by.at, by.principal, by.tool, by.expires_at)
            replaced = ObservationRecord(**{**previous.__dict__, "superseded_by": oid, "superseded_at": by.at})
            done: list[Superseded] = []

            def queue(p: Any) -> None:
                keys: Keys = space.keys
                p.hset(keys.obs(previous.id), mapping={"superseded_by": str(oid), "superseded_at": stored(by.at)})
                p.hdel(space.current(entity), old_key)
                p.zrem(space.live_observations, previous.id)
                p.zrem(keys.pending, previous.id)
                current.pop(old_key)
                if clash is not None and clash.id != previous.id:  # an expired observation of the new text
                    queue_forget_observation(p, space, entity, clash.id)
                    p.hdel(space.current(entity), new_key)
                    current.pop(new_key)
                queue_observation(p, space, record)
                current[new_key] = record
                done.append(Superseded(replaced, record, queue_bump(p, space, entity, fields, by.at)))
                queue_text(p, space, entity, fields, current, by.at)

            return queue, lambda _: done[0]

        return await self._transact(namespace, lambda space: [space.entity(entity)], plan, entities=[entity])
