"""What a store migrated from the old layout (one text per entity) must still find: the same on every store."""

from __future__ import annotations

import time
from typing import Any

from servers.memory.store.base import GraphStore, Provenance

MIGRATED_FINDS: tuple[Any, ...] = (["Ada"], ["Ada", "Bob"], [], ["Ada"], ["Bob"])
"""Words across two observations; a word two entities hold; a superseded text; a substring; a new write."""


async def what_a_migrated_store_finds(store: GraphStore) -> tuple[Any, ...]:
    """The searches of :data:`MIGRATED_FINDS` on the legacy fixture's namespace ``ns``, one write between."""
    now = time.time()
    across = [h.name for h in await store.search("ns", "dinghy sourdough", 10, 0, now)]
    sails = sorted(h.name for h in await store.search("ns", "sails", 10, 0, now))
    superseded = await store.search("ns", "paris", 10, 0, now)
    substring = [h.name for h in await store.search("ns", "AKES SOUR", 10, 0, now)]
    await store.add_observations("ns", [("Bob", ["drinks espresso"])], Provenance("new", "add", now))
    espresso = [h.name for h in await store.search("ns", "espresso", 10, 0, now)]
    return across, sails, superseded, substring, espresso
