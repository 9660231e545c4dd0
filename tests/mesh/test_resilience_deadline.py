"""Deadlines: an absolute expiry, narrowed on the way, enforced by a scope that raises DeadlineExceeded."""

from __future__ import annotations

import inspect
import math

import anyio
import pytest

from mesh.resilience import Deadline, DeadlineExceeded, ResilienceError, deadline_scope, run_with_deadline


class FakeClock:
    def __init__(self, now: float = 50.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_deadline_counts_down_and_expires() -> None:
    clock = FakeClock()
    deadline = Deadline.after(2.0, clock=clock)
    assert deadline.expires_at == 52.0
    assert deadline.remaining() == 2.0 and not deadline.expired
    clock.advance(1.5)
    assert deadline.remaining() == pytest.approx(0.5)
    clock.advance(1.0)
    assert deadline.remaining() == 0.0 and deadline.expired


def test_the_sooner_deadline_wins() -> None:
    clock = FakeClock()
    near, far = Deadline.after(1.0, clock=clock), Deadline.after(5.0, clock=clock)
    assert min(far, near) is near
    assert far.sooner(near) is near and near.sooner(far) is near and near.sooner(None) is near
    assert Deadline.earliest(None, far, near, None) is near
    assert Deadline.earliest(None) is None
    assert far.within(2.0).expires_at == 52.0
    assert near.within(2.0) is near
    assert near.within(None) is near


def test_a_deadline_that_never_passes() -> None:
    never = Deadline.never()
    assert never.remaining() == math.inf and not never.expired and not never.is_finite
    assert min(never, Deadline.after(1.0)) is not never


@pytest.mark.anyio
async def test_deadline_scope_cancels_slow_work_and_raises_deadline_exceeded() -> None:
    deadline = Deadline.after(0.02)
    with pytest.raises(DeadlineExceeded) as caught, deadline_scope(deadline, "search_query"):
        await anyio.sleep_forever()
    error = caught.value
    assert isinstance(error, TimeoutError) and isinstance(error, ResilienceError)
    assert error.code == "deadline_exceeded" and error.deadline is deadline
    assert "search_query" in str(error)


@pytest.mark.anyio
async def test_work_that_finishes_in_time_is_left_alone() -> None:
    async def answer() -> int:
        await anyio.lowlevel.checkpoint()
        return 42

    assert await run_with_deadline(Deadline.after(5.0), answer()) == 42
    assert await run_with_deadline(None, answer()) == 42
    assert await run_with_deadline(Deadline.never(), answer()) == 42


@pytest.mark.anyio
async def test_a_timeout_error_raised_by_the_work_itself_passes_through_unchanged() -> None:
    with pytest.raises(TimeoutError) as caught, deadline_scope(Deadline.after(5.0)):
        await anyio.lowlevel.checkpoint()
        raise TimeoutError("the upstream's own timeout")
    assert not isinstance(caught.value, DeadlineExceeded)


@pytest.mark.anyio
async def test_an_expired_deadline_does_not_start_the_work() -> None:
    started = False

    async def work() -> None:
        nonlocal started
        started = True

    coroutine = work()
    with pytest.raises(DeadlineExceeded):
        await run_with_deadline(Deadline.after(-0.1), coroutine)
    assert not started
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED  # no "never awaited" warning


@pytest.mark.anyio
async def test_the_outer_deadline_wins_when_it_is_sooner() -> None:
    outer = Deadline.after(0.02)
    with (
        pytest.raises(DeadlineExceeded) as caught,
        deadline_scope(outer, "the request"),
        deadline_scope(Deadline.after(30.0), "the upstream call"),
    ):
        await anyio.sleep_forever()
    assert caught.value.deadline is outer


@pytest.mark.anyio
async def test_an_outer_cancellation_is_not_reported_as_a_deadline() -> None:
    with anyio.CancelScope() as outer:
        with deadline_scope(Deadline.after(30.0)):
            outer.cancel()
            await anyio.sleep_forever()
    assert outer.cancelled_caught
