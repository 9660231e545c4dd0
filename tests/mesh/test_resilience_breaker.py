"""The async circuit breaker: closed, open, half-open with one trial, and what counts as a failure."""

from __future__ import annotations

import anyio
import pytest
from pydantic import ValidationError

from mesh.resilience import (
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    CircuitBreakers,
    CircuitOpenError,
    ResilienceError,
)


class FakeClock:
    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(ConnectionError):
    pass


def make(clock: FakeClock, **settings: float) -> CircuitBreaker:
    values = {"failure_threshold": 3, "window": 10, "min_calls": 10, "cooldown_seconds": 10.0, **settings}
    return CircuitBreaker("search-1", BreakerSettings(**values), clock=clock)  # type: ignore[arg-type]


async def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Boom):
            async with breaker.call():
                raise Boom("connection refused")


async def succeed(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        async with breaker.call():
            await anyio.lowlevel.checkpoint()


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.settings.failure_threshold):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "open"


def test_breaker_settings_have_sane_defaults_and_refuse_min_calls_above_the_window() -> None:
    settings = BreakerSettings()
    assert (settings.failure_threshold, settings.failure_ratio, settings.window, settings.min_calls) == (5, 0.5, 20, 10)
    assert settings.cooldown_seconds == 10.0
    with pytest.raises(ValidationError, match="min_calls"):
        BreakerSettings(window=5, min_calls=6)
    with pytest.raises(ValidationError):
        BreakerSettings(failure_ratio=1.5)
    with pytest.raises(ValidationError):
        BreakerSettings(unknown=1)  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_breaker_starts_closed_and_lets_calls_through() -> None:
    breaker = make(FakeClock())
    await succeed(breaker, 20)
    assert breaker.state == "closed"
    assert breaker.snapshot()["totals"]["successes"] == 20


@pytest.mark.anyio
async def test_breaker_opens_after_consecutive_failures() -> None:
    breaker = make(FakeClock(), failure_threshold=3)
    await fail(breaker, 2)
    assert breaker.state == "closed"
    await fail(breaker)
    assert breaker.state == "open"


@pytest.mark.anyio
async def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = make(FakeClock(), failure_threshold=3, failure_ratio=1.0)
    for _ in range(5):
        await fail(breaker, 2)
        await succeed(breaker)
    assert breaker.state == "closed"
    assert breaker.snapshot()["consecutive_failures"] == 0


@pytest.mark.anyio
async def test_breaker_opens_on_the_failure_ratio_once_the_window_holds_enough_calls() -> None:
    breaker = make(FakeClock(), failure_threshold=100, failure_ratio=0.5, window=10, min_calls=6)
    for _ in range(2):
        await fail(breaker)
        await succeed(breaker)
    await fail(breaker)  # 3 failures of 5 calls: above the ratio, below min_calls
    assert breaker.state == "closed"
    await succeed(breaker)  # 3 of 6: the ratio is reached with enough calls
    assert breaker.state == "open"


@pytest.mark.anyio
async def test_the_window_forgets_calls_older_than_its_size() -> None:
    breaker = make(FakeClock(), failure_threshold=100, failure_ratio=0.5, window=4, min_calls=4)
    await fail(breaker)
    await succeed(breaker, 4)  # the failure has rolled out of the window
    assert breaker.failure_ratio == 0.0
    await fail(breaker)
    assert breaker.state == "closed"  # 1 of 4
    await fail(breaker)
    assert breaker.state == "open"  # 2 of 4


@pytest.mark.anyio
async def test_an_open_breaker_refuses_calls_and_says_when_the_trial_comes() -> None:
    clock = FakeClock()
    breaker = make(clock, cooldown_seconds=10.0)
    trip(breaker)
    clock.advance(4.0)
    ran = False
    with pytest.raises(CircuitOpenError) as caught:
        async with breaker.call():
            ran = True
    assert not ran
    error = caught.value
    assert isinstance(error, ResilienceError)
    assert (error.code, error.instance_id, error.state) == ("circuit_open", "search-1", "open")
    assert error.retry_after == pytest.approx(6.0)
    assert "search-1" in str(error) and "6.0s" in str(error)
    assert not breaker.allow()
    assert breaker.snapshot()["totals"]["rejected"] == 2


@pytest.mark.anyio
async def test_breaker_half_opens_after_the_cooldown() -> None:
    clock = FakeClock()
    breaker = make(clock, cooldown_seconds=10.0)
    trip(breaker)
    clock.advance(9.9)
    assert breaker.state == "open"
    assert breaker.seconds_until_trial == pytest.approx(0.1)
    clock.advance(0.1)
    assert breaker.state == "half_open"
    assert breaker.seconds_until_trial == 0.0


@pytest.mark.anyio
async def test_breaker_half_open_admits_a_single_trial_call() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(10.0)
    release_trial = anyio.Event()
    outcomes: list[str] = []

    async def trial() -> None:
        async with breaker.call():
            outcomes.append("trial started")
            await release_trial.wait()
        outcomes.append("trial done")

    async with anyio.create_task_group() as tg:
        tg.start_soon(trial)
        await anyio.wait_all_tasks_blocked()
        for _ in range(3):
            with pytest.raises(CircuitOpenError) as caught:
                async with breaker.call():
                    outcomes.append("second call ran")
            assert caught.value.state == "half_open"
            assert "trial call is in flight" in str(caught.value)
        assert not breaker.allow()
        release_trial.set()
    assert outcomes == ["trial started", "trial done"]
    assert breaker.state == "closed"


@pytest.mark.anyio
async def test_a_successful_trial_closes_the_circuit_and_resets_the_counters() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3)
    trip(breaker)
    clock.advance(10.0)
    await succeed(breaker)
    snapshot = breaker.snapshot()
    assert snapshot["state"] == "closed"
    assert (snapshot["consecutive_failures"], snapshot["window_calls"], snapshot["opened_at"]) == (0, 0, None)
    await fail(breaker, 2)  # a fresh count: two failures do not reopen it
    assert breaker.state == "closed"


@pytest.mark.anyio
async def test_a_failed_trial_opens_the_circuit_again_and_restarts_the_cooldown() -> None:
    clock = FakeClock()
    breaker = make(clock, cooldown_seconds=10.0)
    trip(breaker)
    clock.advance(15.0)
    await fail(breaker)
    assert breaker.state == "open"
    assert breaker.seconds_until_trial == pytest.approx(10.0)
    clock.advance(9.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()  # the next trial


@pytest.mark.anyio
async def test_a_cancelled_trial_hands_the_trial_to_the_next_caller() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(10.0)
    with anyio.CancelScope() as scope:
        async with breaker.call():
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert breaker.state == "half_open"
    await succeed(breaker)  # admitted as the new trial
    assert breaker.state == "closed"


@pytest.mark.anyio
async def test_a_late_failure_from_before_the_circuit_opened_does_not_restart_the_cooldown() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, cooldown_seconds=10.0)
    slow_call_may_fail = anyio.Event()

    async def slow_call() -> None:
        with pytest.raises(Boom):
            async with breaker.call():
                await slow_call_may_fail.wait()
                raise Boom("reset by peer")

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_call)
        await anyio.wait_all_tasks_blocked()
        await fail(breaker, 3)
        assert breaker.state == "open"
        clock.advance(8.0)
        slow_call_may_fail.set()
    assert breaker.seconds_until_trial == pytest.approx(2.0)


@pytest.mark.anyio
async def test_a_late_success_does_not_decide_the_half_open_trial() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3)
    old_call_may_finish = anyio.Event()
    trial_may_finish = anyio.Event()

    async def old_call() -> None:
        async with breaker.call():
            await old_call_may_finish.wait()

    async def trial() -> None:
        with pytest.raises(Boom):
            async with breaker.call():
                await trial_may_finish.wait()
                raise Boom("still down")

    async with anyio.create_task_group() as tg:
        tg.start_soon(old_call)
        await anyio.wait_all_tasks_blocked()
        await fail(breaker, 3)
        clock.advance(10.0)
        tg.start_soon(trial)
        await anyio.wait_all_tasks_blocked()
        old_call_may_finish.set()  # a success admitted while closed
        await anyio.wait_all_tasks_blocked()
        assert breaker.state == "half_open"
        trial_may_finish.set()
    assert breaker.state == "open"


@pytest.mark.anyio
async def test_only_the_configured_exception_types_count_as_failures() -> None:
    breaker = CircuitBreaker(
        "db-1", BreakerSettings(failure_threshold=2, window=4, min_calls=2), failure_types=(ConnectionError,)
    )
    for _ in range(10):
        with pytest.raises(ValueError, match="bad argument"):
            async with breaker.call():
                raise ValueError("bad argument")  # the instance answered: not its fault
    assert breaker.state == "closed"
    await fail(breaker, 2)
    assert breaker.state == "open"


@pytest.mark.anyio
async def test_failures_of_awaited_coroutines_are_counted_when_they_finish() -> None:
    """pybreaker's trap: creating a coroutine is not a successful call; its outcome is."""
    breaker = make(FakeClock(), failure_threshold=3)

    async def upstream_call() -> None:
        await anyio.lowlevel.checkpoint()
        raise Boom("timed out")

    for _ in range(3):
        with pytest.raises(Boom):
            async with breaker.call():
                await upstream_call()
    assert breaker.state == "open"


@pytest.mark.anyio
async def test_a_failure_can_be_recorded_without_an_exception() -> None:
    breaker = make(FakeClock(), failure_threshold=3)
    for _ in range(2):
        async with breaker.call() as attempt:
            attempt.failure()  # e.g. the upstream answered with a transport error result
    assert breaker.snapshot()["consecutive_failures"] == 2
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"


@pytest.mark.anyio
async def test_the_manual_api_claims_and_releases_the_trial() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    with pytest.raises(CircuitOpenError):
        breaker.check()
    clock.advance(10.0)
    breaker.check()
    assert not breaker.allow()
    breaker.release()
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"


@pytest.mark.anyio
async def test_state_listeners_hear_every_transition_and_a_failing_listener_breaks_nothing() -> None:
    clock = FakeClock()
    breaker = make(clock)
    heard: list[tuple[BreakerState, BreakerState]] = []

    def broken(old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("listener bug")

    breaker.on_state_change(broken)
    unsubscribe = breaker.on_state_change(lambda old, new: heard.append((old, new)))
    trip(breaker)
    clock.advance(10.0)
    await fail(breaker)
    clock.advance(10.0)
    await succeed(breaker)
    assert heard == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    unsubscribe()
    trip(breaker)
    assert len(heard) == 5


def test_snapshot_reports_state_counters_and_the_next_trial() -> None:
    clock = FakeClock(now=100.0)
    breaker = make(clock, failure_threshold=3, cooldown_seconds=10.0)
    assert breaker.allow()
    breaker.record_success()
    trip(breaker)
    clock.advance(3.0)
    snapshot = breaker.snapshot()
    assert snapshot["state"] == "open"
    assert snapshot["consecutive_failures"] == 3
    assert snapshot["failure_ratio"] == 0.75
    assert snapshot["opened_at"] == 100.0
    assert snapshot["opened_at_unix"] is not None
    assert snapshot["next_trial_in_seconds"] == pytest.approx(7.0)
    assert snapshot["totals"] == {"calls": 4, "successes": 1, "failures": 3, "rejected": 0, "times_opened": 1}


def test_trip_and_reset_force_the_state() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.trip()
    assert breaker.state == "open" and not breaker.allow()
    breaker.reset()
    assert breaker.state == "closed" and breaker.allow()


def test_the_breaker_set_makes_one_breaker_per_instance_and_reports_with_the_instance_id() -> None:
    clock = FakeClock()
    heard: list[tuple[str, str, str]] = []
    breakers = CircuitBreakers(
        BreakerSettings(failure_threshold=1, window=1, min_calls=1),
        clock=clock,
        on_state_change=lambda instance_id, old, new: heard.append((instance_id, old, new)),
    )
    assert breakers.state("fs-1") == "closed" and "fs-1" not in breakers
    assert breakers.get("fs-1") is breakers.get("fs-1")
    breakers.get("fs-2").record_failure()
    assert heard == [("fs-2", "closed", "open")]
    assert breakers.state("fs-2") == "open" and breakers.state("fs-1") == "closed"
    assert set(breakers.snapshot()) == {"fs-1", "fs-2"}
    breakers.forget("fs-2")
    assert len(breakers) == 1 and [b.instance_id for b in breakers] == ["fs-1"]
