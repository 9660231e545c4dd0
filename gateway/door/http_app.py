"""The gateway's Starlette app: the MCP endpoints, the REST API and the status pages.

``/mcp`` serves every server's tools as ``<server>_<tool>``; ``/servers/<name>/mcp`` one server under
its own names; ``/supervisors/<name>/mcp`` one supervisor's group. All endpoints share one
:class:`~gateway.call.service.Gateway`: the same pools, breakers, bulkheads and policies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.call.catalog import ALL, View
from gateway.call.guard import CallGuard
from gateway.call.live_config import live_config_running
from gateway.call.service import Gateway
from gateway.door.fast_lane import FastToolCallMiddleware
from gateway.door.http_security import GatewaySecurityMiddleware
from gateway.door.mcp_endpoint import Endpoint
from gateway.door.metrics_endpoint import metrics_route
from gateway.door.openapi import openapi_route
from gateway.door.rest import rest_exception_handlers, rest_routes
from gateway.settings import SERVER_NAMES, GatewaySettings
from mesh.config import Settings
from mesh.registry import Registry
from mesh.security.http_errors import INVALID_REQUEST
from mesh.security.tls import client_context
from mesh.security.upstream_auth import upstream_headers
from mesh.serving.transport_security import transport_security_for


class _Endpoints:
    """An ASGI app that hands a request to the session manager of the view its path names.

    ``known`` says, at each request, which names the running gateway has: an endpoint is built for
    every name it might meet, but one whose server is not configured or discovered is not served.
    """

    def __init__(self, kind: str, apps: dict[str, ASGIApp], known: Callable[[], Iterable[str]]) -> None:
        self.kind = kind
        self.apps = apps
        self.known = known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope.get("path_params", {}).get("name", "")
        known = sorted(set(self.known()) & set(self.apps))
        if name not in known:
            listed = ", ".join(known) or "none"
            message = f"not_found: no {self.kind} named {name!r} in this gateway; known: {listed}"
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
            await JSONResponse(body, status_code=404)(scope, receive, send)
            return
        await self.apps[name](scope, receive, send)


class _Single:
    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)


def build_gateway_app(
    settings: GatewaySettings, registry: Registry, *, suite: Settings | None = None
) -> tuple[Starlette, Gateway]:
    """The app and the gateway behind it; the app's lifespan runs the gateway.

    ``suite`` (the whole settings) brings security: auth, roles, rate limits, audit, request limits and
    the upstream credential (docs/security.md). Without it the app authenticates no one and audits nothing.
    """
    gateway = Gateway(settings, registry)
    guard = CallGuard.from_settings(gateway, suite) if suite is not None else CallGuard(gateway)
    if suite is not None and suite.auth.upstream_secret is not None:
        gateway.upstream_headers = upstream_headers(suite.auth.upstream_secret.get_secret_value())
    if suite is not None and suite.auth.upstream_tls is not None:
        gateway.upstream_ssl = client_context(suite.auth.upstream_tls)
    security = transport_security_for(settings.host)

    managers: list[StreamableHTTPSessionManager] = []

    def endpoint_app(view: View) -> ASGIApp:
        """The SDK endpoint of ``view`` behind the fast path for stateless tool calls."""
        endpoint = Endpoint(gateway, view, guard)
        manager = StreamableHTTPSessionManager(
            app=endpoint.server, security_settings=security, max_request_body_size=settings.max_request_bytes
        )
        managers.append(manager)
        return FastToolCallMiddleware(_Single(manager), gateway, view, security, settings.max_request_bytes, guard)

    main = endpoint_app(ALL)
    servers = sorted(set(SERVER_NAMES) | set(registry.servers()))
    by_server = {name: endpoint_app(View("server", name)) for name in servers}
    by_supervisor = {name: endpoint_app(View("supervisor", name)) for name in settings.supervisors}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for manager in managers:
                await stack.enter_async_context(manager.run())
            await stack.enter_async_context(guard.audit.running())
            stack.push_async_callback(guard.aclose)
            await stack.enter_async_context(gateway.running())
            await stack.enter_async_context(live_config_running(gateway))
            yield

    routes = [
        Route("/mcp", main),
        Route("/servers/{name}/mcp", _Endpoints("server", by_server, lambda: [*gateway.pools, *registry.servers()])),
        Route("/supervisors/{name}/mcp", _Endpoints("supervisor", by_supervisor, lambda: gateway.settings.supervisors)),
        *rest_routes(gateway, guard),
        openapi_route(auth_required=guard.auth_required),
        metrics_route(gateway),
    ]
    door = Middleware(GatewaySecurityMiddleware, guard=guard, host=settings.host, max_body=settings.max_request_bytes)
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[door], exception_handlers=rest_exception_handlers())
    return app, gateway
