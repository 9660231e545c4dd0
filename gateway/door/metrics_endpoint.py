"""The gateway's metrics endpoint: call counters from the router, state gauges read at scrape time.

``GET /metrics`` answers in the Prometheus text format from the registry of the gateway's
:class:`~mesh.metrics.GatewayMetrics` (held by its router). Breaker states, instance health, calls in
flight, bulkhead queue depths and whether the registry is degraded (the same flag /ready shows) are
read from the pools, the router and the registry when Prometheus scrapes,
so keeping them costs the call path nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.call.service import Gateway
from mesh.discovery import registry_status
from mesh.metrics import CONTENT_TYPE, GatewayMetrics, GatewayState


def gateway_state(gateway: Gateway) -> GatewayState:
    """The state gauges' rows, read now."""
    pools = list(gateway.pools.values())
    members = [(pool.server, member) for pool in pools for member in list(pool.members.values())]
    return GatewayState(
        breakers=[(server, m.instance_id, m.breaker.state) for server, m in members],
        health=[(server, m.instance_id, m.healthy) for server, m in members],
        inflight=[(pool.server, sum(m.inflight for m in list(pool.members.values()))) for pool in pools],
        queues=[(scope, int(snapshot["queued"])) for scope, snapshot in gateway.router.bulkheads().items()],
        registry_degraded=bool(registry_status(gateway.registry)["degraded"]),
    )


def gateway_metrics(gateway: Gateway) -> GatewayMetrics:
    """The gateway's metrics with its state gauges published; they also become the process's current ones."""
    metrics = gateway.router.metrics
    metrics.watch(lambda: gateway_state(gateway))
    return metrics.make_current()


def metrics_route(gateway: Gateway) -> Route:
    """``GET /metrics`` for the gateway's app."""
    metrics = gateway_metrics(gateway)

    async def scrape(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return Route("/metrics", scrape, methods=["GET"])
