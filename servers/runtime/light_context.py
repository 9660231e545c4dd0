"""A ``Context`` for a fast call: progress and log notifications written straight to the transport.

A tool that takes a ``Context`` only to read the client's capabilities, report progress, log or
announce resource changes needs nothing only the SDK's session can give. It says so with
:func:`session_needed_when`, naming the client capabilities under which it *does* need the session
(server-to-client requests: roots, elicitation, sampling; or a multi-round ``InputRequiredResult``).
The fast path then serves its calls from clients without those capabilities, handing it a real
``Context`` (:func:`light_context`) whose request-scoped channel is the transport's own: on stdio the
pipe (:func:`pipe_emitter`: ``notifications/progress`` and ``notifications/message`` encoded as the
SDK's dispatcher encodes them), over HTTP the response (:mod:`servers.runtime.fastpath` commits it to
``text/event-stream`` on the first notification, as the SDK's endpoint does). A server-to-client
request is refused (``NoBackChannelError``), as on the 2026-07-28 wire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from mcp.server import MCPServer
from mcp.server.connection import Connection, NotifyOnlyOutbound
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.context import Context
from mcp.server.session import ServerSession
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.transport_context import TransportContext
from mcp_types import JSONRPCNotification, RequestId, RequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from servers.runtime.log_level import narrow_to_set_level

F = TypeVar("F", bound=Callable[..., Any])
NeedsSession = Callable[[Any], bool]
"""Given the client's ``ClientCapabilities`` (or None), whether the call needs the SDK's session."""
WriteLine = Callable[[bytes], Awaitable[None]]
Emit = Callable[[str, Mapping[str, Any] | None], Awaitable[None]]
"""Send one request-scoped notification (method, params) the way the transport writes it."""

_MARK = "__mcp_suite_session_needed_when__"
PIPE_TRANSPORT = TransportContext(kind="jsonrpc", can_send_request=False)


def session_needed_when(needs_session: NeedsSession) -> Callable[[F], F]:
    """Mark a tool function whose ``Context`` is light unless ``needs_session(client_capabilities)``."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, needs_session)
        return fn

    return mark


def never_needs_session(_capabilities: Any) -> bool:
    """The predicate of a tool whose ``Context`` only reads the request (principal, capabilities), reports
    progress or logs: light for every client."""
    return False


def session_need_of(fn: Callable[..., Any]) -> NeedsSession | None:
    """The tool function's :func:`session_needed_when` predicate, or None if it declared none."""
    found = getattr(fn, _MARK, None)
    return found if callable(found) else None


def encode_notification(method: str, params: Mapping[str, Any] | None) -> bytes:
    """A notification as the SDK's dispatcher builds it and its stdio writer encodes it."""
    if params is not None:
        message = JSONRPCNotification(jsonrpc="2.0", method=method, params=dict(params))
    else:
        message = JSONRPCNotification(jsonrpc="2.0", method=method)
    return message.__pydantic_serializer__.to_json(message, by_alias=True, exclude_unset=True)


def pipe_emitter(write_line: WriteLine) -> Emit:
    """Notifications as lines on a pipe, encoded as the SDK's stdio transport writes them."""

    async def emit(method: str, params: Mapping[str, Any] | None) -> None:
        await write_line(encode_notification(method, params))

    return emit


@dataclass
class LightDispatchContext:
    """The request-scoped channel of one fast call: notifications to the transport, no server-to-client requests."""

    emit: Emit
    request_id: RequestId
    progress_token: str | int | None
    transport: TransportContext = PIPE_TRANSPORT
    message_metadata: None = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)

    @property
    def can_send_request(self) -> bool:
        return False

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        await self.emit(method, params)

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)


@dataclass
class PipeOutbound:
    """A modern connection's standalone channel on the pipe (requests refused)."""

    write_line: WriteLine

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        await self.write_line(encode_notification(method, params))

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)


def modern_connection(version: str, meta: Mapping[str, Any], write_line: WriteLine) -> Connection:
    """The connection the SDK's stdio loop builds for one 2026-07-28 request (notify-only, on the pipe)."""
    return Connection.from_envelope(
        version,
        meta.get("io.modelcontextprotocol/clientInfo"),
        meta.get("io.modelcontextprotocol/clientCapabilities"),
        outbound=NotifyOnlyOutbound(PipeOutbound(write_line)),
    )


def light_context(
    server: MCPServer[Any],
    *,
    connection: Connection,
    request_id: RequestId,
    params: Mapping[str, Any],
    lifespan_context: Any,
    emit: Emit,
    transport: TransportContext = PIPE_TRANSPORT,
    request: Any = None,
) -> Context[Any, Any]:
    """The ``Context`` the SDK's ``tools/call`` handler would build, with ``emit`` as its request channel.

    ``transport`` and ``request`` are what the SDK's transport would give (over HTTP: the Starlette
    request, whose headers ``ctx.headers`` reads).
    """
    raw_meta = params.get("_meta")
    try:  # as the SDK's kernel lifts it: None when absent or malformed
        meta = RequestParams.model_validate(params, by_name=False).meta if "_meta" in params else None
    except ValidationError:
        meta = None
    token = raw_meta.get("progressToken") if isinstance(raw_meta, dict) else None
    progress_token = token if isinstance(token, str | int) and not isinstance(token, bool) else None
    dctx = LightDispatchContext(emit, request_id, progress_token, transport)
    session = ServerSession(dctx, connection, request_meta=meta)
    if connection.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        narrow_to_set_level(session, connection)  # what LogLevelMiddleware does on the SDK's path
    request = ServerRequestContext(
        session=session,
        lifespan_context=lifespan_context,
        protocol_version=connection.protocol_version,
        method="tools/call",
        params=params,
        request_id=request_id,
        meta=meta,
        request=request,
    )
    return Context(request_context=request, mcp_server=server, subscriptions=server._subscriptions)
