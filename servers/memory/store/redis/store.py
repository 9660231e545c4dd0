"""The Redis graph store: the writes, reads and upkeep of :mod:`.writes`, :mod:`.reads` and :mod:`.upkeep`."""

from __future__ import annotations

from servers.memory.store.redis.reads import RedisReads
from servers.memory.store.redis.upkeep import RedisUpkeep


class RedisGraphStore(RedisUpkeep, RedisReads):
    """Short-term working memory on Redis; see :mod:`servers.memory.store.redis.keys` for the layout."""

    kind = "redis"
