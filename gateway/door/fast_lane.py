"""The hot path: a stateless 2026-07-28 ``tools/call`` answered without the SDK's server machinery.

A request qualifies when it is a POST of one JSON-RPC ``tools/call`` on the modern wire (the
``mcp-protocol-version: 2026-07-28`` header and the same version in ``_meta``), asks for no progress
and no log messages (no ``progressToken``, no ``logLevel``), and passes the same Host/Origin and
header checks (SEP-2243) the SDK applies. Such a call is parsed once, routed through the same router
(policies, bulkheads, breakers, retries, deadlines) and answered with one JSON body: the result as
:func:`~gateway.call.service.tool_result` shaped it for both doors, an error with the SDK's HTTP status.
Anything else — sessions, progress, other methods — goes to the SDK endpoint unchanged, so behaviour
and errors stay the SDK's. A body that is not one JSON-RPC message at all (invalid JSON, an array, a
missing ``jsonrpc`` or ``method``, a wrong type) gets one error of :mod:`mesh.jsonrpc_envelope` here,
on every endpoint, instead of the SDK's list of validation errors.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    validate_mcp_param_headers,
)
from mcp.types import LOG_LEVEL_META_KEY
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.call.catalog import View
from gateway.call.guard import CallGuard
from gateway.call.router import GatewayError
from gateway.call.service import Gateway
from gateway.upstream.mcp_client import META_PROTOCOL, MODERN_VERSION, UpstreamError
from mesh import tracing
from mesh.asgi_body import read_body, replay
from mesh.jsonrpc_envelope import parse_message

_JSON = [(b"content-type", b"application/json")]


class FastToolCallMiddleware:
    """Serve qualifying stateless tool calls directly; hand everything else to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        gateway: Gateway,
        view: View,
        security: TransportSecuritySettings | None,
        max_body: int,
        guard: CallGuard | None = None,
    ) -> None:
        self.app = app
        self.guard = guard or CallGuard(gateway)
        self.gateway = gateway
        self.view = view
        self.security = security
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive, self.max_body)
        if not complete:  # past the door's limit (it refused that already) or a client gone: the SDK's
            await self.app(scope, replay(body, receive, complete), send)
            return
        document, problem = parse_message(body)
        if problem is not None:
            await _send_json(send, problem.status, problem.encoded())
            return
        request = _qualifying(document) if self._eligible_headers(scope) else None
        if request is None or not self._headers_agree(request, scope):
            await self.app(scope, replay(body, receive), send)  # the SDK answers a header mismatch: 400
            return
        await self._answer(request, send, scope)

    def _eligible_headers(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        if headers.get(b"mcp-protocol-version") != MODERN_VERSION.encode():
            return False
        if headers.get(b"mcp-method") != b"tools/call" or b"mcp-session-id" in headers:
            return False
        if b"application/json" not in headers.get(b"accept", b""):
            return False
        return self._host_allowed(headers)

    def _headers_agree(self, request: dict[str, Any], scope: Scope) -> bool:
        """SEP-2243: the routing and ``Mcp-Param-*`` headers say what the body says (the SDK's own checks)."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if find_duplicated_routing_header(headers.items()) is not None or len(headers) != len(scope["headers"]):
            return False
        if isinstance(classify_inbound_request(request, headers=headers), InboundLadderRejection):
            return False
        entry = self.gateway.catalog.tool(self.view, request["params"]["name"])
        if entry is None:
            return True  # an unknown tool gets the router's answer
        schema = entry.definition.get("inputSchema")
        return validate_mcp_param_headers(schema, request["params"].get("arguments") or {}, headers) is None

    def _host_allowed(self, headers: dict[bytes, bytes]) -> bool:
        security = self.security
        if security is None or not security.enable_dns_rebinding_protection:
            return True
        host = headers.get(b"host", b"").decode("latin-1")
        if not any(_matches(host, pattern) for pattern in security.allowed_hosts):
            return False
        origin = headers.get(b"origin")
        return origin is None or any(_matches(origin.decode("latin-1"), p) for p in security.allowed_origins)

    async def _answer(self, request: dict[str, Any], send: Send, scope: Scope) -> None:
        request_id = request["id"]
        params: dict[str, Any] = request["params"]
        meta = {k: v for k, v in params["_meta"].items() if not k.startswith("io.modelcontextprotocol/")}
        forwarded = {key: value for key, value in params.items() if key != "_meta"}
        if meta:
            forwarded["_meta"] = meta
        caps = params["_meta"].get("io.modelcontextprotocol/clientCapabilities")
        try:
            # The SDK path gets its SERVER span from the SDK's OpenTelemetryMiddleware; this one mirrors it.
            with tracing.server_span("tools/call", params["name"], meta):
                result = await self.guard.acting_for(self.guard.principal(scope)).call_tool(
                    self.view,
                    params["name"],
                    forwarded,
                    client_capabilities=caps if isinstance(caps, dict) else {},
                )
            message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "result": result}
        except (GatewayError, UpstreamError) as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            data = exc.data
            if data:
                error["data"] = data
            message = {"jsonrpc": "2.0", "id": request_id, "error": error}
        payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        # As the SDK's table: SEP-2575 wants e.g. 400 for a missing capability.
        status = ERROR_CODE_HTTP_STATUS.get(message["error"]["code"], 200) if "error" in message else 200
        await _send_json(send, status, payload)


async def _send_json(send: Send, status: int, payload: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _matches(value: str, pattern: str) -> bool:
    return value == pattern or fnmatch.fnmatchcase(value, pattern)


def _qualifying(request: Any) -> dict[str, Any] | None:
    """The request if it is one well-formed modern ``tools/call`` without a progress token, else None."""
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or request.get("method") != "tools/call":
        return None
    request_id = request.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    params = request.get("params")
    if not isinstance(params, dict) or not isinstance(params.get("name"), str):
        return None
    if not isinstance(params.get("arguments", {}), dict):
        return None
    meta = params.get("_meta")
    if not isinstance(meta, dict) or meta.get(META_PROTOCOL) != MODERN_VERSION or "progressToken" in meta:
        return None
    if LOG_LEVEL_META_KEY in meta:
        return None  # log messages stream on the SDK path, like progress
    if "inputResponses" in params or "requestState" in params:
        return None  # multi-round input flows stay on the SDK path
    return request
