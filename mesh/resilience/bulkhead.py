"""A bulkhead: at most ``limit`` calls at once, and a bounded wait queue ordered by priority.

Waiters are served highest priority first, first come first served within a priority. A freed
slot is handed straight to the next waiter, so a newcomer can never overtake the queue. When the
queue is full a newcomer is refused at once with :class:`BulkheadFullError` ("busy") — unless
``shed_lower_priority`` is on and it outranks the lowest-priority waiter, which is then refused
in its place (a priority call is not lost behind background work).

A waiter that is cancelled, or whose deadline passes, leaves the queue at once; if a slot was
handed to it in the same instant, the slot goes on to the next waiter instead of leaking.
"""

from __future__ import annotations

import heapq
from types import TracebackType
from typing import Any, Literal

import anyio

from mesh.resilience.deadline import Deadline
from mesh.resilience.errors import BulkheadFullError, DeadlineExceeded

__all__ = ["Bulkhead", "BulkheadSlot"]

_Status = Literal["waiting", "granted", "shed", "left"]


class _Waiter:
    __slots__ = ("event", "priority", "status")

    def __init__(self, priority: int) -> None:
        self.event = anyio.Event()
        self.priority = priority
        self.status: _Status = "waiting"


class Bulkhead:
    """``async with bulkhead.slot(priority=0, deadline=None):`` around the protected call."""

    def __init__(self, limit: int, queue_limit: int = 0, *, name: str = "", shed_lower_priority: bool = True) -> None:
        if limit < 1:
            raise ValueError("a bulkhead needs a limit of at least 1")
        if queue_limit < 0:
            raise ValueError("queue_limit may not be negative")
        self.name = name
        self.shed_lower_priority = shed_lower_priority
        self._limit = limit
        self._queue_limit = queue_limit
        self._active = 0
        self._queued = 0  # live waiters; the heap may also hold entries of waiters that left
        self._heap: list[tuple[int, int, _Waiter]] = []
        self._sequence = 0
        self._admitted = 0
        self._rejected = 0
        self._shed = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def queue_limit(self) -> int:
        return self._queue_limit

    @property
    def active(self) -> int:
        """Calls holding a slot."""
        return self._active

    @property
    def queued(self) -> int:
        """Calls waiting for a slot."""
        return self._queued

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "active": self._active,
            "queued": self._queued,
            "limit": self._limit,
            "queue_limit": self._queue_limit,
            "totals": {"admitted": self._admitted, "rejected": self._rejected, "shed": self._shed},
        }

    def admits_now(self) -> bool:
        """Whether a call arriving now gets a slot without waiting."""
        return self._active < self._limit and not self._queued

    def slot(self, priority: int = 0, deadline: Deadline | None = None) -> BulkheadSlot:
        """An async context manager that holds one slot for its body.

        Raises :class:`BulkheadFullError` when it cannot even queue, :class:`DeadlineExceeded` when
        ``deadline`` passes (or has passed) before a slot is free.
        """
        return BulkheadSlot(self, priority, deadline)

    def resize(self, limit: int, queue_limit: int | None = None) -> None:
        """Change the limits (a policy reload). Growth admits waiters now; shrinking takes effect as calls end."""
        if limit < 1:
            raise ValueError("a bulkhead needs a limit of at least 1")
        if queue_limit is not None:
            if queue_limit < 0:
                raise ValueError("queue_limit may not be negative")
            self._queue_limit = queue_limit
        self._limit = limit
        while self._active < self._limit and self._grant_next():
            self._active += 1

    async def acquire(self, priority: int = 0, deadline: Deadline | None = None) -> None:
        """Take a slot, waiting in the queue if need be; pair with :meth:`release`."""
        if deadline is not None and deadline.expired:
            raise DeadlineExceeded(deadline, "waiting for a free call slot")
        if self._active < self._limit and not self._queued:
            self._active += 1
            self._admitted += 1
            return
        if self._queued >= self._queue_limit and not (self.shed_lower_priority and self._shed_below(priority)):
            self._rejected += 1
            raise BulkheadFullError(self.name, self._limit, self._queue_limit)
        waiter = _Waiter(priority)
        self._sequence += 1
        heapq.heappush(self._heap, (-priority, self._sequence, waiter))
        self._queued += 1
        if deadline is None or not deadline.is_finite:
            await self._wait(waiter)
        else:
            with anyio.move_on_after(deadline.remaining()) as scope:
                await self._wait(waiter)
            if scope.cancelled_caught:
                raise DeadlineExceeded(deadline, "waiting for a free call slot")
        if waiter.status == "shed":
            raise BulkheadFullError(self.name, self._limit, self._queue_limit, shed=True)

    def release(self) -> None:
        """Give a slot back: it goes to the next waiter, if any."""
        if self._active > self._limit or not self._grant_next():
            self._active -= 1

    async def _wait(self, waiter: _Waiter) -> None:
        try:
            await waiter.event.wait()
        except BaseException:
            if waiter.status == "granted":
                self.release()  # handed a slot while being cancelled: pass it on
            elif waiter.status == "waiting":
                waiter.status = "left"
                self._queued -= 1
                self._compact()
            raise

    def _grant_next(self) -> bool:
        heap = self._heap
        while heap:
            waiter = heapq.heappop(heap)[2]
            if waiter.status == "waiting":
                waiter.status = "granted"
                self._queued -= 1
                self._admitted += 1
                waiter.event.set()
                return True
        return False

    def _shed_below(self, priority: int) -> bool:
        """Refuse the lowest-priority, most recent waiter if ``priority`` outranks it."""
        victim: tuple[int, int, _Waiter] | None = None
        for entry in self._heap:
            if entry[2].status == "waiting" and (victim is None or entry[:2] > victim[:2]):
                victim = entry
        if victim is None or victim[2].priority >= priority:
            return False
        waiter = victim[2]
        waiter.status = "shed"
        self._queued -= 1
        self._shed += 1
        waiter.event.set()
        self._compact()
        return True

    def _compact(self) -> None:
        heap = self._heap
        if len(heap) > 2 * self._queued + 16:
            heap[:] = [entry for entry in heap if entry[2].status == "waiting"]
            heapq.heapify(heap)


class BulkheadSlot:
    """The context manager returned by :meth:`Bulkhead.slot`."""

    __slots__ = ("_bulkhead", "_deadline", "_priority")

    def __init__(self, bulkhead: Bulkhead, priority: int, deadline: Deadline | None) -> None:
        self._bulkhead = bulkhead
        self._priority = priority
        self._deadline = deadline

    async def __aenter__(self) -> None:
        await self._bulkhead.acquire(self._priority, self._deadline)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bulkhead.release()
