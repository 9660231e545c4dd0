"""The REST face of the gateway, for services that do not speak MCP.

``POST /mcp/v1/<method>`` takes a JSON body mirroring the MCP params and answers with the MCP result
object. Errors are JSON ``{"error": {"code": "<stable code>", "message": ..., "rpc_code": ...}}`` with
a matching HTTP status. ``GET /health``, ``/ready``, ``/v1/instances``, ``/v1/supervisors`` and
``/openapi.json`` describe the gateway.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.call.catalog import ALL, paginate
from gateway.call.guard import FORBIDDEN, RATE_LIMITED, CallGuard
from gateway.call.router import GATEWAY_BUSY, GATEWAY_DEADLINE, GATEWAY_UNAVAILABLE, GatewayError
from gateway.call.service import GATEWAY_INFO, Gateway, UnknownName
from gateway.upstream.mcp_client import MODERN_VERSION, UpstreamError
from mesh.discovery import registry_status
from mesh.security.principal import Principal


class Who:
    """The caller of one REST request and the guard that decides what it may do."""

    def __init__(self, guard: CallGuard, principal: Principal | None) -> None:
        self.guard = guard
        self.principal = principal

    def check(self, kind: Any, name: str, server: str) -> None:
        self.guard.check(self.principal, kind, name, server)


Handler = Callable[[Gateway, dict[str, Any], Who], Awaitable[dict[str, Any]]]


class RestError(Exception):
    def __init__(
        self, status: int, code: str, message: str, rpc_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.rpc_code = rpc_code
        self.retry_after = retry_after


def _error_response(error: RestError) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.rpc_code is not None:
        body["rpc_code"] = error.rpc_code
    headers = None
    if error.retry_after is not None:
        body["retry_after_seconds"] = error.retry_after
        headers = {"retry-after": str(max(1, math.ceil(error.retry_after)))}
    return JSONResponse({"error": body}, status_code=error.status, headers=headers)


_GATEWAY_CODES = {
    GATEWAY_BUSY: (429, "busy"),
    GATEWAY_DEADLINE: (504, "deadline_exceeded"),
    GATEWAY_UNAVAILABLE: (503, "upstream_unavailable"),
    FORBIDDEN: (403, "forbidden"),
    RATE_LIMITED: (429, "rate_limited"),
}


def _translate(exc: Exception) -> RestError:
    if isinstance(exc, UnknownName):
        return RestError(404, "not_found", exc.message, exc.code)
    if isinstance(exc, GatewayError):
        status, code = _GATEWAY_CODES.get(exc.code, (400, "invalid_params"))
        retry = exc.data.get("retry_after_seconds")
        return RestError(status, code, exc.message, exc.code, retry if isinstance(retry, int | float) else None)
    if isinstance(exc, UpstreamError):
        return RestError(502 if exc.code == -32603 else 400, "upstream_error", exc.message, exc.code)
    return RestError(500, "internal", "internal gateway error")


def _require_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise RestError(400, "invalid_params", f"the body needs a non-empty string {key!r}")
    return value


def _optional_object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RestError(400, "invalid_params", f"{key!r} must be a JSON object")
    return value


def _page(items: list[dict[str, Any]], body: dict[str, Any], key: str) -> dict[str, Any]:
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise RestError(400, "invalid_params", "'cursor' must be the string nextCursor of the previous page")
    try:
        page, next_cursor = paginate(items, cursor)
    except ValueError as exc:
        raise RestError(400, "invalid_cursor", str(exc)) from None
    result: dict[str, Any] = {key: page}
    if next_cursor:
        result["nextCursor"] = next_cursor
    return result


async def _initialize(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    return {
        "protocolVersion": MODERN_VERSION,
        "serverInfo": GATEWAY_INFO,
        "capabilities": {"tools": {"listChanged": True}, "resources": {"listChanged": True}, "prompts": {}},
        "instructions": "REST mirror of the gateway's MCP endpoint; POST /mcp/v1/tools/list to begin.",
    }


async def _tools_list(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    return _page(who.guard.list_tools(who.principal, gateway.catalog, ALL), body, "tools")


async def _tools_call(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    name = _require_str(body, "name")
    params: dict[str, Any] = {"name": name, "arguments": _optional_object(body, "arguments")}
    if meta := _optional_object(body, "_meta"):
        params["_meta"] = meta
    return await who.guard.acting_for(who.principal).call_tool(ALL, name, params)


async def _resources_list(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    result = _page(who.guard.list_resources(who.principal, gateway.catalog, ALL), body, "resources")
    if not body.get("cursor"):
        result["resourceTemplates"] = who.guard.list_templates(who.principal, gateway.catalog, ALL)
    return result


async def _resources_read(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    uri = _require_str(body, "uri")
    server = gateway.catalog.resource_server(uri)
    if server is None:
        raise RestError(404, "not_found", f"no server offers resource {uri}; POST /mcp/v1/resources/list")
    who.check("resource", uri, server)
    return await gateway.forward_to_server(ALL, server, "resources/read", {"uri": uri})


async def _prompts_list(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    return _page(who.guard.list_prompts(who.principal, gateway.catalog, ALL), body, "prompts")


async def _prompts_get(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    name = _require_str(body, "name")
    entry = gateway.catalog.prompt(ALL, name)
    if entry is None:
        raise RestError(404, "not_found", f"unknown prompt {name!r}; POST /mcp/v1/prompts/list")
    who.check("prompt", entry.gateway_name, entry.server)
    params = {"name": entry.name, "arguments": _optional_object(body, "arguments")}
    return await gateway.forward_to_server(ALL, entry.server, "prompts/get", params)


METHODS: dict[str, Handler] = {
    "initialize": _initialize,
    "tools/list": _tools_list,
    "tools/call": _tools_call,
    "resources/list": _resources_list,
    "resources/read": _resources_read,
    "prompts/list": _prompts_list,
    "prompts/get": _prompts_get,
}


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RestError(413, "payload_too_large", f"the body is {declared} bytes; the limit is {limit}")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise RestError(413, "payload_too_large", f"the body is over the limit of {limit} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RestError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RestError(400, "invalid_json", "the body must be a JSON object mirroring the MCP params")
    return body


def rest_routes(gateway: Gateway, guard: CallGuard | None = None) -> list[Route]:
    limit = gateway.settings.max_request_bytes
    door = guard or CallGuard(gateway)

    def make(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await _read_json(request, limit)
                return JSONResponse(await handler(gateway, body, Who(door, door.principal(request.scope))))
            except RestError as exc:
                return _error_response(exc)
            except (GatewayError, UpstreamError) as exc:
                return _error_response(_translate(exc))

        return endpoint

    routes = [Route(f"/mcp/v1/{method}", make(handler), methods=["POST"]) for method, handler in METHODS.items()]

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "live": True, "gateway": GATEWAY_INFO})

    async def ready(_request: Request) -> Response:
        serving = {server: pool.available() for server, pool in gateway.pools.items()}
        ok = any(serving.values()) or not serving
        # A degraded registry (Consul away) leaves the gateway serving its last catalog: still ready, but said so.
        registry = registry_status(gateway.registry)
        body = {"ready": ok, "degraded": registry["degraded"], "servers": serving, "registry": registry}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def instances(_request: Request) -> Response:
        return JSONResponse(gateway.status())

    async def supervisors(_request: Request) -> Response:
        return JSONResponse({"supervisors": gateway.capabilities()["supervisors"]})

    async def openapi(_request: Request) -> Response:
        from gateway.door.openapi import openapi_document

        return JSONResponse(openapi_document())

    routes += [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/v1/instances", instances, methods=["GET"]),
        Route("/v1/supervisors", supervisors, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return routes
