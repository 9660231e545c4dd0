"""Per-principal token budgets over a sliding window."""

from __future__ import annotations

from servers.aiml.policy.budgets import TokenBudgets
from servers.aiml.settings import BudgetSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_spent_tokens_leave_the_window_after_it_passes() -> None:
    clock = Clock()
    budgets = TokenBudgets(BudgetSettings(tokens_per_window=100, window_seconds=60), clock)
    budgets.charge("alice", 70)
    assert budgets.state("alice").remaining == 30
    clock.now += 61
    assert budgets.state("alice").remaining == 100


def test_a_budget_is_low_below_its_fraction_and_each_principal_has_its_own() -> None:
    budgets = TokenBudgets(BudgetSettings(tokens_per_window=100, low_fraction=0.25), Clock())
    budgets.charge("alice", 80)
    assert budgets.is_low("alice") and not budgets.is_low("bob")
    assert budgets.principals() == ["alice"]


def test_without_a_limit_nothing_is_low_and_nothing_remains_counted() -> None:
    budgets = TokenBudgets(BudgetSettings(), Clock())
    budgets.charge("alice", 10**9)
    assert budgets.state("alice").remaining is None and not budgets.is_low("alice")
