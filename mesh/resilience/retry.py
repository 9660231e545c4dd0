"""Retries: which calls may be repeated (from the tool's annotations), how long to wait, and how many in all.

:func:`is_retry_safe` reads MCP tool annotations. A retry is safe when repeating the call cannot
change the outcome: the tool is read-only, or it is idempotent. A tool with no annotations, or
one that is destructive or additive without being idempotent, is never retried once the request
may have reached the server. A request that provably never left (the connection was refused)
may always go to another instance: pass ``request_sent=False``.

:class:`RetryBudget` keeps retries a bounded share of the traffic, so that when an upstream is
down retries cannot multiply the load on the rest: over a sliding window, retries may be at most
``ratio`` of the calls plus a floor of ``min_per_second`` (so a quiet pool can still retry).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mesh.resilience.deadline import Clock

__all__ = ["RetryBudget", "RetrySettings", "backoff_delay", "is_retry_safe"]

# Wire names (MCP JSON) and Python names (mcp.types.ToolAnnotations) of the hints that matter.
_HINTS: dict[str, tuple[str, str]] = {
    "read_only": ("readOnlyHint", "read_only_hint"),
    "idempotent": ("idempotentHint", "idempotent_hint"),
    "destructive": ("destructiveHint", "destructive_hint"),
}


def _hint(annotations: object, name: str) -> bool | None:
    wire, python = _HINTS[name]
    if isinstance(annotations, Mapping):
        value = annotations.get(wire, annotations.get(python))
    elif hasattr(annotations, python):  # the wire name only when there is no Python one (it may be deprecated)
        value = getattr(annotations, python)
    else:
        value = getattr(annotations, wire, None)
    return value if isinstance(value, bool) else None


def is_retry_safe(annotations: Mapping[str, Any] | object | None, *, request_sent: bool = True) -> bool:
    """Whether a failed call of a tool with these annotations may be sent again.

    ``annotations`` is a mapping with the wire names (``readOnlyHint``, ``idempotentHint``,
    ``destructiveHint``) or snake_case names, or an object such as ``mcp.types.ToolAnnotations``.

    - ``request_sent=False`` (the request never reached any server): always safe.
    - ``readOnlyHint: true``: safe.
    - ``idempotentHint: true``: safe — repeating it has no additional effect, destructive or not.
    - anything else, including missing annotations or hints: not safe.
    """
    if not request_sent:
        return True
    if annotations is None:
        return False
    if _hint(annotations, "read_only") is True:
        return True
    return _hint(annotations, "idempotent") is True


class RetrySettings(BaseModel):
    """How a pool retries: attempts, back-off, and the budget that caps retries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=2, ge=1, le=10, description="tries in all, the first one included")
    backoff_base_seconds: float = Field(default=0.02, ge=0.0, le=10.0)
    backoff_max_seconds: float = Field(default=0.5, ge=0.0, le=60.0)
    budget_ratio: float = Field(default=0.2, ge=0.0, le=1.0, description="retries as a share of calls")
    budget_min_per_second: float = Field(default=1.0, ge=0.0, description="retries allowed however quiet the pool")
    budget_window_seconds: float = Field(default=10.0, gt=0.0, le=600.0)


def backoff_delay(attempt: int, *, base: float = 0.02, cap: float = 0.5, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry): "full jitter".

    A uniform draw between 0 and ``min(cap, base * 2 ** (attempt - 1))``, so retries from many
    callers spread out instead of arriving together.
    """
    ceiling = min(cap, base * (2.0 ** max(attempt - 1, 0)))
    return (rng or random).random() * ceiling


class RetryBudget:
    """A sliding-window budget: retries may be at most ``ratio`` of the calls plus ``min_per_second``.

    Call :meth:`record_call` for every original call (not for retries) and ask :meth:`try_spend`
    before each retry; it answers False when the budget is used up. The window is kept in
    ``buckets`` time slices, so both are O(1) per call.
    """

    __slots__ = (
        "_bucket_seconds",
        "_calls",
        "_clock",
        "_current",
        "_head",
        "_retries",
        "_totals",
        "_window_calls",
        "_window_retries",
        "min_per_second",
        "ratio",
        "window_seconds",
    )

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 1.0,
        window_seconds: float = 10.0,
        *,
        buckets: int = 10,
        clock: Clock = time.monotonic,
    ) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be between 0 and 1")
        if min_per_second < 0:
            raise ValueError("min_per_second may not be negative")
        if window_seconds <= 0 or buckets < 1:
            raise ValueError("window_seconds must be positive and buckets at least 1")
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.window_seconds = window_seconds
        self._bucket_seconds = window_seconds / buckets
        self._clock = clock
        self._calls = [0] * buckets
        self._retries = [0] * buckets
        self._head = 0
        self._window_calls = 0
        self._window_retries = 0
        self._current = math.floor(clock() / self._bucket_seconds)
        self._totals = [0, 0, 0]  # calls, retries spent, retries refused

    @classmethod
    def from_settings(cls, settings: RetrySettings, *, clock: Clock = time.monotonic) -> RetryBudget:
        return cls(settings.budget_ratio, settings.budget_min_per_second, settings.budget_window_seconds, clock=clock)

    def record_call(self) -> None:
        """One original call was made: it earns ``ratio`` of a retry."""
        self._advance()
        self._calls[self._head] += 1
        self._window_calls += 1
        self._totals[0] += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and nothing taken) when it is used up."""
        self._advance()
        if self._window_retries + 1 > self.allowance():
            self._totals[2] += 1
            return False
        self._retries[self._head] += 1
        self._window_retries += 1
        self._totals[1] += 1
        return True

    def allowance(self) -> float:
        """Retries the current window allows in all (spent ones included)."""
        return self.min_per_second * self.window_seconds + self.ratio * self._window_calls

    def available(self) -> int:
        """Retries that may still be spent now."""
        self._advance()
        return max(math.floor(self.allowance() - self._window_retries), 0)

    def snapshot(self) -> dict[str, Any]:
        self._advance()
        calls, spent, refused = self._totals
        return {
            "window_calls": self._window_calls,
            "window_retries": self._window_retries,
            "available": self.available(),
            "ratio": self.ratio,
            "min_per_second": self.min_per_second,
            "totals": {"calls": calls, "retries": spent, "refused": refused},
        }

    def _advance(self) -> None:
        now = math.floor(self._clock() / self._bucket_seconds)
        steps = now - self._current
        if steps <= 0:
            return
        self._current = now
        size = len(self._calls)
        if steps >= size:
            self._calls[:] = [0] * size
            self._retries[:] = [0] * size
            self._head = 0
            self._window_calls = self._window_retries = 0
            return
        head = self._head
        for _ in range(steps):
            head = head + 1 if head + 1 < size else 0
            self._window_calls -= self._calls[head]
            self._window_retries -= self._retries[head]
            self._calls[head] = 0
            self._retries[head] = 0
        self._head = head
