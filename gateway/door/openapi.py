"""The OpenAPI 3.1 document of the gateway's REST endpoints."""

from __future__ import annotations

from typing import Any

from gateway.call.service import GATEWAY_INFO

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "invalid_json",
                        "invalid_params",
                        "invalid_cursor",
                        "not_found",
                        "payload_too_large",
                        "busy",
                        "deadline_exceeded",
                        "upstream_unavailable",
                        "upstream_error",
                        "internal",
                    ],
                },
                "message": {"type": "string"},
                "rpc_code": {"type": "integer"},
            },
        }
    },
}

_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_CURSOR = {"type": "object", "properties": {"cursor": {"type": "string"}}}

_BODIES: dict[str, dict[str, Any]] = {
    "initialize": {"type": "object"},
    "tools/list": _CURSOR,
    "tools/call": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "description": "gateway tool name, <server>_<tool>"},
            "arguments": _OBJECT,
            "_meta": {
                "type": "object",
                "properties": {
                    "io.mcp-suite/timeoutMs": {"type": "integer", "minimum": 1},
                    "io.mcp-suite/priority": {"type": "integer", "minimum": -100, "maximum": 100},
                },
            },
        },
    },
    "resources/list": _CURSOR,
    "resources/read": {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}}},
    "prompts/list": _CURSOR,
    "prompts/get": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
    },
}


def _error_responses() -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        status: {"description": text, "content": content}
        for status, text in (
            ("400", "invalid JSON or params"),
            ("404", "unknown tool, prompt or resource"),
            ("413", "body too large"),
            ("429", "busy: the bulkhead queue is full"),
            ("503", "no instance could answer"),
            ("504", "the deadline passed"),
        )
    }


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, schema in _BODIES.items():
        paths[f"/mcp/v1/{method}"] = {
            "post": {
                "summary": f"MCP {method}",
                "operationId": method.replace("/", "_"),
                "requestBody": {"required": False, "content": {"application/json": {"schema": schema}}},
                "responses": {
                    "200": {
                        "description": "the MCP result object",
                        "content": {"application/json": {"schema": _OBJECT}},
                    },
                    **_error_responses(),
                },
            }
        }
    for path, summary in (
        ("/health", "liveness"),
        ("/ready", "at least one server is serving"),
        ("/v1/instances", "instances, health, breakers, bulkheads"),
        ("/v1/supervisors", "supervisor groups"),
    ):
        paths[path] = {
            "get": {
                "summary": summary,
                "operationId": path.strip("/").replace("/", "_"),
                "responses": {
                    "200": {"description": summary, "content": {"application/json": {"schema": _OBJECT}}},
                    "503": {"description": "not ready", "content": {"application/json": {"schema": _OBJECT}}},
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "mcp-suite gateway", "version": GATEWAY_INFO["version"]},
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR}},
    }
