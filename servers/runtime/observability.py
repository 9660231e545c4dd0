"""Metrics and tracing for every server: an SDK middleware that counts calls, and ``GET /metrics``.

:class:`CallMetricsMiddleware` sits in ``MCPServer.middleware`` (inside the SDK's own
``OpenTelemetryMiddleware``, which already opens one SERVER span per message and continues the
gateway's W3C trace context from ``_meta``). It times ``tools/call`` (labelled by tool) and the
other requests a client makes of a server's content (``resources/read``, ``prompts/get``,
``completion/complete``, labelled by method). Listings, pings and notifications are not counted.
A server with metrics of its own lists their registries in a ``metric_collectors`` attribute;
``GET /metrics`` serves them after the call metrics.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, InputRequiredResult
from prometheus_client import CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from mesh.metrics import CONTENT_TYPE, ServerMetrics

COUNTED_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})


def call_outcome(result: object) -> str:
    """The ``outcome`` label of a handled call: ``tool_error``, ``input_required`` or ``ok``."""
    match result:
        case CallToolResult(is_error=True) | {"isError": True}:
            return "tool_error"
        case InputRequiredResult() | {"resultType": "input_required"}:
            return "input_required"
        case _:
            return "ok"


class CallMetricsMiddleware:
    """Count and time each call a server handles, by tool (or method) and outcome."""

    def __init__(self, server_name: str, metrics: ServerMetrics) -> None:
        self.server_name = server_name
        self.metrics = metrics

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method not in COUNTED_METHODS:
            return await call_next(ctx)
        name = ctx.params.get("name") if method == "tools/call" and ctx.params else None
        label = name if isinstance(name, str) else method
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            outcome = call_outcome(result)
            return result
        finally:
            self.metrics.observe_call(self.server_name, label, outcome, time.perf_counter() - started)


def instrument_server(server: MCPServer[Any], server_name: str, metrics: ServerMetrics | None = None) -> ServerMetrics:
    """Add call metrics to ``server`` and a ``GET /metrics`` route (Prometheus text format); return the metrics."""
    metrics = metrics if metrics is not None else ServerMetrics()
    server.middleware.append(CallMetricsMiddleware(server_name, metrics))

    own: list[CollectorRegistry] = list(getattr(server, "metric_collectors", ()))

    async def scrape(_request: Request) -> Response:
        body = metrics.exposition() + b"".join(generate_latest(registry) for registry in own)
        return Response(body, media_type=CONTENT_TYPE)

    server.custom_route("/metrics", methods=["GET"])(scrape)
    return metrics
