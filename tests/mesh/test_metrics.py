"""Prometheus metrics: names and labels by convention, one registry per owner, state read at scrape time."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from mesh.metrics import (
    DENIED_REASONS,
    GatewayMetrics,
    GatewayState,
    ServerMetrics,
    count_rate_limited,
    current_gateway_metrics,
)
from tests.support.observability import parse_exposition, value


def test_a_call_is_counted_by_server_tool_and_outcome_and_timed_in_ms_scale_buckets() -> None:
    metrics = GatewayMetrics()
    metrics.observe_call("filesystem", "read_text_file", "ok", 0.0012)
    metrics.observe_call("filesystem", "read_text_file", "ok", 0.0007)
    metrics.observe_call("filesystem", "read_text_file", "tool_error", 0.003)
    samples = parse_exposition(metrics.exposition().decode())
    labels = {"server": "filesystem", "tool": "read_text_file"}
    assert value(samples, "mcp_gateway_calls_total", **labels, outcome="ok") == 2
    assert value(samples, "mcp_gateway_calls_total", **labels, outcome="tool_error") == 1
    assert value(samples, "mcp_gateway_call_duration_seconds_count", **labels) == 3
    assert value(samples, "mcp_gateway_call_duration_seconds_bucket", **labels, le="0.001") == 1
    assert value(samples, "mcp_gateway_call_duration_seconds_bucket", **labels, le="0.0025") == 2
    assert value(samples, "mcp_gateway_call_duration_seconds_bucket", **labels, le="0.005") == 3


def test_two_gateway_metrics_never_share_counts_nor_touch_the_global_registry() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.observe_call("demo", "echo", "ok", 0.001)
    first.count_retry("demo")
    untouched = parse_exposition(second.exposition().decode())
    assert value(untouched, "mcp_gateway_calls_total", server="demo", tool="echo", outcome="ok") == 0
    assert value(untouched, "mcp_gateway_retries_total", server="demo") == 0
    assert value(parse_exposition(first.exposition().decode()), "mcp_gateway_retries_total", server="demo") == 1
    assert (
        REGISTRY.get_sample_value("mcp_gateway_calls_total", {"server": "demo", "tool": "echo", "outcome": "ok"})
        is None
    )


def test_state_gauges_are_read_from_the_source_at_every_scrape() -> None:
    metrics = GatewayMetrics()
    state = {"breaker": "closed", "healthy": "yes", "queued": "0"}

    def read() -> GatewayState:
        return GatewayState(
            breakers=[("demo", "demo-1", state["breaker"])],
            health=[("demo", "demo-1", state["healthy"] == "yes")],
            inflight=[("demo", 3)],
            queues=[("supervisor:system", int(state["queued"]))],
        )

    metrics.watch(read)
    metrics.watch(read)  # a second watch adds nothing (no duplicate series)
    before = parse_exposition(metrics.exposition().decode())
    state.update(breaker="open", healthy="no", queued="4")
    after = parse_exposition(metrics.exposition().decode())
    instance = {"server": "demo", "instance": "demo-1"}
    assert value(before, "mcp_gateway_breaker_state", **instance) == 0
    assert value(after, "mcp_gateway_breaker_state", **instance) == 2
    assert value(before, "mcp_gateway_instance_healthy", **instance) == 1
    assert value(after, "mcp_gateway_instance_healthy", **instance) == 0
    assert value(after, "mcp_gateway_inflight_calls", server="demo") == 3
    assert value(after, "mcp_gateway_queue_depth", scope="supervisor:system") == 4


@pytest.mark.parametrize(("state", "number"), [("closed", 0), ("half_open", 1), ("open", 2)])
def test_breaker_states_map_to_zero_one_two(state: str, number: int) -> None:
    metrics = GatewayMetrics()
    metrics.watch(lambda: GatewayState(breakers=[("s", "i", state)], health=(), inflight=(), queues=()))
    samples = parse_exposition(metrics.exposition().decode())
    assert value(samples, "mcp_gateway_breaker_state", server="s", instance="i") == number


def test_rate_limit_refusals_count_into_the_current_gateway_registry() -> None:
    metrics = GatewayMetrics().make_current()
    count_rate_limited("principal")
    count_rate_limited("principal")
    count_rate_limited("supervisor:system")
    assert current_gateway_metrics() is metrics
    samples = parse_exposition(metrics.exposition().decode())
    assert value(samples, "mcp_gateway_rate_limited_total", scope="principal") == 2
    assert value(samples, "mcp_gateway_rate_limited_total", scope="supervisor:system") == 1


def test_server_metrics_use_the_mcp_server_prefix() -> None:
    metrics = ServerMetrics()
    metrics.observe_call("database", "sql_query", "error", 0.02)
    samples = parse_exposition(metrics.exposition().decode())
    assert value(samples, "mcp_server_calls_total", server="database", tool="sql_query", outcome="error") == 1
    assert value(samples, "mcp_server_call_duration_seconds_count", server="database", tool="sql_query") == 1
    assert not any(name.startswith("mcp_gateway_") for name in samples)


def test_every_exported_name_follows_prometheus_conventions() -> None:
    metrics = GatewayMetrics()
    metrics.watch(lambda: GatewayState((), (), (), ()))
    metrics.observe_call("s", "t", "ok", 0.01)
    metrics.count_retry("s")
    metrics.count_rate_limited("principal")
    text = metrics.exposition().decode() + ServerMetrics().exposition().decode()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name.startswith(("mcp_gateway_", "mcp_server_")), name
            if kind == "counter":
                assert name.endswith("_total"), name
            if kind == "histogram":
                assert name.endswith("_seconds"), name


def test_a_denied_request_is_counted_under_its_reason_and_every_reason_starts_at_zero() -> None:
    metrics = GatewayMetrics()
    metrics.count_denied("forbidden")
    samples = parse_exposition(metrics.exposition().decode())
    counts = {reason: value(samples, "mcp_gateway_denied_total", reason=reason) for reason in DENIED_REASONS}
    assert counts == {"unauthenticated": 0, "forbidden": 1, "rate_limited": 0, "too_large": 0}


def test_an_unknown_denial_reason_is_refused_and_counts_nothing() -> None:
    metrics = GatewayMetrics()
    with pytest.raises(ValueError, match="unknown denial reason 'nope'"):
        metrics.count_denied("nope")
    samples = parse_exposition(metrics.exposition().decode())
    assert value(samples, "mcp_gateway_denied_total") == 0
    assert ("reason", "nope") not in {item for labels in samples["mcp_gateway_denied_total"] for item in labels}
