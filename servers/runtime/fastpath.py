"""The hot path of a server: a stateless 2026-07-28 ``tools/call`` answered without the SDK's transport.

:class:`FastToolCallMiddleware` sits in front of a server's streamable-HTTP endpoint. A request
qualifies when it is a POST to the MCP path of one JSON-RPC ``tools/call`` on the modern wire (the
``mcp-protocol-version: 2026-07-28`` header, no session, the same version in ``_meta``), passes the
SDK's own transport checks (Content-Type, Host/Origin, Accept, routing headers, envelope, params
schema), asks for no progress and carries no multi-round input, and names a tool that needs nothing
from the request (no ``Context`` parameter, no resolvers, no ``InputRequiredResult`` return, no
``x-mcp-header`` arguments). The server must also be plain: no SDK auth, no extension interceptor,
no middleware beyond the SDK's OpenTelemetry and request-state ones, the suite's call metrics and the
runtime's protocol features (which do nothing for a stateless ``tools/call``).

Such a call runs the SDK's ``Tool.run`` (argument validation, the tool) and its result conversion
(:mod:`servers.runtime.tool_result`: structured output checked against the output schema), its errors are turned into results exactly as the SDK's ``tools/call`` handler does,
and the result is shaped for the wire with the SDK's own per-version serializer and ``serverInfo``
stamp, under the same SERVER span and call metrics the SDK middleware chain would record. A call that
outlives the SDK's SSE deferral window gets the SDK's answer too: ``text/event-stream`` with
keep-alive pings, the tool cancelled if the client goes away. Everything else is replayed to the
SDK endpoint unchanged, so its behaviour and errors stay the SDK's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.resolve import returns_input_required
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.request_state import RequestStateBoundary
from mcp.server.runner import modern_error_data
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, InboundModernRoute, classify_inbound_request, x_mcp_header_map
from mcp_types import (
    CORE_RESULT_TYPES,
    INTERNAL_ERROR,
    SERVER_INFO_META_KEY,
    CallToolResult,
    JSONRPCError,
    TextContent,
)
from mcp_types import methods as _methods
from opentelemetry.trace import Span, StatusCode
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from mesh import tracing
from mesh.asgi_body import read_body, replay
from servers.runtime.observability import CallMetricsMiddleware, call_outcome
from servers.runtime.protocol_features import NeutralToToolCalls
from servers.runtime.tool_result import converted, declared_model_result

log = logging.getLogger("mcp_suite.runtime.fastpath")

MODERN_VERSION = "2026-07-28"
META_PROTOCOL = "io.modelcontextprotocol/protocolVersion"
SSE_PING_INTERVAL = 15.0
"""Seconds before a still-running call commits to ``text/event-stream``, then between pings (the SDK's value)."""

_ROUTING = frozenset({b"mcp-protocol-version", b"mcp-method", b"mcp-name"})
_WANTED = frozenset({b"content-type", b"content-length", b"host", b"origin", b"accept"})
_REQUEST_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
_PING = b": ping\r\n\r\n"


@dataclass(frozen=True)
class _Call:
    """A qualifying request: what the fast path needs of it."""

    id: int | str
    tool: Tool
    arguments: dict[str, Any]
    meta: Mapping[str, Any]


class FastToolCallMiddleware:
    """Serve qualifying stateless tool calls of ``server`` directly; hand everything else to ``app``."""

    def __init__(self, app: ASGIApp, server: MCPServer[Any], path: str = "/mcp") -> None:
        self.app = app
        self.server = server
        self.path = path
        self._eligible_tools: dict[str, tuple[Tool, bool]] = {}
        self._shared_context: Context[Any, Any] | None = None

    @property
    def _manager(self) -> StreamableHTTPSessionManager:
        return self.server.session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = self._eligible_headers(scope)
        plain, metrics = self._plain_server() if headers is not None else (False, None)
        if headers is None or not plain:
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive, self._manager.max_request_body_size)
        call = self._parse(body, headers) if complete else None
        if call is None:
            await self.app(scope, replay(body, receive, complete), send)
            return
        await self._answer(call, metrics, receive, send)

    # -- eligibility ------------------------------------------------------------------------------

    def _eligible_headers(self, scope: Scope) -> dict[bytes, bytes] | None:
        """The headers the checks need (first occurrence wins, as Starlette reads them), or None."""
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _ROUTING:
                if name in found:
                    return None  # a duplicated routing header: the SDK refuses it
                found[name] = value
            elif name in _WANTED:
                found.setdefault(name, value)
            elif name == b"mcp-session-id" or name.startswith(b"mcp-param-"):
                return None
        if found.get(b"mcp-protocol-version") != MODERN_VERSION.encode() or found.get(b"mcp-method") != b"tools/call":
            return None
        declared = found.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._manager.max_request_body_size):
            return None
        content_type = found.get(b"content-type", b"").decode("latin-1").lower()
        if not content_type.startswith("application/json") or not self._accepts(found.get(b"accept", b"")):
            return None
        return found if self._host_allowed(found) else None

    def _accepts(self, accept: bytes) -> bool:
        """The SDK's Accept rule: JSON, and SSE too unless the endpoint answers JSON only."""
        types = [part.strip().split(";")[0].strip().lower() for part in accept.decode("latin-1").split(",")]
        wildcard = "*/*" in types
        has_json = wildcard or "application/json" in types or "application/*" in types
        has_sse = wildcard or "text/event-stream" in types or "text/*" in types
        return has_json and (self._manager.json_response or has_sse)

    def _host_allowed(self, headers: dict[bytes, bytes]) -> bool:
        """The SDK's DNS-rebinding rule (exact value, or ``base:*`` as any port); a refusal is the SDK's to answer."""
        security = self._manager.security_settings
        if security is None or not security.enable_dns_rebinding_protection:
            return True
        host = headers.get(b"host", b"").decode("latin-1")
        if not host or not _matches(host, security.allowed_hosts):
            return False
        origin = headers.get(b"origin", b"").decode("latin-1")
        return not origin or _matches(origin, security.allowed_origins)

    def _plain_server(self) -> tuple[bool, CallMetricsMiddleware | None]:
        """Whether the fast path can stand in for the server's handling, and its call-metrics middleware if any."""
        server = self.server
        if server.settings.auth is not None:
            return False, None  # SDK bearer auth sits inside the SDK app: never bypass it
        lowlevel = server._lowlevel_server
        entry = lowlevel.get_request_handler("tools/call")
        if entry is None or entry.handler != server._handle_call_tool or "tools/call" in lowlevel.cache_hints:
            return False, None  # an extension interceptor (or a replaced handler) owns tools/call
        if type(server).call_tool is not MCPServer.call_tool:
            return False, None  # a subclass's call_tool: the fast path runs the tool itself, so it must not skip it
        metrics: CallMetricsMiddleware | None = None
        for middleware in server.middleware:
            if isinstance(middleware, CallMetricsMiddleware):
                metrics = middleware
            elif not isinstance(middleware, OpenTelemetryMiddleware | RequestStateBoundary | NeutralToToolCalls):
                return False, None  # a middleware the fast path cannot stand in for
        return True, metrics

    def _parse(self, body: bytes, headers: dict[bytes, bytes]) -> _Call | None:
        """The call if the body is one qualifying ``tools/call`` the SDK would accept, else None."""
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(request, dict) or not request.keys() <= _REQUEST_KEYS:
            return None
        request_id = request.get("id")
        if request.get("jsonrpc") != "2.0" or request.get("method") != "tools/call":
            return None
        if isinstance(request_id, bool) or not isinstance(request_id, int | str):
            return None
        params = request.get("params")
        if not isinstance(params, dict) or "inputResponses" in params or "requestState" in params:
            return None  # multi-round input flows stay on the SDK path
        name, arguments, meta = params.get("name"), params.get("arguments", {}), params.get("_meta")
        if not isinstance(name, str) or not isinstance(arguments, dict) or not isinstance(meta, dict):
            return None
        if meta.get(META_PROTOCOL) != MODERN_VERSION or "progressToken" in meta:
            return None
        routing = {key.decode(): value.decode("latin-1") for key, value in headers.items() if key in _ROUTING}
        if not isinstance(classify_inbound_request(request, headers=routing), InboundModernRoute):
            return None
        try:
            _methods.validate_client_request("tools/call", MODERN_VERSION, params)
        except (KeyError, ValidationError):
            return None
        tool = self._eligible_tool(name)
        return None if tool is None else _Call(request_id, tool, arguments, meta)

    def _eligible_tool(self, name: str) -> Tool | None:
        """The tool if it exists and needs nothing from the request (cached per registered tool)."""
        tool = self.server._tool_manager.get_tool(name)
        if tool is None:
            return None  # unknown: the SDK answers
        cached = self._eligible_tools.get(name)
        if cached is None or cached[0] is not tool:
            eligible = (
                tool.context_kwarg is None
                and not tool.resolved_params
                and not returns_input_required(tool.fn)
                and not x_mcp_header_map(tool.parameters)
            )
            cached = self._eligible_tools[name] = (tool, eligible)
        return tool if cached[1] else None

    # -- the call ---------------------------------------------------------------------------------

    async def _answer(self, call: _Call, metrics: CallMetricsMiddleware | None, receive: Receive, send: Send) -> None:
        if self._manager.json_response:
            status, payload = await self._run(call, metrics)
            await _send_json(send, status, payload)
            return
        keepalive = _Keepalive(send, receive)
        try:
            # An anyio scope, not a cancel of the request's task: work the tool runs in a worker thread
            # (SQLite) is then waited for instead of abandoned with the connection still in use.
            with anyio.CancelScope() as scope:
                keepalive.arm(scope)
                status, payload = await self._run(call, metrics)
        finally:
            await keepalive.disarm()
        if scope.cancel_called:
            return  # the client went away: nobody to answer
        if keepalive.committed:
            await send({"type": "http.response.body", "body": b"event: message\r\ndata: " + payload + b"\r\n\r\n"})
        else:
            await _send_json(send, status, payload)

    async def _run(self, call: _Call, metrics: CallMetricsMiddleware | None) -> tuple[int, bytes]:
        """Status and JSON-RPC body of the call, recorded like the SDK's OpenTelemetry and metrics middleware."""
        name = call.tool.name
        with tracing.server_span("tools/call", name, call.meta) as span:
            span.set_attribute("mcp.protocol.version", MODERN_VERSION)
            span.set_attribute("jsonrpc.request.id", str(call.id))
            span.set_attribute("gen_ai.operation.name", "execute_tool")
            try:
                result = await self._measured(call, metrics)
            except Exception as exc:
                error = modern_error_data(exc)
                _record_error(span, exc)
                message = JSONRPCError(jsonrpc="2.0", id=call.id, error=error)
                body = message.model_dump(mode="json", by_alias=True, exclude_none=True)
                return ERROR_CODE_HTTP_STATUS.get(error.code, 200), _encode(body)
            if result.get("isError") is True:
                span.set_attribute("error.type", "tool_error")
                span.set_status(StatusCode.ERROR)
        return 200, _encode({"jsonrpc": "2.0", "id": call.id, "result": result})

    async def _measured(self, call: _Call, metrics: CallMetricsMiddleware | None) -> dict[str, Any]:
        if metrics is None:
            return await self._result(call)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._result(call)
            outcome = call_outcome(result)
            return result
        finally:
            metrics.metrics.observe_call(metrics.server_name, call.tool.name, outcome, time.perf_counter() - started)

    async def _result(self, call: _Call) -> dict[str, Any]:
        """The wire result: the SDK's ``tools/call`` handler, then its outbound shaping for 2026-07-28."""
        name = call.tool.name
        try:
            raw = await call.tool.run(call.arguments, self._context(), convert_result=False)
            direct = declared_model_result(call.tool, raw)
            if direct is not None:
                direct["_meta"] = {SERVER_INFO_META_KEY: self._server_info_stamp()}
                return direct
            result: BaseModel = converted(call.tool, raw)
        except MCPError:
            raise
        except Exception as exc:  # the SDK handler's ladder: every failure is an is_error result
            if isinstance(exc, ToolError) and not isinstance(exc, UnexpectedToolError):
                if isinstance(exc.__cause__, ValidationError):
                    fields = sorted({".".join(str(part) for part in err["loc"]) for err in exc.__cause__.errors()})
                    log.info("Tool %r rejected arguments: %r", name, fields)
                else:
                    log.info("Tool %r failed: %r", name, str(exc))
            else:
                log.exception("Tool %r raised an unexpected exception", name)
            result = CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        if _methods.is_input_required(dumped) and dumped.get("requestState") is not None:
            # Sealing needs the SDK's request context; a tool without Context cannot read the answers anyway.
            log.error("tool %r returned requestState without declaring InputRequiredResult; refused", name)
            raise MCPError(code=INTERNAL_ERROR, message="Internal error")
        result_type = dumped.get("resultType")
        if not isinstance(result_type, str) or result_type in CORE_RESULT_TYPES:
            try:
                dumped = _methods.serialize_server_result("tools/call", MODERN_VERSION, dumped)
            except ValidationError:
                log.exception("handler for 'tools/call' returned an invalid result")
                raise MCPError(code=INTERNAL_ERROR, message="Handler returned an invalid result") from None
        if dumped.get("resultType") is None:
            dumped["resultType"] = "complete"
        meta = dumped.get("_meta")
        if meta is None or (isinstance(meta, dict) and meta.get(SERVER_INFO_META_KEY) is None):
            dumped["_meta"] = {**(meta or {}), SERVER_INFO_META_KEY: self._server_info_stamp()}
        return dumped

    def _context(self) -> Context[Any, Any]:
        """The ``Context`` that ``call_tool`` would build for the call. An eligible tool never sees it (no
        ``Context`` parameter, no resolvers), so one is built per server and handed to every call."""
        if self._shared_context is None:
            self._shared_context = Context(mcp_server=self.server, subscriptions=self.server._subscriptions)
        return self._shared_context

    def _server_info_stamp(self) -> dict[str, Any]:
        """The SDK's ``serverInfo`` stamp. Its public property deep-copies the dump on every call so a
        caller may mutate it; this one is encoded to bytes at once, so the once-per-server dump is shared."""
        lowlevel = self.server._lowlevel_server
        source = getattr(lowlevel, "_server_info_stamp_source", None)
        return source if isinstance(source, dict) else lowlevel.server_info_stamp


class _Keepalive:
    """The SDK's SSE deferral for a call still running after :data:`SSE_PING_INTERVAL`.

    Nothing is started for a call that ends in time (one timer handle, cancelled). Past the window the
    response commits to ``text/event-stream`` with a ping every interval, and a client disconnect
    cancels the call, as on the SDK path.
    """

    def __init__(self, send: Send, receive: Receive) -> None:
        self.send = send
        self.receive = receive
        self.committed = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._scope: anyio.CancelScope | None = None

    def arm(self, scope: anyio.CancelScope) -> None:
        self._scope = scope
        self._timer = asyncio.get_running_loop().call_later(SSE_PING_INTERVAL, self._commit)

    def _commit(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._ping()), loop.create_task(self._watch_disconnect())]

    async def _ping(self) -> None:
        await self.send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        self.committed = True  # set once the start is out: a call ending before that still answers JSON
        while True:
            await self.send({"type": "http.response.body", "body": _PING, "more_body": True})
            await asyncio.sleep(SSE_PING_INTERVAL)

    async def _watch_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        if self._scope is not None:
            self._scope.cancel()

    async def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)  # each ends cancelled; a cancellation of this task still propagates


def _record_error(span: Span, exc: Exception) -> None:
    """What the SDK's OpenTelemetryMiddleware records for a call that failed as a JSON-RPC error."""
    if isinstance(exc, MCPError):
        code = str(exc.error.code)
        span.set_attributes({"error.type": code, "rpc.response.status_code": code})
        span.set_status(StatusCode.ERROR, exc.error.message)
    else:
        span.set_attribute("error.type", type(exc).__qualname__)
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR, str(exc))


def _matches(value: str, allowed: list[str]) -> bool:
    return value in allowed or any(p.endswith(":*") and value.startswith(p[:-2] + ":") for p in allowed)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _encode(message: dict[str, Any]) -> bytes:
    """The SDK's wire encoding: compact separators, ASCII escapes."""
    return _ENCODER.encode(message).encode()


async def _send_json(send: Send, status: int, payload: bytes) -> None:
    """Headers in the order Starlette's ``Response`` writes them, so the answer matches the SDK's byte for byte."""
    headers = [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
