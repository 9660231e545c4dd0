"""Resilience building blocks for the gateway's call path: breakers, bulkheads, deadlines, retries, ejection.

Each lives in its own module; the names below are the public surface.
"""

from mesh.resilience.breaker import BreakerCall, BreakerSettings, BreakerState, CircuitBreaker, CircuitBreakers
from mesh.resilience.bulkhead import Bulkhead, BulkheadSlot
from mesh.resilience.deadline import Clock, Deadline, DeadlineScope, deadline_scope, run_with_deadline
from mesh.resilience.errors import BulkheadFullError, CircuitOpenError, DeadlineExceeded, ResilienceError
from mesh.resilience.outlier import OutlierDetector, OutlierSettings
from mesh.resilience.retry import RetryBudget, RetrySettings, backoff_delay, is_retry_safe

__all__ = [
    "BreakerCall",
    "BreakerSettings",
    "BreakerState",
    "Bulkhead",
    "BulkheadFullError",
    "BulkheadSlot",
    "CircuitBreaker",
    "CircuitBreakers",
    "CircuitOpenError",
    "Clock",
    "Deadline",
    "DeadlineExceeded",
    "DeadlineScope",
    "OutlierDetector",
    "OutlierSettings",
    "ResilienceError",
    "RetryBudget",
    "RetrySettings",
    "backoff_delay",
    "deadline_scope",
    "is_retry_safe",
    "run_with_deadline",
]
