"""Outlier ejection: out of the pool after consecutive errors, back after a growing period, never too many."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.resilience import OutlierDetector, OutlierSettings


@dataclass(frozen=True)
class Inst:
    instance_id: str


class FakeClock:
    def __init__(self, now: float = 10.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


POOL = [Inst(f"db-{n}") for n in range(4)]


def detector(clock: FakeClock, **settings: float) -> OutlierDetector:
    values = {"consecutive_errors": 3, "base_ejection_seconds": 30.0, "max_ejection_seconds": 100.0, **settings}
    found = OutlierDetector(OutlierSettings(**values), clock=clock)  # type: ignore[arg-type]
    found.filter(POOL)
    return found


def eject(found: OutlierDetector, instance_id: str) -> bool:
    return [found.record_error(instance_id) for _ in range(found.settings.consecutive_errors)][-1]


def test_an_instance_is_ejected_after_consecutive_errors() -> None:
    found = detector(FakeClock())
    assert not found.record_error("db-1") and not found.record_error("db-1")
    assert found.record_error("db-1")
    assert found.is_ejected("db-1")
    assert [i.instance_id for i in found.filter(POOL)] == ["db-0", "db-2", "db-3"]


def test_a_success_breaks_the_error_streak() -> None:
    found = detector(FakeClock())
    for _ in range(5):
        found.record_error("db-1")
        found.record_error("db-1")
        found.record_success("db-1")
    assert not found.is_ejected("db-1")


def test_an_ejected_instance_returns_after_the_ejection_period() -> None:
    clock = FakeClock()
    found = detector(clock)
    eject(found, "db-2")
    clock.advance(29.0)
    assert found.ejected() == {"db-2": 1.0}
    clock.advance(1.0)
    assert not found.is_ejected("db-2")
    assert found.filter(POOL) == POOL


def test_each_new_ejection_lasts_longer_up_to_the_cap() -> None:
    clock = FakeClock()
    found = detector(clock)
    for expected in (30.0, 60.0, 90.0, 100.0):
        assert eject(found, "db-0")
        assert found.ejected()["db-0"] == expected
        clock.advance(expected)


def test_a_healthy_period_after_returning_resets_the_ejection_time() -> None:
    clock = FakeClock()
    found = detector(clock)
    eject(found, "db-0")
    clock.advance(30.0)
    found.record_success("db-0")  # just back: not yet trusted
    eject(found, "db-0")
    assert found.ejected()["db-0"] == 60.0
    clock.advance(60.0)
    assert not found.is_ejected("db-0")
    clock.advance(30.0)
    found.record_success("db-0")  # healthy for a full base period
    eject(found, "db-0")
    assert found.ejected()["db-0"] == 30.0


def test_no_more_than_the_maximum_share_of_the_pool_is_ejected() -> None:
    found = detector(FakeClock(), max_ejection_percent=50)
    assert eject(found, "db-0") and eject(found, "db-1")
    assert not eject(found, "db-2")
    assert len(found.filter(POOL)) == 2


def test_at_least_one_instance_may_be_ejected_and_zero_percent_turns_ejection_off() -> None:
    small = detector(FakeClock(), max_ejection_percent=10)
    assert eject(small, "db-0")
    assert not eject(small, "db-1")
    off = detector(FakeClock(), max_ejection_percent=0)
    assert not eject(off, "db-0")


def test_filter_returns_the_same_sequence_when_nothing_is_ejected_and_forget_clears_an_instance() -> None:
    found = detector(FakeClock())
    assert found.filter(POOL) is POOL
    eject(found, "db-3")
    found.forget("db-3")
    assert found.filter(POOL) is POOL
    assert found.snapshot() == {"pool_size": 4, "ejected": {}, "error_streaks": {}}
