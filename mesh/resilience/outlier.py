"""Outlier ejection: take an instance out of its pool for a while after consecutive transport errors.

Where the circuit breaker refuses calls to an instance, the detector removes it from the
candidates the balancer sees (Envoy's outlier detection). An instance is ejected after
``consecutive_errors`` errors in a row, for ``base_ejection_seconds`` times the number of times it
has been ejected (capped at ``max_ejection_seconds``); the multiplier resets once it has answered
well for a full base period after returning. At most ``max_ejection_percent`` of the pool is
ejected at once (at least one, as in Envoy; 0 turns ejection off), so a pool-wide problem does not
empty the pool.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mesh.resilience.deadline import Clock

__all__ = ["OutlierDetector", "OutlierSettings"]


class _HasInstanceId(Protocol):
    @property
    def instance_id(self) -> str: ...


_T = TypeVar("_T", bound=_HasInstanceId)


class OutlierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consecutive_errors: int = Field(default=5, ge=1)
    base_ejection_seconds: float = Field(default=30.0, gt=0.0, le=3600.0)
    max_ejection_seconds: float = Field(default=300.0, gt=0.0, le=86_400.0)
    max_ejection_percent: int = Field(default=50, ge=0, le=100)


class OutlierDetector:
    """One pool's detector. ``record_success``/``record_error`` after calls; ``filter`` before picking."""

    def __init__(self, settings: OutlierSettings | None = None, *, clock: Clock = time.monotonic) -> None:
        self.settings = settings or OutlierSettings()
        self._clock = clock
        self._errors: dict[str, int] = {}
        self._ejected_until: dict[str, float] = {}
        self._ejections: dict[str, int] = {}
        self._returned_at: dict[str, float] = {}
        self._pool_size = 0

    def set_pool_size(self, size: int) -> None:
        """The number of instances in the pool (``filter`` learns it from the candidates it sees)."""
        self._pool_size = max(size, 0)

    def record_success(self, instance_id: str) -> None:
        self._errors.pop(instance_id, None)
        returned = self._returned_at.get(instance_id)
        if returned is not None and self._clock() - returned >= self.settings.base_ejection_seconds:
            self._ejections.pop(instance_id, None)
            self._returned_at.pop(instance_id, None)

    def record_error(self, instance_id: str) -> bool:
        """A transport error; True if it ejected the instance."""
        if self.is_ejected(instance_id):
            return False
        errors = self._errors.get(instance_id, 0) + 1
        self._errors[instance_id] = errors
        if errors < self.settings.consecutive_errors or not self._may_eject():
            return False
        settings = self.settings
        count = self._ejections.get(instance_id, 0) + 1
        self._ejections[instance_id] = count
        duration = min(settings.base_ejection_seconds * count, settings.max_ejection_seconds)
        self._ejected_until[instance_id] = self._clock() + duration
        self._errors.pop(instance_id, None)
        self._returned_at.pop(instance_id, None)
        return True

    def is_ejected(self, instance_id: str) -> bool:
        until = self._ejected_until.get(instance_id)
        if until is None:
            return False
        if self._clock() < until:
            return True
        self._return(instance_id)
        return False

    def filter(self, candidates: Sequence[_T]) -> Sequence[_T]:
        """The candidates that are not ejected (the same sequence when none is)."""
        self._pool_size = len(candidates)
        if not self._ejected_until:
            return candidates
        return [candidate for candidate in candidates if not self.is_ejected(candidate.instance_id)]

    def ejected(self) -> dict[str, float]:
        """Ejected instance ids and the seconds until each returns."""
        now = self._clock()
        for instance_id in [i for i, until in self._ejected_until.items() if until <= now]:
            self._return(instance_id)
        return {instance_id: until - now for instance_id, until in self._ejected_until.items()}

    def forget(self, instance_id: str) -> None:
        for table in (self._errors, self._ejected_until, self._ejections, self._returned_at):
            table.pop(instance_id, None)

    def snapshot(self) -> dict[str, Any]:
        return {"pool_size": self._pool_size, "ejected": self.ejected(), "error_streaks": dict(self._errors)}

    def _may_eject(self) -> bool:
        percent = self.settings.max_ejection_percent
        if not percent:
            return False
        allowed = max(self._pool_size * percent // 100, 1)
        return len(self.ejected()) < allowed

    def _return(self, instance_id: str) -> None:
        del self._ejected_until[instance_id]
        self._returned_at[instance_id] = self._clock()
