"""The errors the resilience building blocks raise. Each carries a stable ``code`` and its numbers as attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from mesh.resilience.deadline import Deadline


class ResilienceError(Exception):
    """A call was refused or cut short to protect an instance or the caller; nothing was wrong with the request."""

    code: ClassVar[str] = "resilience"


class CircuitOpenError(ResilienceError):
    """The instance's circuit breaker refuses calls: it is open, or half-open with its one trial call in flight."""

    code: ClassVar[str] = "circuit_open"

    def __init__(self, instance_id: str, retry_after: float, state: str = "open") -> None:
        self.instance_id = instance_id
        self.retry_after = max(retry_after, 0.0)
        self.state = state
        who = instance_id or "this instance"
        half_open = state == "half_open"
        detail = "a trial call is in flight" if half_open else f"next trial call in {self.retry_after:.1f}s"
        super().__init__(f"circuit for {who} is {state.replace('_', '-')}: {detail}")


class BulkheadFullError(ResilienceError):
    """Every slot is busy and the wait queue is full (or this waiter was shed for a higher-priority one)."""

    code: ClassVar[str] = "busy"

    def __init__(self, name: str, limit: int, queue_limit: int, *, shed: bool = False) -> None:
        self.name = name
        self.limit = limit
        self.queue_limit = queue_limit
        self.shed = shed
        who = f"{name} is busy" if name else "busy"
        why = "a higher-priority call took this place in the queue" if shed else "try again later"
        super().__init__(
            f"{who}: all {limit} concurrent call slots are taken and the wait queue of {queue_limit} is full; {why}"
        )


class DeadlineExceeded(ResilienceError, TimeoutError):
    """The call's deadline passed before it finished (or before it could start)."""

    code: ClassVar[str] = "deadline_exceeded"

    def __init__(self, deadline: Deadline | None = None, what: str = "the call") -> None:
        self.deadline = deadline
        super().__init__(f"deadline exceeded: {what} did not finish in time")
