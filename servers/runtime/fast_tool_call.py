"""A ``tools/call`` answered without the SDK's dispatch, in either protocol era: the one implementation both transports use.

:class:`FastToolCalls` decides whether a parsed JSON-RPC request qualifies and answers it. A request
qualifies when it is one ``tools/call`` the SDK would accept, carries no multi-round input and names a
tool that needs nothing from the request only the SDK's session can give (no ``Context`` parameter, or
one declared light by :func:`~servers.runtime.light_context.session_needed_when` for a client without
the capabilities it names; no resolvers, no ``x-mcp-header`` arguments). In the 2026-07-28 era the
envelope, params schema and version travel in ``_meta`` (:meth:`FastToolCalls.qualify`); in the
2025-11-25 handshake era the SDK's own connection says whether ``initialize`` was accepted and which
version was negotiated, and the params are checked against that version's schema
(:meth:`FastToolCalls.qualify_handshake`). The server must also be plain: no SDK auth, no extension
interceptor, no middleware beyond the SDK's OpenTelemetry and request-state ones, the suite's call
metrics and the middleware that declare themselves ``neutral_to_tool_calls``.

Such a call runs the SDK's ``Tool.run`` (argument validation, the tool) and its result conversion
(:mod:`servers.runtime.tool_result`: structured output checked against the output schema); its errors
are turned into results exactly as the SDK's ``tools/call`` handler does, and the result is shaped for
the wire with the SDK's own per-version serializer (and, in the 2026-07-28 era, its ``serverInfo``
stamp), under the same SERVER span and call metrics the SDK middleware chain would record. A failure
the SDK answers as a JSON-RPC error gets the error of the request's era. What the transport adds (HTTP
headers and the SSE deferral in :mod:`servers.runtime.fastpath`, lines on a pipe and light contexts in
:mod:`servers.runtime.stdio_transport`) and how it encodes the answer stay the transport's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.connection import Connection
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.resolve import returns_input_required
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.request_state import RequestStateBoundary
from mcp.server.runner import modern_error_data
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import InboundModernRoute, classify_inbound_request, x_mcp_header_map
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from mcp_types import (
    CORE_RESULT_TYPES,
    INTERNAL_ERROR,
    SERVER_INFO_META_KEY,
    CallToolResult,
    ClientCapabilities,
    ErrorData,
    TextContent,
)
from mcp_types import methods as _methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from opentelemetry.trace import Span, StatusCode
from pydantic import BaseModel, ValidationError

from mesh import tracing
from servers.runtime.light_context import NeedsSession, session_need_of
from servers.runtime.observability import CallMetricsMiddleware, call_outcome
from servers.runtime.protocol_features import NeutralToToolCalls
from servers.runtime.tool_call_params import ParamsVerdicts
from servers.runtime.tool_result import converted, declared_model_result

log = logging.getLogger("mcp_suite.runtime.fastpath")

MODERN_VERSION = "2026-07-28"
META_PROTOCOL = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"

_REQUEST_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_DIRECT_HANDSHAKE_VERSIONS = frozenset({"2025-06-18", "2025-11-25"})
"""Handshake versions whose surface dump of a structured result is the 2026-07-28 one without ``resultType``."""


@dataclass(frozen=True)
class FastCall:
    """A qualifying request: what the fast path needs of it."""

    id: int | str
    tool: Tool
    arguments: dict[str, Any]
    meta: Mapping[str, Any]
    params: Mapping[str, Any]
    version: str = MODERN_VERSION
    light: bool = False
    """The tool takes a light ``Context``: the transport builds one per call (:mod:`servers.runtime.light_context`)."""

    @property
    def modern(self) -> bool:
        return self.version == MODERN_VERSION


@dataclass(frozen=True)
class _Eligibility:
    tool: Tool
    eligible: bool
    needs_session: NeedsSession | None


class FastToolCalls:
    """Qualify and answer the tool calls of ``server`` that need nothing only the SDK's session gives."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server
        self._eligible_tools: dict[str, _Eligibility] = {}
        self._params = ParamsVerdicts()
        self._shared_context: Context[Any, Any] | None = None
        self._plain: tuple[tuple[object, ...], tuple[bool, CallMetricsMiddleware | None]] | None = None

    def plain_server(self) -> tuple[bool, CallMetricsMiddleware | None]:
        """Whether the fast path can stand in for the server's handling, and its call-metrics middleware if any.

        Checked per request: middleware and handlers may be added to a server after its transport starts.
        The verdict is kept while what it depends on (auth, the handler, cache hints, the middleware list)
        stays the same objects.
        """
        server = self.server
        lowlevel = server._lowlevel_server
        entry = lowlevel.get_request_handler("tools/call")
        key = (server.settings.auth, entry, "tools/call" in lowlevel.cache_hints, type(server), *server.middleware)
        if self._plain is not None and len(self._plain[0]) == len(key) and all(map(_same, self._plain[0], key)):
            return self._plain[1]
        verdict = self._plain_verdict(entry)
        self._plain = (key, verdict)
        return verdict

    def _plain_verdict(self, entry: Any) -> tuple[bool, CallMetricsMiddleware | None]:
        server = self.server
        if server.settings.auth is not None:
            return False, None  # SDK bearer auth sits inside the SDK app: never bypass it
        lowlevel = server._lowlevel_server
        if entry is None or entry.handler != server._handle_call_tool or "tools/call" in lowlevel.cache_hints:
            return False, None  # an extension interceptor (or a replaced handler) owns tools/call
        if type(server).call_tool is not MCPServer.call_tool:
            return False, None  # a subclass's call_tool: the fast path runs the tool itself, so it must not skip it
        metrics: CallMetricsMiddleware | None = None
        for middleware in server.middleware:
            if isinstance(middleware, CallMetricsMiddleware):
                metrics = middleware
            elif not (
                isinstance(middleware, OpenTelemetryMiddleware | RequestStateBoundary | NeutralToToolCalls)
                or getattr(middleware, "neutral_to_tool_calls", False) is True
            ):
                return False, None  # a middleware the fast path cannot stand in for
        return True, metrics

    def qualify(
        self,
        request: Any,
        routing_headers: Mapping[str, str] | None = None,
        *,
        pipe: bool = False,
        light: bool | None = None,
    ) -> FastCall | None:
        """The call if ``request`` (parsed JSON) is one qualifying 2026-07-28 ``tools/call`` the SDK would accept.

        ``routing_headers`` are the HTTP ``mcp-*`` routing headers, checked against the body as the SDK
        checks them; a transport without headers (stdio) passes None. ``pipe``: the transport writes
        notifications beside the answer, progress included (stdio; over HTTP a call asking for progress
        stays with the SDK). ``light`` (default: ``pipe``): the transport can give a tool a light ``Context``.
        """
        light_ok = pipe if light is None else light
        parts = _envelope(request)
        if parts is None:
            return None
        request_id, params, name, arguments, meta = parts
        if meta is None or meta.get(META_PROTOCOL) != MODERN_VERSION or ("progressToken" in meta and not pipe):
            return None
        if routing_headers is None:
            # The SDK's ladder without its header rung: the envelope pair present, the version (a string,
            # MODERN_VERSION, checked above) supported. Its verdict without the call that builds it.
            if META_CAPABILITIES not in meta or MODERN_VERSION not in MODERN_PROTOCOL_VERSIONS:
                return None
        elif not isinstance(classify_inbound_request(request, headers=routing_headers), InboundModernRoute):
            return None
        if not self._params.accepts(MODERN_VERSION, params):
            return None
        found = self._eligible_tool(name)
        if found is None:
            return None
        if found.needs_session is None:
            return FastCall(request_id, found.tool, arguments, meta, params)
        if not light_ok or found.needs_session(_capabilities(meta.get(META_CAPABILITIES))):
            return None
        return FastCall(request_id, found.tool, arguments, meta, params, light=True)

    def qualify_handshake(self, request: Any, connection: Connection | None) -> FastCall | None:
        """The call if ``request`` is one qualifying ``tools/call`` on the SDK's handshake-era ``connection``.

        The SDK answers a call before ``initialize`` (its init gate), one carrying the 2026-07-28
        envelope and one whose params its negotiated version refuses: those all stay with it.
        """
        if connection is None or not connection.initialize_accepted:
            return None
        version = connection.protocol_version
        if version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return None
        parts = _envelope(request)
        if parts is None:
            return None
        request_id, params, name, arguments, meta = parts
        if meta is not None and META_PROTOCOL in meta:
            return None  # the SDK refuses an enveloped request on a handshake connection
        if not self._params.accepts(version, params):
            return None
        found = self._eligible_tool(name)
        if found is None:
            return None
        light = found.needs_session is not None
        if light and found.needs_session is not None and found.needs_session(connection.client_capabilities):
            return None
        return FastCall(request_id, found.tool, arguments, meta or {}, params, version, light)

    def _eligible_tool(self, name: str) -> _Eligibility | None:
        """The tool if it exists and needs nothing from the request (cached per registered tool)."""
        tool = self.server._tool_manager.get_tool(name)
        if tool is None:
            return None  # unknown: the SDK answers
        cached = self._eligible_tools.get(name)
        if cached is None or cached.tool is not tool:
            needs = session_need_of(tool.fn) if tool.context_kwarg is not None else None
            eligible = (
                (tool.context_kwarg is None or needs is not None)
                and not tool.resolved_params
                and (needs is not None or not returns_input_required(tool.fn))
                and not x_mcp_header_map(tool.parameters)
            )
            cached = self._eligible_tools[name] = _Eligibility(tool, eligible, needs)
        return cached if cached.eligible else None

    # -- the call ---------------------------------------------------------------------------------

    async def answer(
        self, call: FastCall, metrics: CallMetricsMiddleware | None, context: Context[Any, Any] | None = None
    ) -> dict[str, Any] | ErrorData:
        """The call's wire result, or the JSON-RPC error it fails with, recorded like the SDK's middleware.

        ``context`` is the light ``Context`` the transport built for a :attr:`FastCall.light` call.
        """
        with tracing.server_span("tools/call", call.tool.name, call.meta) as span:
            span.set_attribute("mcp.protocol.version", call.version)
            span.set_attribute("jsonrpc.request.id", str(call.id))
            span.set_attribute("gen_ai.operation.name", "execute_tool")
            try:
                result = await self._measured(call, metrics, context)
            except Exception as exc:
                _record_error(span, exc)
                return modern_error_data(exc) if call.modern else _handshake_error_data(exc)
            if result.get("isError") is True:
                span.set_attribute("error.type", "tool_error")
                span.set_status(StatusCode.ERROR)
        return result

    async def _measured(
        self, call: FastCall, metrics: CallMetricsMiddleware | None, context: Context[Any, Any] | None
    ) -> dict[str, Any]:
        if metrics is None:
            return await self._result(call, context)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._result(call, context)
            outcome = call_outcome(result)
            return result
        finally:
            metrics.metrics.observe_call(metrics.server_name, call.tool.name, outcome, time.perf_counter() - started)

    async def _result(self, call: FastCall, context: Context[Any, Any] | None) -> dict[str, Any]:
        """The wire result: the SDK's ``tools/call`` handler, then its outbound shaping for the call's version."""
        name = call.tool.name
        try:
            raw = await call.tool.run(call.arguments, context or self._context(), convert_result=False)
            direct = declared_model_result(call.tool, raw)
            if direct is not None and call.modern:
                direct["_meta"] = {SERVER_INFO_META_KEY: self._server_info_stamp()}
                return direct
            if direct is not None and call.version in _DIRECT_HANDSHAKE_VERSIONS:
                del direct["resultType"]
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
        if not call.modern or not isinstance(result_type, str) or result_type in CORE_RESULT_TYPES:
            try:
                dumped = _methods.serialize_server_result("tools/call", call.version, dumped)
            except ValidationError:
                log.exception("handler for 'tools/call' returned an invalid result")
                raise MCPError(code=INTERNAL_ERROR, message="Handler returned an invalid result") from None
        if not call.modern:
            return dumped  # handshake-era results carry neither resultType nor the serverInfo stamp
        if dumped.get("resultType") is None:
            dumped["resultType"] = "complete"
        meta = dumped.get("_meta")
        if meta is None or (isinstance(meta, dict) and meta.get(SERVER_INFO_META_KEY) is None):
            dumped["_meta"] = {**(meta or {}), SERVER_INFO_META_KEY: self._server_info_stamp()}
        return dumped

    def _context(self) -> Context[Any, Any]:
        """The ``Context`` that ``call_tool`` would build for the call. A tool without a ``Context`` parameter
        never sees it, so one is built per server and handed to every such call."""
        if self._shared_context is None:
            self._shared_context = Context(mcp_server=self.server, subscriptions=self.server._subscriptions)
        return self._shared_context

    def _server_info_stamp(self) -> dict[str, Any]:
        """The SDK's ``serverInfo`` stamp. Its public property deep-copies the dump on every call so a
        caller may mutate it; this one is encoded to bytes at once, so the once-per-server dump is shared."""
        lowlevel = self.server._lowlevel_server
        source = getattr(lowlevel, "_server_info_stamp_source", None)
        return source if isinstance(source, dict) else lowlevel.server_info_stamp


def _envelope(request: Any) -> tuple[int | str, dict[str, Any], str, dict[str, Any], dict[str, Any] | None] | None:
    """Id, params, tool name, arguments and ``_meta`` (None if absent) of a well-formed single ``tools/call``."""
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
    if not isinstance(name, str) or not isinstance(arguments, dict) or not (meta is None or isinstance(meta, dict)):
        return None
    return request_id, params, name, arguments, meta


def _same(a: object, b: object) -> bool:
    return a is b


def _capabilities(raw: Any) -> ClientCapabilities | None:
    """The envelope's capabilities as the SDK's connection reads them: None when absent or mis-shaped."""
    try:
        return ClientCapabilities.model_validate(raw, by_name=False)
    except ValidationError:
        return None


def _handshake_error_data(exc: Exception) -> ErrorData:
    """What the SDK's JSON-RPC dispatcher answers for a handshake-era handler that raised ``exc``."""
    error = handler_exception_to_error_data(exc)
    if error is not None:
        return error
    log.exception("handler for 'tools/call' raised")
    return ErrorData(code=0, message=str(exc))  # the SDK's own (pinned) code for an unmapped failure


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
