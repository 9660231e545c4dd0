"""The OpenAPI 3.1 document of the gateway's REST endpoints, served at ``GET /openapi.json``.

It says exactly what :mod:`gateway.door.rest` takes and answers: the request bodies the handlers
accept (nothing they would refuse), and every status with its body, error statuses with the codes
they can carry. ``tests/gateway/door/test_openapi_conformance.py`` holds the two to each other.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.call.service import GATEWAY_INFO
from gateway.door.rest import CURSOR_MAX_LENGTH, CURSOR_PATTERN

# Every status an operation of the REST API can answer with the error shape, and the codes it carries.
ERROR_CODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "400": (
        "the body is not JSON, not an object, nests too deep, or a field is wrong; or the upstream refused the params",
        ("invalid_json", "invalid_params", "invalid_cursor", "too_deep", "upstream_error"),
    ),
    "401": ("no credentials, or credentials that are not valid (when auth is configured)", ("unauthorized",)),
    "403": ("the caller's roles do not allow it, or the Origin header is foreign", ("forbidden", "forbidden_origin")),
    "404": ("no such tool, prompt or resource", ("not_found",)),
    "413": ("the body is over gateway.max_request_bytes", ("payload_too_large",)),
    "421": ("the Host header is not served here (DNS-rebinding protection)", ("forbidden_origin",)),
    "429": ("a rate limit is spent, or the bulkhead queue is full", ("rate_limited", "busy")),
    "500": ("the gateway failed", ("internal",)),
    "502": ("the upstream failed on its side", ("upstream_error",)),
    "503": ("no instance could answer", ("upstream_unavailable",)),
    "504": ("the call's deadline passed", ("deadline_exceeded",)),
}
# What the app itself answers on any path: no such path, or a method the path does not take.
APP_ERROR_CODES = ("not_found", "method_not_allowed")
_STATUS_PAGES = ("401", "403", "421", "500")  # GET /v1/* pass the door's checks too

_OBJECT: dict[str, Any] = {"type": "object"}
_STRING = {"type": "string"}
_ARRAY_OF_OBJECTS = {"type": "array", "items": _OBJECT}
_NON_EMPTY = {"type": "string", "minLength": 1}

_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {
                    "type": "string",
                    "enum": sorted({c for _, codes in ERROR_CODES.values() for c in codes} | set(APP_ERROR_CODES)),
                },
                "message": _STRING,
                "rpc_code": {"type": "integer", "description": "the JSON-RPC error code the MCP endpoint answers"},
                "retry_after_seconds": {"type": "number", "minimum": 0},
            },
        }
    },
}

_CURSOR_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cursor": {
            "type": "string",
            "maxLength": CURSOR_MAX_LENGTH,
            "pattern": f"^$|{CURSOR_PATTERN}",
            "description": "the nextCursor of the previous page; empty or left out for the first page. "
            "A cursor past the end of a list that has shrunk gives an empty page.",
        }
    },
}


def _page_of(key: str, **more: Any) -> dict[str, Any]:
    properties = {key: _ARRAY_OF_OBJECTS, "nextCursor": {"type": "string", "pattern": CURSOR_PATTERN}, **more}
    return {"type": "object", "required": [key], "properties": properties}


# Each method: its request body and its result. The bodies are the MCP params; fields the gateway does
# not read are let through, as MCP lets them through.
_METHODS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "initialize": (
        _OBJECT,
        {
            "type": "object",
            "required": ["protocolVersion", "serverInfo", "capabilities"],
            "properties": {"protocolVersion": _STRING, "serverInfo": _OBJECT, "capabilities": _OBJECT},
        },
    ),
    "tools/list": (_CURSOR_BODY, _page_of("tools")),
    "tools/call": (
        {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {**_NON_EMPTY, "description": "gateway tool name, <server>_<tool>"},
                "arguments": _OBJECT,
                "_meta": {
                    "type": "object",
                    "properties": {
                        "io.mcp-suite/timeoutMs": {"type": "number", "exclusiveMinimum": 0},
                        "io.mcp-suite/priority": {"type": "integer", "minimum": -100, "maximum": 100},
                    },
                },
            },
        },
        {
            "type": "object",
            "required": ["content"],
            "properties": {"content": _ARRAY_OF_OBJECTS, "structuredContent": _OBJECT, "isError": {"type": "boolean"}},
        },
    ),
    "resources/list": (_CURSOR_BODY, _page_of("resources", resourceTemplates=_ARRAY_OF_OBJECTS)),
    "resources/read": (
        {"type": "object", "required": ["uri"], "properties": {"uri": _NON_EMPTY}},
        {"type": "object", "required": ["contents"], "properties": {"contents": _ARRAY_OF_OBJECTS}},
    ),
    "prompts/list": (_CURSOR_BODY, _page_of("prompts")),
    "prompts/get": (
        {
            "type": "object",
            "required": ["name"],
            "properties": {"name": _NON_EMPTY, "arguments": {"type": "object", "additionalProperties": _STRING}},
        },
        {"type": "object", "required": ["messages"], "properties": {"messages": _ARRAY_OF_OBJECTS}},
    ),
}

_READY = {
    "type": "object",
    "required": ["ready", "degraded", "servers", "registry"],
    "properties": {
        "ready": {"type": "boolean"},
        "degraded": {"type": "boolean"},
        "servers": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "registry": _OBJECT,
    },
}
_PAGES: dict[str, tuple[str, dict[str, Any], bool]] = {  # path: summary, 200 body, behind the door
    "/health": (
        "liveness",
        {"type": "object", "required": ["status", "live", "gateway"], "properties": {"live": {"const": True}}},
        False,
    ),
    "/ready": ("at least one server is serving", _READY, False),
    "/v1/instances": (
        "instances, health, breakers, bulkheads",
        {"type": "object", "required": ["gateway", "servers"], "properties": {"servers": _ARRAY_OF_OBJECTS}},
        True,
    ),
    "/v1/supervisors": (
        "supervisor groups",
        {"type": "object", "required": ["supervisors"], "properties": {"supervisors": _ARRAY_OF_OBJECTS}},
        True,
    ),
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(status: str) -> dict[str, Any]:
    text, codes = ERROR_CODES[status]
    schema = {"allOf": [{"$ref": "#/components/schemas/Error"}], "properties": {"error": _codes(codes)}}
    response: dict[str, Any] = {"description": text, "content": _json(schema)}
    if status == "401":
        response["headers"] = {"WWW-Authenticate": {"required": True, "schema": _STRING}}
    if status == "429":
        response["headers"] = {"Retry-After": {"required": False, "schema": _STRING}}
    return response


def _codes(codes: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "properties": {"code": {"enum": list(codes)}}}


def openapi_document(*, auth_required: bool = False) -> dict[str, Any]:
    """The document; with ``auth_required`` the REST operations need an API key or a bearer token."""
    statuses = [s for s in ERROR_CODES if auth_required or s != "401"]
    security: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}] if auth_required else []
    paths: dict[str, Any] = {}
    for method, (body, result) in _METHODS.items():
        operation: dict[str, Any] = {
            "summary": f"MCP {method}",
            "operationId": method.replace("/", "_"),
            # No body is the empty object: required only where the params have a required field.
            "requestBody": {"required": bool(body.get("required")), "content": _json(body)},
            "responses": {
                "200": {"description": "the MCP result object", "content": _json(result)},
                **{status: _error(status) for status in statuses},
            },
        }
        if security:
            operation["security"] = security
        paths[f"/mcp/v1/{method}"] = {"post": operation}
    for path, (summary, schema, behind_door) in _PAGES.items():
        responses: dict[str, Any] = {"200": {"description": summary, "content": _json(schema)}}
        if path == "/ready":
            responses["503"] = {"description": "no server is serving", "content": _json(_READY)}
        if behind_door:
            responses.update({s: _error(s) for s in _STATUS_PAGES if s in statuses})
        operation = {"summary": summary, "operationId": path.strip("/").replace("/", "_"), "responses": responses}
        if security and behind_door:
            operation["security"] = security
        paths[path] = {"get": operation}
    components: dict[str, Any] = {"schemas": {"Error": _ERROR}}
    if auth_required:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a JWT, or an API key"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "mcp-suite gateway", "version": GATEWAY_INFO["version"]},
        "paths": paths,
        "components": components,
    }


def openapi_route(*, auth_required: bool) -> Route:
    document = openapi_document(auth_required=auth_required)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    return Route("/openapi.json", openapi, methods=["GET"])
