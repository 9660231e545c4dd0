"""Prometheus metrics of the gateway and of every server, each process on its own registry.

Nothing here touches ``prometheus_client``'s global default registry: a :class:`GatewayMetrics`
or :class:`ServerMetrics` owns a :class:`~prometheus_client.CollectorRegistry`, so a test (or one
process hosting several apps) can build as many as it likes and read each one alone.

Counters and histograms are updated on the call path through cached label children (a dict
lookup and a locked add). Gauges that mirror state the gateway already keeps — breaker state,
instance health, bulkhead queue depth, calls in flight, whether the registry is degraded — are not
updated on every change: a :class:`StateCollector` reads them from the gateway when Prometheus scrapes.

Metric names follow Prometheus conventions (``_total`` counters, ``_seconds`` durations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

__all__ = [
    "BREAKER_STATE_VALUES",
    "CALL_BUCKETS",
    "CONTENT_TYPE",
    "DENIED_REASONS",
    "OUTCOMES",
    "GatewayMetrics",
    "GatewayState",
    "ServerMetrics",
    "StateCollector",
    "count_rate_limited",
    "current_gateway_metrics",
]

# The classic text format every Prometheus (2.x and 3.x) scrapes; generate_latest writes it.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Calls through the gateway take from a fraction of a millisecond to tens of seconds (a model).
CALL_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

OUTCOMES = (
    "ok",  # the upstream answered with a result
    "tool_error",  # ... with a result flagged isError (the tool said no)
    "input_required",  # ... asking the client for input (a multi-round call)
    "upstream_error",  # ... with a JSON-RPC error
    "unavailable",  # no instance could answer (down, breaker open, transport failure)
    "busy",  # the bulkhead queue was full
    "deadline",  # the call's deadline passed
    "rejected",  # refused by the gateway before routing (invalid or pinned-to-gone)
    "cancelled",  # the caller went away
    "error",  # anything else (a bug: see the gateway's log)
)

DENIED_REASONS = (
    "unauthenticated",  # no credential, or one that is not valid (401)
    "forbidden",  # the caller's roles do not allow the tool, prompt or resource
    "rate_limited",  # a rate limit is spent
    "too_large",  # the body is over gateway.max_request_bytes (413)
)

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True)
class GatewayState:
    """What the gateway knows at scrape time, as plain rows (so mesh/ needs no gateway types)."""

    breakers: Iterable[tuple[str, str, str]]  # (server, instance, state)
    health: Iterable[tuple[str, str, bool]]  # (server, instance, healthy)
    inflight: Iterable[tuple[str, int]]  # (server, calls in flight on its instances)
    queues: Iterable[tuple[str, int]]  # (bulkhead scope, calls waiting)
    registry_degraded: bool = False  # the registry (Consul) is unreachable: the last catalog is served


class StateCollector(Collector):
    """Gauges computed at scrape time from ``read()``: nothing on the call path."""

    def __init__(self, read: Callable[[], GatewayState]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return self._families(GatewayState((), (), (), ()))

    def collect(self) -> Iterable[Metric]:
        return self._families(self._read())

    @staticmethod
    def _families(state: GatewayState) -> Iterator[Metric]:
        breaker = GaugeMetricFamily(
            "mcp_gateway_breaker_state",
            "Circuit breaker of each upstream instance: 0 closed, 1 half-open, 2 open.",
            labels=["server", "instance"],
        )
        for server, instance, value in state.breakers:
            breaker.add_metric([server, instance], BREAKER_STATE_VALUES.get(value, 2))
        healthy = GaugeMetricFamily(
            "mcp_gateway_instance_healthy",
            "1 when the instance answered its last listing (health probe), else 0.",
            labels=["server", "instance"],
        )
        for server, instance, ok in state.health:
            healthy.add_metric([server, instance], 1.0 if ok else 0.0)
        inflight = GaugeMetricFamily(
            "mcp_gateway_inflight_calls",
            "Calls the gateway has sent to a server's instances and not yet had answered.",
            labels=["server"],
        )
        for server, count in state.inflight:
            inflight.add_metric([server], count)
        queue = GaugeMetricFamily(
            "mcp_gateway_queue_depth",
            "Calls waiting for a slot in a bulkhead (scope: gateway, supervisor:<name>, server:<name>, tool:<s>/<t>).",
            labels=["scope"],
        )
        for scope, depth in state.queues:
            queue.add_metric([scope], depth)
        degraded = GaugeMetricFamily(
            "mcp_gateway_registry_degraded",
            "1 while the registry (Consul) cannot be reached or refuses and the last known catalog is served, else 0.",
            value=1.0 if state.registry_degraded else 0.0,
        )
        yield from (breaker, healthy, inflight, queue, degraded)


class _CallMetrics:
    """``<prefix>_calls_total{[supervisor,]server,tool,outcome}`` and ``<prefix>_call_duration_seconds{server,tool}``."""

    def __init__(self, prefix: str, what: str, registry: CollectorRegistry | None, *, supervisor: bool) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._supervisor = supervisor
        labels = ["supervisor", "server", "tool", "outcome"] if supervisor else ["server", "tool", "outcome"]
        self.calls = Counter(
            f"{prefix}_calls",
            f"{what}, by {', '.join(labels[:-1])} (the method for requests other than tools/call) and outcome.",
            labels,
            registry=self.registry,
        )
        self.duration = Histogram(
            f"{prefix}_call_duration_seconds",
            f"Duration of the {what.lower()}.",
            ["server", "tool"],
            buckets=CALL_BUCKETS,
            registry=self.registry,
        )
        self._calls: dict[tuple[str, str, str, str], Counter] = {}
        self._durations: dict[tuple[str, str], Histogram] = {}

    def observe_call(self, server: str, tool: str, outcome: str, seconds: float, supervisor: str = "") -> None:
        """Count one request and record its duration (the hot path: two dict lookups, two locked adds)."""
        key = (server, tool, outcome, supervisor)
        counter = self._calls.get(key)
        if counter is None:
            values = (supervisor, server, tool, outcome) if self._supervisor else (server, tool, outcome)
            counter = self._calls[key] = self.calls.labels(*values)
        counter.inc()
        timing = self._durations.get(key[:2])
        if timing is None:
            timing = self._durations[key[:2]] = self.duration.labels(server, tool)
        timing.observe(seconds)

    def exposition(self) -> bytes:
        """Everything on the registry in the Prometheus text format."""
        return generate_latest(self.registry)


class GatewayMetrics(_CallMetrics):
    """The gateway's call counters, latency histogram, retries, rate-limit refusals and denied requests."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(
            "mcp_gateway",
            "Requests forwarded to upstream servers (queue, routing and retries included)",
            registry,
            supervisor=True,
        )
        self.retries = Counter(
            "mcp_gateway_retries",
            "Calls tried again on another instance after a transport failure.",
            ["server"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "mcp_gateway_rate_limited",
            "Calls refused by a rate limit, by the limit's scope.",
            ["scope"],
            registry=self.registry,
        )
        self.denied = Counter(
            "mcp_gateway_denied",
            f"Requests the gateway refused before routing them, by reason ({', '.join(DENIED_REASONS)}).",
            ["reason"],
            registry=self.registry,
        )
        for reason in DENIED_REASONS:  # every reason reads 0 from the start, so rate() and alerts see it
            self.denied.labels(reason)
        self._state_collector: StateCollector | None = None

    def count_denied(self, reason: str) -> None:
        """Count one refused request; ``reason`` is one of :data:`DENIED_REASONS`."""
        if reason not in DENIED_REASONS:
            raise ValueError(f"unknown denial reason {reason!r}; expected one of {', '.join(DENIED_REASONS)}")
        self.denied.labels(reason).inc()

    def count_retry(self, server: str) -> None:
        self.retries.labels(server).inc()

    def count_rate_limited(self, scope: str) -> None:
        self.rate_limited.labels(scope).inc()

    def watch(self, read: Callable[[], GatewayState]) -> None:
        """Publish the state gauges, read from ``read()`` at every scrape; once per registry."""
        if self._state_collector is None:
            self._state_collector = StateCollector(read)
            self.registry.register(self._state_collector)

    def make_current(self) -> GatewayMetrics:
        """Let :func:`count_rate_limited` (called where no gateway is at hand) count into this registry."""
        global _current
        _current = self
        return self


_current: GatewayMetrics | None = None


def current_gateway_metrics() -> GatewayMetrics:
    """The process's gateway metrics: the running gateway's (see :meth:`GatewayMetrics.make_current`)."""
    global _current
    if _current is None:
        _current = GatewayMetrics()
    return _current


def count_rate_limited(scope: str) -> None:
    """Count a call refused by a rate limit (``scope``: ``principal``, ``tool:<name>``, ``supervisor:<name>``...)."""
    current_gateway_metrics().count_rate_limited(scope)


class ServerMetrics(_CallMetrics):
    """One server's call counters and latency histogram (outcome: ok, tool_error, input_required, error)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__("mcp_server", "Requests a server handled", registry, supervisor=False)
