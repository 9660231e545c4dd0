"""Calls that queue while a shared worker is busy and go together when it is free: :class:`Carpool`.

Whoever finds the worker free drives: it hands the queue to ``drive``, which takes the passengers
it serves off the queue's front (its own may be further back) and sets each one's ``done``. The
drive runs shielded from the driver's own cancellation, so the passengers taken along are never
stranded; then the wheel goes to the next waiter. A cancelled passenger leaves the queue if its
drive has not started. The local embedder's batched model runs and the memory server's batched
vector scans are both carpools.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import anyio
import anyio.lowlevel


class Passenger(Protocol):
    @property
    def done(self) -> anyio.Event:
        """Set by the drive that served it."""

    @property
    def error(self) -> BaseException | None:
        """What that drive raised for it, if it failed."""


P = TypeVar("P", bound=Passenger)


class Carpool(Generic[P]):
    """Serves the passengers queued meanwhile with one ``drive(queue)`` at a time."""

    def __init__(self, drive: Callable[[list[P]], Awaitable[None]]) -> None:
        self._drive = drive
        self._queue: list[P] = []
        self._driving = False
        self._turn = anyio.Event()

    @property
    def waiting(self) -> int:
        """Passengers queued and not yet taken by a drive."""
        return len(self._queue)

    async def ride(self, passenger: P) -> None:
        """Queue ``passenger`` and return once a drive has served it; raise its error if it failed."""
        self._queue.append(passenger)
        try:
            while not passenger.done.is_set():
                if self._driving:
                    await self._turn.wait()
                    continue
                self._driving = True
                try:
                    with anyio.CancelScope(shield=True):
                        await self._drive(self._queue)
                finally:
                    self._driving = False
                    turn, self._turn = self._turn, anyio.Event()
                    turn.set()
                await anyio.lowlevel.checkpoint()  # let the passengers just served, and a cancellation, run
        finally:
            if not passenger.done.is_set() and passenger in self._queue:
                self._queue.remove(passenger)
        if passenger.error is not None:
            raise passenger.error
