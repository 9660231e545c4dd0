"""The Redis store's reads: pages of entities, relations, search, history, vectors and counts.

Reads take no lock: each answers from one or two pipelined round trips, and hides what has
expired by the ``now`` it is given. Relations are sorted here (source, target, type) as the SQL
stores sort them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from servers.memory.store.base import EntityRecord, NamespaceStats, ObservationRecord, RelationRecord, SearchHit
from servers.memory.store.redis.connection import RedisBase, guarded
from servers.memory.store.redis.keys import (
    Space,
    current_record,
    live,
    observation_record,
    optional_float,
    relation_key,
)
from servers.memory.store.redis.text import ranked, substring
from servers.memory.store.text_index import merge_ranked, query_words

ENTITY_FIELDS = ["type", "version", "created_at", "updated_at", "principal", "expires_at"]
OBSERVATION_FIELDS = [
    "id",
    "space",
    "entity",
    "content",
    "created_at",
    "principal",
    "tool",
    "expires_at",
    "superseded_by",
    "superseded_at",
]
PAGE_SCAN = 256


class RedisReads(RedisBase):
    async def _hydrate(self, space: Space, names: Sequence[str], now: float) -> list[EntityRecord]:
        """The live entities among ``names``, in that order, with their current observations (oldest first)."""
        if not names:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.hmget(space.entity(name), ENTITY_FIELDS)
            pipe.hgetall(space.current(name))
        answers = await pipe.execute()
        records: list[EntityRecord] = []
        for i, name in enumerate(names):
            entity_type, version, created_at, updated_at, principal, expires_at = answers[2 * i]
            expiry = optional_float(expires_at)
            if entity_type is None or not live(expiry, now):
                continue
            current = [current_record(name, entry) for entry in answers[2 * i + 1].values()]
            observations = sorted((o for o in current if live(o.expires_at, now)), key=lambda o: o.id)
            records.append(
                EntityRecord(
                    name,
                    entity_type,
                    int(version),
                    float(created_at),
                    float(updated_at),
                    principal,
                    tuple(observations),
                    expiry,
                )
            )
        return records

    @guarded
    async def list_entities(self, namespace: str, after: str | None, limit: int, now: float) -> list[EntityRecord]:
        space = await self._read_space(namespace)
        if space is None or limit <= 0:
            return []
        found: list[EntityRecord] = []
        start = f"({after}" if after else "-"
        while len(found) < limit:
            names = await self._redis.zrangebylex(space.names, start, "+", start=0, num=max(limit, PAGE_SCAN))
            if not names:
                break
            found.extend(await self._hydrate(space, names, now))
            start = f"({names[-1]}"
        return found[:limit]

    @guarded
    async def get_entities(self, namespace: str, names: Sequence[str], now: float) -> list[EntityRecord]:
        space = await self._read_space(namespace)
        return [] if space is None else await self._hydrate(space, list(dict.fromkeys(names)), now)

    async def _relations(self, space: Space, members: set[str]) -> list[RelationRecord]:
        ordered = sorted(members, key=lambda m: json.loads(m))  # (source, target, type)
        if not ordered:
            return []
        metas = await self._redis.hmget(space.relations, ordered)
        records: list[RelationRecord] = []
        for member, meta in zip(ordered, metas, strict=True):
            if meta is None:
                continue
            key = relation_key(member)
            created_at, principal = _meta(meta)
            records.append(RelationRecord(key.source, key.target, key.relation_type, created_at, principal))
        return records

    async def _members(self, space: Space, names: Sequence[str], *, outgoing: bool, incoming: bool) -> set[str]:
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            if outgoing:
                pipe.smembers(space.out(name))
            if incoming:
                pipe.smembers(space.into(name))
        return {member for answer in await pipe.execute() for member in answer}

    async def _relations_touching(
        self, space: Space, names: Sequence[str], both_ends: bool = False
    ) -> list[RelationRecord]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return []
        members = await self._members(space, unique, outgoing=True, incoming=not both_ends)
        if both_ends:
            wanted = set(unique)
            members = {m for m in members if relation_key(m).target in wanted}
        return await self._relations(space, members)

    @guarded
    async def relations_touching(
        self, namespace: str, names: Sequence[str], *, both_ends: bool = False
    ) -> list[RelationRecord]:
        space = await self._read_space(namespace)
        return [] if space is None else await self._relations_touching(space, names, both_ends)

    @guarded
    async def relations_from(self, namespace: str, names: Sequence[str]) -> list[RelationRecord]:
        space = await self._read_space(namespace)
        unique = list(dict.fromkeys(names))
        if space is None or not unique:
            return []
        return await self._relations(space, await self._members(space, unique, outgoing=True, incoming=False))

    async def _search(
        self, space: Space, query: str, limit: int, offset: int, now: float, any_word: bool
    ) -> list[SearchHit]:
        window = offset + limit
        hits = await ranked(self._redis, space, query_words(query), window, now, any_word)
        matches = await substring(self._redis, space, query, window + len(hits), now)
        return [SearchHit(name, score) for name, score in merge_ranked(hits, matches, limit, offset)]

    @guarded
    async def search(
        self, namespace: str, query: str, limit: int, offset: int, now: float, *, any_word: bool = False
    ) -> list[SearchHit]:
        space = await self._read_space(namespace)
        return [] if space is None else await self._search(space, query, limit, offset, now, any_word)

    @guarded
    async def search_graph(
        self, namespace: str, query: str, limit: int, offset: int, now: float
    ) -> tuple[list[SearchHit], list[EntityRecord], list[RelationRecord]]:
        space = await self._read_space(namespace)
        if space is None:
            return [], [], []
        hits = await self._search(space, query, limit, offset, now, False)
        records = await self._hydrate(space, [h.name for h in hits], now)
        return hits, records, await self._relations_touching(space, [r.name for r in records])

    async def _observations(self, ids: Sequence[int | str]) -> list[ObservationRecord | None]:
        pipe = self._redis.pipeline(transaction=False)
        for oid in ids:
            pipe.hmget(self.keys.obs(oid), OBSERVATION_FIELDS)
        found: list[ObservationRecord | None] = []
        for values in await pipe.execute():
            fields = dict(zip(OBSERVATION_FIELDS, values, strict=True))
            found.append(None if fields["id"] is None else observation_record(fields))
        return found

    async def _observation_spaces(self, ids: Sequence[int]) -> list[str | None]:
        pipe = self._redis.pipeline(transaction=False)
        for oid in ids:
            pipe.hget(self.keys.obs(oid), "space")
        return list(await pipe.execute())

    @guarded
    async def history(self, namespace: str, entity: str, now: float) -> list[ObservationRecord]:
        space = await self._read_space(namespace)
        if space is None:
            return []
        ids = await self._redis.zrange(space.history(entity), 0, -1)
        return [r for r in await self._observations(ids) if r is not None and live(r.expires_at, now)]

    @guarded
    async def observations_by_id(self, namespace: str, ids: Sequence[int], now: float) -> list[ObservationRecord]:
        space = await self._read_space(namespace)
        if space is None or not ids:
            return []
        spaces = await self._observation_spaces(ids)
        mine = [oid for oid, where in zip(ids, spaces, strict=True) if where == space.base]
        return [
            r
            for r in await self._observations(mine)
            if r is not None and r.superseded_by is None and live(r.expires_at, now)
        ]

    @guarded
    async def pending_embeddings(self, limit: int) -> list[tuple[int, str]]:
        ids = [int(oid) for oid in await self._redis.zrange(self.keys.pending, 0, max(limit, 1) - 1)]
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for oid in ids:
            pipe.hmget(self.keys.obs(oid), ["content", "superseded_by"])
        pending: list[tuple[int, str]] = []
        gone: list[int] = []
        for oid, (content, superseded_by) in zip(ids, await pipe.execute(), strict=True):
            if content is None or superseded_by:
                gone.append(oid)
            else:
                pending.append((oid, content))
        if gone:
            await self._redis.zrem(self.keys.pending, *gone)
        return pending

    @guarded
    async def vectors_since(self, namespace: str, after_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        space = await self._read_space(namespace)
        if space is None:
            return []
        ids = await self._redis.zrangebyscore(space.vectors, f"({after_id}", "+inf", start=0, num=limit)
        if not ids:
            return []
        pipe = self._binary.pipeline(transaction=False)
        for oid in ids:
            pipe.hmget(self.keys.obs(oid), ["entity", "vector"])
        rows: list[tuple[int, str, bytes]] = []
        for oid, (entity, vector) in zip(ids, await pipe.execute(), strict=True):
            if entity is not None and vector is not None:
                rows.append((int(oid), entity.decode("utf-8"), bytes(vector)))
        return rows

    @guarded
    async def stats(self, namespace: str, now: float) -> NamespaceStats:
        space = await self._read_space(namespace)
        if space is None:
            return NamespaceStats(namespace, 0, 0, 0)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(space.names)
        pipe.zcount(space.expiring_entities, "-inf", now)
        pipe.zcount(space.live_observations, f"({now}", "+inf")
        pipe.hlen(space.relations)
        names, expired, observations, relations = await pipe.execute()
        return NamespaceStats(namespace, int(names) - int(expired), int(observations), int(relations))

    @guarded
    async def namespaces(self) -> list[str]:
        names = sorted(await self._redis.smembers(self.keys.namespaces))
        found: list[str] = []
        for name in names:
            space = await self._read_space(name)
            if space is not None and await self._redis.zcard(space.names):
                found.append(name)
        return found


def _meta(meta: Any) -> tuple[float, str]:
    created_at, principal = json.loads(meta)
    return float(created_at), str(principal)
