"""In-process locks by key, taken in key order, forgotten once nobody holds or waits for them.

A server serialises the writers of one thing (a file's real path, a memory entity) inside its own
process with them; whatever guards against other processes (the filesystem's atomic renames, a
store's transactions) still does. Keys are taken sorted, so two holders of overlapping key sets
never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


class KeyedLocks:
    """One ``anyio.Lock`` per key while some task holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, *keys: str) -> AsyncIterator[None]:
        """Hold every lock of ``keys`` (duplicates once) for the block."""
        ordered = sorted(set(keys))
        for key in ordered:
            lock, users = self._locks.get(key) or (anyio.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        acquired: list[anyio.Lock] = []
        try:
            for key in ordered:
                lock = self._locks[key][0]
                await lock.acquire()
                acquired.append(lock)
            yield
        finally:
            for lock in reversed(acquired):
                lock.release()
            for key in ordered:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """How many keys are held or waited for."""
        return len(self._locks)
