"""A concurrency queue per provider: at most ``max_concurrency`` calls run, ``queue_limit`` more wait.

A call that finds the queue full is refused at once with ``provider_busy`` (and moves on to the next
model of its alias) instead of waiting without bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from servers.aiml.errors import AimlError


class ProviderQueue:
    def __init__(self, provider: str, max_concurrency: int, queue_limit: int) -> None:
        self.provider = provider
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self.queue_limit = queue_limit
        self.waiting = 0

    @property
    def running(self) -> int:
        return int(self.limiter.borrowed_tokens)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.limiter.available_tokens == 0 and self.waiting >= self.queue_limit:
            raise AimlError(
                "provider_busy",
                f"the provider {self.provider!r} has {self.running} calls running and {self.waiting} waiting: "
                "try again later or use another model",
            )
        self.waiting += 1
        try:
            await self.limiter.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.limiter.release()
