"""A stateless 2026-07-28 ``tools/call`` answered without the SDK's dispatch: the one implementation both transports use.

:class:`FastToolCalls` decides whether a parsed JSON-RPC request qualifies and answers it. A request
qualifies when it is one ``tools/call`` the SDK would accept on the modern wire (envelope, params
schema, the 2026-07-28 version in ``_meta``), asks for no progress, carries no multi-round input and
names a tool that needs nothing from the request (no ``Context`` parameter, no resolvers, no
``InputRequiredResult`` return, no ``x-mcp-header`` arguments). The server must also be plain: no SDK
auth, no extension interceptor, no middleware beyond the SDK's OpenTelemetry and request-state ones,
the suite's call metrics and the runtime's protocol features (which do nothing for a stateless
``tools/call``).

Such a call runs the SDK's ``Tool.run`` (argument validation, the tool) and its result conversion
(:mod:`servers.runtime.tool_result`: structured output checked against the output schema); its errors
are turned into results exactly as the SDK's ``tools/call`` handler does, and the result is shaped for
the wire with the SDK's own per-version serializer and ``serverInfo`` stamp, under the same SERVER span
and call metrics the SDK middleware chain would record. What the transport adds (HTTP headers and the
SSE deferral in :mod:`servers.runtime.fastpath`, lines on a pipe in :mod:`servers.runtime.stdio_transport`)
and how it encodes the answer stay the transport's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.resolve import returns_input_required
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.request_state import RequestStateBoundary
from mcp.server.runner import modern_error_data
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import InboundModernRoute, classify_inbound_request, x_mcp_header_map
from mcp_types import (
    CORE_RESULT_TYPES,
    INTERNAL_ERROR,
    SERVER_INFO_META_KEY,
    CallToolResult,
    ErrorData,
    TextContent,
)
from mcp_types import methods as _methods
from opentelemetry.trace import Span, StatusCode
from pydantic import BaseModel, ValidationError

from mesh import tracing
from servers.runtime.observability import CallMetricsMiddleware, call_outcome
from servers.runtime.protocol_features import NeutralToToolCalls
from servers.runtime.tool_result import converted, declared_model_result

log = logging.getLogger("mcp_suite.runtime.fastpath")

MODERN_VERSION = "2026-07-28"
META_PROTOCOL = "io.modelcontextprotocol/protocolVersion"

_REQUEST_KEYS = frozenset({"jsonrpc", "id", "method", "params"})


@dataclass(frozen=True)
class FastCall:
    """A qualifying request: what the fast path needs of it."""

    id: int | str
    tool: Tool
    arguments: dict[str, Any]
    meta: Mapping[str, Any]


class FastToolCalls:
    """Qualify and answer the stateless tool calls of ``server``."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server
        self._eligible_tools: dict[str, tuple[Tool, bool]] = {}
        self._shared_context: Context[Any, Any] | None = None

    def plain_server(self) -> tuple[bool, CallMetricsMiddleware | None]:
        """Whether the fast path can stand in for the server's handling, and its call-metrics middleware if any.

        Checked per request: middleware and handlers may be added to a server after its transport starts.
        """
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

    def qualify(self, request: Any, routing_headers: Mapping[str, str] | None = None) -> FastCall | None:
        """The call if ``request`` (parsed JSON) is one qualifying ``tools/call`` the SDK would accept, else None.

        ``routing_headers`` are the HTTP ``mcp-*`` routing headers, checked against the body as the SDK
        checks them; a transport without headers (stdio) passes None.
        """
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
        if not isinstance(classify_inbound_request(request, headers=routing_headers), InboundModernRoute):
            return None
        try:
            _methods.validate_client_request("tools/call", MODERN_VERSION, params)
        except (KeyError, ValidationError):
            return None
        tool = self._eligible_tool(name)
        return None if tool is None else FastCall(request_id, tool, arguments, meta)

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

    async def answer(self, call: FastCall, metrics: CallMetricsMiddleware | None) -> dict[str, Any] | ErrorData:
        """The call's wire result, or the JSON-RPC error it fails with, recorded like the SDK's middleware."""
        with tracing.server_span("tools/call", call.tool.name, call.meta) as span:
            span.set_attribute("mcp.protocol.version", MODERN_VERSION)
            span.set_attribute("jsonrpc.request.id", str(call.id))
            span.set_attribute("gen_ai.operation.name", "execute_tool")
            try:
                result = await self._measured(call, metrics)
            except Exception as exc:
                _record_error(span, exc)
                return modern_error_data(exc)
            if result.get("isError") is True:
                span.set_attribute("error.type", "tool_error")
                span.set_status(StatusCode.ERROR)
        return result

    async def _measured(self, call: FastCall, metrics: CallMetricsMiddleware | None) -> dict[str, Any]:
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

    async def _result(self, call: FastCall) -> dict[str, Any]:
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
