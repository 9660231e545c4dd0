"""An async circuit breaker per instance, on the classic closed / open / half-open state machine.

``closed``
    Calls pass. The breaker opens after ``failure_threshold`` consecutive failures, or when at
    least ``min_calls`` of the last ``window`` calls have been recorded and the share of failures
    among them reaches ``failure_ratio``.
``open``
    Calls are refused with :class:`CircuitOpenError` until ``cooldown_seconds`` have passed.
``half_open``
    Exactly one trial call is admitted; others are refused while it is in flight. Its success
    closes the circuit (counters reset); its failure opens it again and restarts the cool-down.

The open → half-open step happens when the breaker is next looked at (``state``, ``allow()``,
``snapshot()``): nothing runs in the background. Whoever needs the moment (the gateway, to show
an instance's tools again) waits ``seconds_until_trial`` and then reads ``state``.

Outcomes are recorded only against the state they were admitted in: a slow call admitted while
closed that fails after the circuit opened does not restart the cool-down, and it cannot decide
the half-open trial. Written for pybreaker's known trap: the outcome of an async call is taken
when the awaited call finishes, never when a coroutine object is created.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mesh.resilience.deadline import Clock
from mesh.resilience.errors import CircuitOpenError

__all__ = [
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakers",
    "StateListener",
]

log = logging.getLogger("mcp_suite.mesh.resilience.breaker")

BreakerState = Literal["closed", "open", "half_open"]
StateListener = Callable[[BreakerState, BreakerState], None]
"""Called as ``listener(old_state, new_state)`` after every transition."""

_CLOSED: BreakerState = "closed"
_OPEN: BreakerState = "open"
_HALF_OPEN: BreakerState = "half_open"


class BreakerSettings(BaseModel):
    """When a breaker opens and how long it stays open. Frozen; a policy level may override any field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_threshold: int = Field(default=5, ge=1, description="consecutive failures that open the circuit")
    failure_ratio: float = Field(
        default=0.5, gt=0.0, le=1.0, description="share of failures over the window that opens the circuit"
    )
    window: int = Field(default=20, ge=1, le=10_000, description="how many recent calls the failure ratio covers")
    min_calls: int = Field(default=10, ge=1, description="calls the window must hold before the ratio counts")
    cooldown_seconds: float = Field(
        default=10.0, gt=0.0, le=3600.0, description="how long the circuit stays open before a trial call"
    )

    @model_validator(mode="after")
    def _min_calls_fit_the_window(self) -> BreakerSettings:
        if self.min_calls > self.window:
            raise ValueError(f"min_calls ({self.min_calls}) cannot exceed window ({self.window})")
        return self


class CircuitBreaker:
    """One instance's breaker. Use ``async with breaker.call():`` around the call, or the manual API.

    Manual API: ``allow()`` (or ``check()``, which raises) before the call, then exactly one of
    ``record_success()``, ``record_failure()`` or ``release()`` (no verdict, e.g. the caller
    cancelled) after it. In half-open state ``allow()`` returning True hands out the one trial,
    so the matching record is required or the breaker waits for a verdict forever.
    """

    __slots__ = (
        "_clock",
        "_consecutive",
        "_generation",
        "_listeners",
        "_opened_at",
        "_opened_at_unix",
        "_state",
        "_totals",
        "_trial_in_flight",
        "_window",
        "_window_count",
        "_window_failures",
        "_window_position",
        "failure_types",
        "instance_id",
        "settings",
    )

    def __init__(
        self,
        instance_id: str = "",
        settings: BreakerSettings | None = None,
        *,
        failure_types: tuple[type[BaseException], ...] = (Exception,),
        clock: Clock = time.monotonic,
    ) -> None:
        self.instance_id = instance_id
        self.settings = settings or BreakerSettings()
        self.failure_types = failure_types
        self._clock = clock
        self._state: BreakerState = _CLOSED
        self._generation = 0
        self._consecutive = 0
        self._window = bytearray(self.settings.window)
        self._window_position = 0
        self._window_count = 0
        self._window_failures = 0
        self._opened_at: float | None = None
        self._opened_at_unix: float | None = None
        self._trial_in_flight = False
        self._listeners: list[StateListener] = []
        # calls admitted, successes, failures, rejected, times opened
        self._totals = [0, 0, 0, 0, 0]

    # -- looking at it -------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open``; reading it performs a due open → half-open step."""
        if self._state == _OPEN:
            self._maybe_half_open()
        return self._state

    @property
    def seconds_until_trial(self) -> float:
        """How long until a trial call is admitted: 0 unless the circuit is open."""
        if self.state != _OPEN or self._opened_at is None:
            return 0.0
        return max(self._opened_at + self.settings.cooldown_seconds - self._clock(), 0.0)

    @property
    def failure_ratio(self) -> float:
        """The share of failures among the calls in the window (0.0 when it is empty)."""
        return self._window_failures / self._window_count if self._window_count else 0.0

    def snapshot(self) -> dict[str, Any]:
        """The breaker for a status page."""
        state = self.state
        admitted, successes, failures, rejected, opened = self._totals
        return {
            "instance_id": self.instance_id,
            "state": state,
            "consecutive_failures": self._consecutive,
            "failure_ratio": round(self.failure_ratio, 4),
            "window_calls": self._window_count,
            "opened_at": self._opened_at,
            "opened_at_unix": self._opened_at_unix,
            "next_trial_in_seconds": self.seconds_until_trial if state == _OPEN else None,
            "trial_in_flight": self._trial_in_flight,
            "totals": {
                "calls": admitted,
                "successes": successes,
                "failures": failures,
                "rejected": rejected,
                "times_opened": opened,
            },
        }

    def on_state_change(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener(old, new)`` after every transition; returns a function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- admitting calls -----------------------------------------------------------------------

    def allow(self) -> bool:
        """Whether a call may go now. In half-open state a True answer claims the one trial call."""
        state = self._state
        if state == _CLOSED:
            self._totals[0] += 1
            return True
        if state == _OPEN:
            self._maybe_half_open()
            if self._state == _OPEN:
                self._totals[3] += 1
                return False
        if self._trial_in_flight:
            self._totals[3] += 1
            return False
        self._trial_in_flight = True
        self._totals[0] += 1
        return True

    def check(self) -> None:
        """Like :meth:`allow`, but raises :class:`CircuitOpenError` instead of answering False."""
        if not self.allow():
            raise self.open_error()

    def open_error(self) -> CircuitOpenError:
        """The error that describes why a call is refused right now."""
        return CircuitOpenError(self.instance_id, self.seconds_until_trial, self.state)

    def call(self) -> BreakerCall:
        """``async with breaker.call() as attempt:`` — refused with CircuitOpenError, else the outcome is recorded.

        Leaving with no exception records a success unless ``attempt.failure()`` was called; an
        exception of one of ``failure_types`` records a failure; any other ``Exception`` means the
        instance answered (a success); a cancellation records nothing.
        """
        return BreakerCall(self)

    # -- recording outcomes --------------------------------------------------------------------

    def record_success(self) -> None:
        self._record(self._generation, True)

    def record_failure(self) -> None:
        """A failed call (or a failure noticed without an exception, such as a transport error result)."""
        self._record(self._generation, False)

    def release(self) -> None:
        """The admitted call ended without a verdict (cancelled): a half-open trial is handed back."""
        self._release(self._generation)

    def is_failure(self, exc: BaseException) -> bool:
        """Whether ``exc`` counts against the instance."""
        return isinstance(exc, self.failure_types)

    # -- forcing a state -----------------------------------------------------------------------

    def trip(self) -> None:
        """Open the circuit now (an operator's decision or another detector's); the cool-down starts."""
        self._open()

    def reset(self) -> None:
        """Close the circuit now and forget the counters."""
        if self._state != _CLOSED:
            self._transition(_CLOSED)
        self._clear_counters()

    # -- the machine ---------------------------------------------------------------------------

    def _record(self, generation: int, ok: bool) -> None:
        if generation != self._generation:
            return  # admitted under an earlier state: it decides nothing now
        state = self._state
        if state == _CLOSED:
            if ok:
                self._totals[1] += 1
                self._consecutive = 0
                self._push(0)
            else:
                self._totals[2] += 1
                self._consecutive += 1
                self._push(1)
            settings = self.settings
            # The ratio is judged after every call: the call that fills the window to min_calls
            # may be a success and still complete a failing majority.
            if self._consecutive >= settings.failure_threshold or (
                self._window_failures
                and self._window_count >= settings.min_calls
                and self._window_failures >= settings.failure_ratio * self._window_count
            ):
                self._open()
        elif state == _HALF_OPEN and self._trial_in_flight:
            self._trial_in_flight = False
            if ok:
                self._totals[1] += 1
                self._clear_counters()
                self._transition(_CLOSED)
            else:
                self._totals[2] += 1
                self._consecutive += 1
                self._open()

    def _release(self, generation: int) -> None:
        if generation == self._generation and self._state == _HALF_OPEN:
            self._trial_in_flight = False

    def _push(self, failed: int) -> None:
        window = self._window
        position = self._window_position
        if self._window_count == len(window):
            self._window_failures -= window[position]
        else:
            self._window_count += 1
        window[position] = failed
        self._window_failures += failed
        position += 1
        self._window_position = 0 if position == len(window) else position

    def _clear_counters(self) -> None:
        self._consecutive = 0
        self._window_position = 0
        self._window_count = 0
        self._window_failures = 0

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._opened_at_unix = time.time()
        self._trial_in_flight = False
        self._totals[4] += 1
        self._transition(_OPEN)

    def _maybe_half_open(self) -> None:
        opened_at = self._opened_at
        if opened_at is not None and self._clock() - opened_at >= self.settings.cooldown_seconds:
            self._trial_in_flight = False
            self._transition(_HALF_OPEN)

    def _transition(self, new: BreakerState) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        if new == _CLOSED:
            self._opened_at = None
            self._opened_at_unix = None
        if old == new:
            return
        log.info(
            "circuit %s: %s -> %s",
            self.instance_id,
            old,
            new,
            extra={"instance_id": self.instance_id, "old_state": old, "new_state": new},
        )
        for listener in tuple(self._listeners):
            try:
                listener(old, new)
            except Exception:
                log.exception("a circuit-breaker state listener failed", extra={"instance_id": self.instance_id})


class BreakerCall:
    """One admitted call, as an async context manager (returned by :meth:`CircuitBreaker.call`)."""

    __slots__ = ("_breaker", "_failed", "_generation")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        self._generation = -1
        self._failed = False

    def failure(self) -> None:
        """Record this call as failed even though it leaves without an exception."""
        self._failed = True

    async def __aenter__(self) -> BreakerCall:
        breaker = self._breaker
        if not breaker.allow():
            raise breaker.open_error()
        self._generation = breaker._generation
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        breaker = self._breaker
        if exc is None:
            breaker._record(self._generation, not self._failed)
        elif breaker.is_failure(exc):
            breaker._record(self._generation, False)
        elif isinstance(exc, Exception):
            breaker._record(self._generation, not self._failed)
        else:  # cancelled (or the process is stopping): no verdict on the instance
            breaker._release(self._generation)


class CircuitBreakers:
    """The breakers of one pool, one per instance id, made on first use with the same settings."""

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        *,
        failure_types: tuple[type[BaseException], ...] = (Exception,),
        clock: Clock = time.monotonic,
        on_state_change: Callable[[str, BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.settings = settings or BreakerSettings()
        self.failure_types = failure_types
        self._clock = clock
        self._on_state_change = on_state_change
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, instance_id: str) -> CircuitBreaker:
        """The breaker of ``instance_id``, created closed if it has none yet."""
        breaker = self._breakers.get(instance_id)
        if breaker is None:
            breaker = CircuitBreaker(instance_id, self.settings, failure_types=self.failure_types, clock=self._clock)
            callback = self._on_state_change
            if callback is not None:
                breaker.on_state_change(lambda old, new: callback(instance_id, old, new))
            self._breakers[instance_id] = breaker
        return breaker

    def state(self, instance_id: str) -> BreakerState:
        """The state of ``instance_id``'s breaker (``closed`` for one never seen), without creating it."""
        breaker = self._breakers.get(instance_id)
        return breaker.state if breaker is not None else _CLOSED

    def forget(self, instance_id: str) -> None:
        """Drop the breaker of an instance that left the pool."""
        self._breakers.pop(instance_id, None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {instance_id: breaker.snapshot() for instance_id, breaker in self._breakers.items()}

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._breakers

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(tuple(self._breakers.values()))

    def __len__(self) -> int:
        return len(self._breakers)
