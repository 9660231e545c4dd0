"""The REST face of the gateway, for services that do not speak MCP.

``POST /mcp/v1/<method>`` takes a JSON body mirroring the MCP params and answers with the MCP result
object. Errors are JSON ``{"error": {"code": "<stable code>", "message": ..., "rpc_code": ...}}`` with
a matching HTTP status; :func:`rest_exception_handlers` puts the app's own refusals (no such path, a
method a path does not take, a crash) in that shape too. ``GET /health``, ``/ready``, ``/v1/instances``
and ``/v1/supervisors`` describe the gateway; :mod:`gateway.door.openapi` documents all of it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.call.catalog import ALL, paginate
from gateway.call.guard import FORBIDDEN, RATE_LIMITED, CallGuard
from gateway.call.router import (
    GATEWAY_BUSY,
    GATEWAY_DEADLINE,
    GATEWAY_UNAVAILABLE,
    META_PRIORITY,
    META_TIMEOUT_MS,
    GatewayError,
)
from gateway.call.service import GATEWAY_INFO, Gateway, UnknownName
from gateway.upstream.mcp_client import MODERN_VERSION, UpstreamError
from mesh.discovery import registry_status
from mesh.jsonrpc_envelope import json_type
from mesh.security.principal import Principal, forwarding_principal

log = logging.getLogger("mcp_suite.gateway.rest")


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
    if not isinstance(value, dict):
        raise RestError(400, "invalid_params", f"{key!r} must be a JSON object (or left out), not {json_type(value)}")
    return value


# The catalog's cursors are base64url("o:<offset>"), padded: this is exactly that language, so the
# OpenAPI document can say which strings the server takes and a cursor no page handed out is refused
# before it is decoded (the lenient base64 decoder would skip stray characters). A test checks it
# against every cursor the catalog hands out.
_DIGIT_AND_NIBBLE = "(?:[MN][DTjz]|O[DT])"
CURSOR_PATTERN = (
    f"^bzo[w-z0-5](?:{_DIGIT_AND_NIBBLE}[AEIMQUYcgk][w-z0-5])*"
    f"(?:(?:[MN][AQgw]|O[AQ])==|{_DIGIT_AND_NIBBLE}[AEIMQUYcgk]=)?$"
)
CURSOR_MAX_LENGTH = 32
_CURSOR = re.compile(CURSOR_PATTERN)


def _page(items: list[dict[str, Any]], body: dict[str, Any], key: str) -> dict[str, Any]:
    cursor = body.get("cursor", "")
    if not isinstance(cursor, str):
        message = f"'cursor' must be the string nextCursor of the previous page (or left out), not {json_type(cursor)}"
        raise RestError(400, "invalid_params", message)
    if cursor and (len(cursor) > CURSOR_MAX_LENGTH or not _CURSOR.search(cursor)):
        message = f"invalid cursor {cursor[:CURSOR_MAX_LENGTH]!r}: pass the nextCursor of the previous page"
        raise RestError(400, "invalid_cursor", message)
    try:
        page, next_cursor = paginate(items, cursor or None)
    except ValueError:
        # A well-formed cursor past the end: the list shrank since that page (a server left). An empty
        # last page tells the client it is done, as an offset past the end does in any REST list.
        page, next_cursor = [], None
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


def _call_meta(body: dict[str, Any]) -> dict[str, Any]:
    """``_meta`` of a call; the gateway's own keys checked, where the MCP endpoint would ignore a bad one.

    A REST caller has no session to see its deadline or priority ignored in: a value the gateway
    would not honour is refused, as the OpenAPI document says.
    """
    meta = _optional_object(body, "_meta")
    if META_TIMEOUT_MS in meta:
        value = meta[META_TIMEOUT_MS]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise RestError(
                400, "invalid_params", f"'_meta.{META_TIMEOUT_MS}' must be a number of milliseconds above 0"
            )
    if META_PRIORITY in meta:
        value = meta[META_PRIORITY]
        if isinstance(value, float) and value.is_integer():
            value = meta[META_PRIORITY] = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not -100 <= value <= 100:
            raise RestError(400, "invalid_params", f"'_meta.{META_PRIORITY}' must be an integer from -100 to 100")
    return meta


async def _tools_call(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    name = _require_str(body, "name")
    params: dict[str, Any] = {"name": name, "arguments": _optional_object(body, "arguments")}
    if meta := _call_meta(body):
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
    return await gateway.forward_to_server(
        ALL, server, "resources/read", forwarding_principal({"uri": uri}, who.principal)
    )


async def _prompts_list(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    return _page(who.guard.list_prompts(who.principal, gateway.catalog, ALL), body, "prompts")


async def _prompts_get(gateway: Gateway, body: dict[str, Any], who: Who) -> dict[str, Any]:
    name = _require_str(body, "name")
    arguments = _optional_object(body, "arguments")
    if not all(isinstance(value, str) for value in arguments.values()):
        raise RestError(400, "invalid_params", "a prompt's 'arguments' are strings, as MCP's prompts/get takes them")
    entry = gateway.catalog.prompt(ALL, name)
    if entry is None:
        raise RestError(404, "not_found", f"unknown prompt {name!r}; POST /mcp/v1/prompts/list")
    who.check("prompt", entry.gateway_name, entry.server)
    params = {"name": entry.name, "arguments": arguments}
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
    if not raw:
        return {}  # no body: the method's defaults, as in MCP when params are left out
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
            except Exception:
                log.exception("REST %s failed", request.url.path)
                return _error_response(RestError(500, "internal", "internal gateway error"))

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

    routes += [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/v1/instances", instances, methods=["GET"]),
        Route("/v1/supervisors", supervisors, methods=["GET"]),
    ]
    return routes


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, a method the path does not take) in the REST error shape."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        error = RestError(404, "not_found", f"nothing is served at {path}; the REST API is listed at /openapi.json")
    elif exc.status_code == 405:
        allowed = headers.get("Allow", "")
        error = RestError(405, "method_not_allowed", f"{path} does not take {request.method}; use {allowed}")
    else:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        error = RestError(exc.status_code, code, exc.detail)
    response = _error_response(error)
    response.headers.update(headers)
    return response


def _is_mcp_endpoint(path: str) -> bool:
    """``/mcp``, ``/servers/<name>/mcp`` or ``/supervisors/<name>/mcp``: answered in JSON-RPC, not REST."""
    if path == "/mcp":
        return True
    kind, _, rest = path.lstrip("/").partition("/")
    return kind in ("servers", "supervisors") and rest.count("/") == 1 and rest.endswith("/mcp")


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware logs the traceback and re-raises after sending this answer.
    if _is_mcp_endpoint(request.url.path):
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": "internal gateway error"}}
        return JSONResponse(body, status_code=500)
    return _error_response(RestError(500, "internal", "internal gateway error"))


def rest_exception_handlers() -> Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    """The app's handlers that keep every status it answers itself JSON, in the REST error shape."""
    return {HTTPException: _http_exception, Exception: _server_error}
