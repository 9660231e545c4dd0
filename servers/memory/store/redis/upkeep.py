"""The Redis store's upkeep beside the serving: vectors for ``recall``, the purge of what expired.

The purge deletes observations and entities whose TTL ran out (a transaction per entity, watched
like any write, so it never races a writer) and reclaims the keys of namespace generations whose
namespace TTL ran out (readers stopped seeing them the moment the generation key expired).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from servers.memory.store.redis.connection import Plan, glob_escaped, guarded
from servers.memory.store.redis.keys import Space, live, optional_float
from servers.memory.store.redis.writes import (
    Current,
    RedisWrites,
    queue_drop_entity,
    queue_forget_observation,
    queue_text,
)

STORE_VECTOR = """
local space = redis.call('HGET', KEYS[1], 'space')
if space then
  redis.call('HSET', KEYS[1], 'vector', ARGV[1])
  redis.call('ZADD', space .. 'vec', ARGV[2], ARGV[2])
end
redis.call('ZREM', KEYS[2], ARGV[2])
return space and 1 or 0
"""
"""Store a vector only if its observation is still there (a delete may have won), and index it."""
SCAN_BATCH = 1000


class RedisUpkeep(RedisWrites):
    @guarded
    async def store_embeddings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        if not rows:
            return
        pipe = self._binary.pipeline(transaction=False)
        for oid, vector in rows:
            pipe.eval(STORE_VECTOR, 2, self.keys.obs(oid), self.keys.pending, vector, oid)
        await pipe.execute()

    def _space_of(self, base: str) -> Space:
        namespace, generation = base[len(self.keys.prefix) + len("ns:") : -1].rsplit("@", 1)
        return self.keys.space(namespace, generation)

    @guarded
    async def purge_expired(self, now: float) -> int:
        due = await self._redis.zrangebyscore(self.keys.expiring, "-inf", now)
        entities: dict[tuple[str, str], set[int]] = {}
        orphans: list[str] = []
        observation_members: list[tuple[str, str, int]] = []
        for member in due:
            kind, base, key = json.loads(member)
            if kind == "e":
                entities.setdefault((base, key), set())
            else:
                observation_members.append((member, base, int(key)))
        if observation_members:
            pipe = self._redis.pipeline(transaction=False)
            for _, _, oid in observation_members:
                pipe.hget(self.keys.obs(oid), "entity")
            for (member, base, oid), entity in zip(observation_members, await pipe.execute(), strict=True):
                if entity is None:
                    orphans.append(member)
                else:
                    entities.setdefault((base, entity), set()).add(oid)
        if orphans:
            await self._redis.zrem(self.keys.expiring, *orphans)
        removed = 0
        for (base, name), ids in entities.items():
            removed += await self._purge_entity(self._space_of(base), name, ids, now)
        return removed + await self._reclaim_generations()

    async def _purge_entity(self, space: Space, name: str, ids: set[int], now: float) -> int:
        async def plan(pipe: Any, _: Space) -> Plan[int]:
            fields, current = await self._entity(pipe, space, name)
            if fields and not live(optional_float(fields.get("expires_at")), now):
                history = await pipe.zrange(space.history(name), 0, -1)
                return (lambda p: queue_drop_entity(p, space, name, fields, history)), lambda _: 1 + len(history)
            expired = [oid for oid in ids if await self._expired(pipe, oid, now)]
            gone: Current = {key: r for key, r in current.items() if r.id in set(expired)}

            def queue(p: Any) -> None:
                if not fields:
                    p.zrem(space.keys.expiring, space.expiring_entity(name))
                for oid in expired:
                    queue_forget_observation(p, space, name, oid)
                for key in gone:
                    p.hdel(space.current(name), key)
                    current.pop(key)
                if fields and gone:
                    queue_text(p, space, name, fields, current, now)

            return queue, lambda _: len(expired)

        return await self._transact(space.namespace, lambda s: [space.entity(name)], plan, entities=[name], fixed=space)

    async def _expired(self, pipe: Any, oid: int, now: float) -> bool:
        expires_at = optional_float(await pipe.hget(self.keys.obs(oid), "expires_at"))
        return expires_at is not None and expires_at <= now

    async def _reclaim_generations(self) -> int:
        """Delete the keys of namespace generations whose TTL ran out; the entities and observations they held."""
        if self.ttl_seconds is None:
            return 0
        removed = 0
        for namespace in sorted(await self._redis.smembers(self.keys.namespaces)):
            current = await self._redis.get(self.keys.generation(namespace))
            for generation in await self._redis.smembers(self.keys.generations(namespace)):
                if generation != current:
                    removed += await self._wipe(self.keys.space(namespace, generation))
                    await self._redis.srem(self.keys.generations(namespace), generation)
            if current is None and not await self._redis.scard(self.keys.generations(namespace)):
                await self._redis.srem(self.keys.namespaces, namespace)
        return removed

    async def _wipe(self, space: Space) -> int:
        entities = int(await self._redis.zcard(space.names))
        ids = await self._redis.zrange(space.observations, 0, -1)
        for start in range(0, len(ids), SCAN_BATCH):
            chunk = ids[start : start + SCAN_BATCH]
            await self._redis.unlink(*(self.keys.obs(oid) for oid in chunk))
            await self._redis.zrem(self.keys.pending, *chunk)
        await self._unlink_matching(glob_escaped(space.base) + "*")
        return entities + len(ids)

    async def _unlink_matching(self, pattern: str) -> int:
        count = 0
        batch: list[str] = []
        async for key in self._redis.scan_iter(match=pattern, count=SCAN_BATCH):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                count += int(await self._redis.unlink(*batch))
                batch = []
        if batch:
            count += int(await self._redis.unlink(*batch))
        return count

    async def drop_prefix(self) -> int:
        """Delete every key under this store's prefix (tests and benches clean up with it)."""
        return await self._unlink_matching(glob_escaped(self.keys.prefix) + "*")
