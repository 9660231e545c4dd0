"""End-to-end deadlines: an absolute expiry that travels with a call, and a scope that enforces it.

A :class:`Deadline` is a point on a monotonic clock. The gateway makes one when a request arrives
(``Deadline.after(timeout)``), narrows it with the policy's timeout (``min(deadline, other)``) and
passes what is left (``remaining()``) to the next hop. :func:`deadline_scope` and
:func:`run_with_deadline` cancel the work inside when the deadline passes and raise
:class:`DeadlineExceeded` instead of anyio's bare ``TimeoutError``; a ``TimeoutError`` raised by
the work itself passes through unchanged.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar

import anyio

from mesh.resilience.errors import DeadlineExceeded

__all__ = ["Clock", "Deadline", "DeadlineScope", "deadline_scope", "run_with_deadline"]

Clock = Callable[[], float]
"""Monotonic seconds; ``time.monotonic`` unless a test drives time itself."""

_T = TypeVar("_T")


@dataclass(frozen=True, order=True, slots=True)
class Deadline:
    """An absolute expiry on ``clock``. Ordered by expiry, so ``min(a, b)`` is the sooner one.

    Only compare deadlines made on the same clock.
    """

    expires_at: float
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now (``math.inf`` for none)."""
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls, *, clock: Clock = time.monotonic) -> Deadline:
        """A deadline that never passes."""
        return cls(math.inf, clock)

    def remaining(self) -> float:
        """Seconds left, never negative (``math.inf`` for :meth:`never`)."""
        return max(self.expires_at - self.clock(), 0.0)

    @property
    def expired(self) -> bool:
        return self.clock() >= self.expires_at

    @property
    def is_finite(self) -> bool:
        return not math.isinf(self.expires_at)

    def sooner(self, other: Deadline | None) -> Deadline:
        """The earlier of this deadline and ``other`` (``None`` means no other deadline)."""
        return self if other is None or self.expires_at <= other.expires_at else other

    def within(self, seconds: float | None) -> Deadline:
        """This deadline narrowed to at most ``seconds`` from now (a policy timeout); ``None`` leaves it."""
        if seconds is None:
            return self
        return self.sooner(Deadline.after(seconds, clock=self.clock))

    @staticmethod
    def earliest(*deadlines: Deadline | None) -> Deadline | None:
        """The soonest of ``deadlines``, ignoring ``None``; ``None`` if there are none."""
        found: Deadline | None = None
        for deadline in deadlines:
            if deadline is not None and (found is None or deadline.expires_at < found.expires_at):
                found = deadline
        return found


class DeadlineScope:
    """A context manager that cancels its body when the deadline passes, then raises :class:`DeadlineExceeded`.

    Entering with an already expired deadline raises at once: work that cannot finish is not
    started. ``None`` or a deadline that never passes makes the scope a no-op.
    """

    __slots__ = ("_deadline", "_scope", "_what")

    def __init__(self, deadline: Deadline | None, what: str = "the call") -> None:
        self._deadline = deadline
        self._what = what
        self._scope: anyio.CancelScope | None = None

    def __enter__(self) -> DeadlineScope:
        deadline = self._deadline
        if deadline is None or not deadline.is_finite:
            return self
        remaining = deadline.remaining()
        if remaining <= 0.0:
            raise DeadlineExceeded(deadline, self._what)
        self._scope = anyio.move_on_after(remaining)
        self._scope.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        scope = self._scope
        if scope is None:
            return
        self._scope = None
        # The anyio scope swallows only its own cancellation, and then cancelled_caught is set:
        # that case becomes DeadlineExceeded; anything else propagates as it is.
        scope.__exit__(exc_type, exc, tb)
        if scope.cancelled_caught:
            raise DeadlineExceeded(self._deadline, self._what) from None


def deadline_scope(deadline: Deadline | None, what: str = "the call") -> DeadlineScope:
    """``with deadline_scope(deadline): ...`` — the body is cancelled at the deadline and DeadlineExceeded raised."""
    return DeadlineScope(deadline, what)


async def run_with_deadline(deadline: Deadline | None, awaitable: Awaitable[_T], what: str = "the call") -> _T:
    """Await ``awaitable`` under ``deadline``; raises :class:`DeadlineExceeded` if it passes first."""
    try:
        with DeadlineScope(deadline, what):
            return await awaitable
    except DeadlineExceeded:
        if inspect.iscoroutine(awaitable) and inspect.getcoroutinestate(awaitable) == inspect.CORO_CREATED:
            awaitable.close()  # never started because the deadline had already passed
        raise
