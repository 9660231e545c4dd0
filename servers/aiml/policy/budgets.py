"""Per-principal token budgets over a sliding window, kept in this process.

Every call's tokens are charged to its principal with the time they were spent; what was spent
longer than ``window_seconds`` ago no longer counts. A budget that is ``low`` (less than
``low_fraction`` of it left) moves calls to the cheaper fallback alias; an exhausted one refuses.
Replicas keep their own books: an operator who needs one budget across replicas divides it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from servers.aiml.settings import BudgetSettings


@dataclass(frozen=True)
class BudgetState:
    limit: int | None
    spent: int
    window_seconds: float

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.spent)


class TokenBudgets:
    def __init__(self, settings: BudgetSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = {}

    def _window(self, principal: str) -> deque[tuple[float, int]]:
        entries = self._spent.setdefault(principal, deque())
        horizon = self.clock() - self.settings.window_seconds
        while entries and entries[0][0] < horizon:
            entries.popleft()
        return entries

    def state(self, principal: str) -> BudgetState:
        spent = sum(tokens for _, tokens in self._window(principal))
        return BudgetState(self.settings.tokens_per_window, spent, self.settings.window_seconds)

    def is_low(self, principal: str) -> bool:
        state = self.state(principal)
        if state.limit is None or state.remaining is None:
            return False
        return state.remaining < state.limit * self.settings.low_fraction

    def charge(self, principal: str, tokens: int) -> None:
        if tokens > 0:
            self._window(principal).append((self.clock(), tokens))

    def principals(self) -> list[str]:
        return sorted(name for name in list(self._spent) if self._window(name))
