"""Retries: safety from tool annotations, a budget that caps them, and jittered back-off."""

from __future__ import annotations

import random
import warnings
from typing import Any

import pytest
from mcp.types import ToolAnnotations

from mesh.resilience import RetryBudget, RetrySettings, backoff_delay, is_retry_safe


def test_reading_the_hints_of_sdk_annotations_warns_of_nothing_even_with_fastmcp_loaded() -> None:
    import fastmcp  # noqa: F401  (once loaded, reading the camelCase names of ToolAnnotations warns)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert is_retry_safe(ToolAnnotations(read_only_hint=True))
        assert not is_retry_safe(ToolAnnotations(destructive_hint=True))
    assert [str(w.message) for w in seen] == []


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("annotations", "safe"),
    [
        (None, False),
        ({}, False),
        ({"readOnlyHint": True}, True),
        ({"readOnlyHint": True, "destructiveHint": True}, True),
        ({"idempotentHint": True}, True),
        ({"idempotentHint": True, "destructiveHint": True}, True),
        ({"destructiveHint": True}, False),
        ({"destructiveHint": True, "idempotentHint": False}, False),
        ({"destructiveHint": False}, False),  # additive: a retry would add twice
        ({"readOnlyHint": False}, False),
        ({"readOnlyHint": "true"}, False),  # not a boolean: not trusted
        ({"read_only_hint": True}, True),
        ({"idempotent_hint": True}, True),
        (ToolAnnotations(read_only_hint=True), True),
        (ToolAnnotations(idempotent_hint=True, destructive_hint=True), True),
        (ToolAnnotations(destructive_hint=True), False),
        (ToolAnnotations(), False),
    ],
)
def test_is_retry_safe_follows_the_tool_annotations(annotations: Any, safe: bool) -> None:
    assert is_retry_safe(annotations) is safe


def test_a_request_that_never_left_may_always_be_retried() -> None:
    assert is_retry_safe({"destructiveHint": True}, request_sent=False)
    assert is_retry_safe(None, request_sent=False)


def test_the_budget_allows_retries_up_to_the_ratio_of_calls() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, window_seconds=10.0, clock=FakeClock())
    for _ in range(100):
        budget.record_call()
    assert [budget.try_spend() for _ in range(21)].count(True) == 20
    assert not budget.try_spend()
    snapshot = budget.snapshot()
    assert snapshot["window_calls"] == 100 and snapshot["window_retries"] == 20 and snapshot["available"] == 0
    assert snapshot["totals"] == {"calls": 100, "retries": 20, "refused": 2}


def test_a_quiet_pool_may_still_retry_at_the_minimum_rate() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, window_seconds=10.0, clock=FakeClock())
    assert budget.available() == 10
    assert [budget.try_spend() for _ in range(11)].count(True) == 10


def test_an_outage_cannot_multiply_the_traffic() -> None:
    """Every call fails and wants a retry: retries stay near the ratio of calls."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, window_seconds=10.0, clock=clock)
    retries = 0
    for _ in range(100):  # 100 seconds at 50 calls a second
        clock.advance(1.0)
        for _ in range(50):
            budget.record_call()
            retries += budget.try_spend()
    assert retries <= 0.2 * 5000 + 1.0 * 100 + 10


def test_the_budget_window_slides() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.5, min_per_second=0.0, window_seconds=10.0, clock=clock)
    for _ in range(20):
        budget.record_call()
    clock.advance(5.0)
    for _ in range(20):
        budget.record_call()
    assert budget.available() == 20
    while budget.try_spend():
        pass
    clock.advance(5.5)  # the first 20 calls have left the window; the retries spent now stay
    assert budget.available() == 0
    clock.advance(5.0)  # everything has left the window
    assert budget.available() == 0
    for _ in range(4):
        budget.record_call()
    assert budget.available() == 2
    clock.advance(100.0)
    assert budget.snapshot()["window_calls"] == 0


def test_a_refused_retry_takes_nothing_from_the_budget() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, clock=FakeClock())
    assert not budget.try_spend()
    assert budget.snapshot()["window_retries"] == 0


def test_the_budget_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(ratio=1.5)
    with pytest.raises(ValueError, match="min_per_second"):
        RetryBudget(min_per_second=-1)
    with pytest.raises(ValueError, match="window_seconds"):
        RetryBudget(window_seconds=0)


def test_the_budget_is_built_from_the_retry_settings() -> None:
    settings = RetrySettings(budget_ratio=0.5, budget_min_per_second=0.0, budget_window_seconds=4.0)
    budget = RetryBudget.from_settings(settings, clock=FakeClock())
    assert (budget.ratio, budget.min_per_second, budget.window_seconds) == (0.5, 0.0, 4.0)
    assert RetrySettings().max_attempts == 2


def test_backoff_grows_exponentially_with_full_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.02), (2, 0.04), (3, 0.08), (6, 0.5), (20, 0.5)):
        delays = [backoff_delay(attempt, base=0.02, cap=0.5, rng=rng) for _ in range(500)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # spread over the whole range, not fixed
        assert min(delays) < 0.2 * ceiling
