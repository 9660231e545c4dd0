"""The HTTP side of the fast path: a stateless 2026-07-28 ``tools/call`` answered without the SDK's transport.

:class:`FastToolCallMiddleware` sits in front of a server's streamable-HTTP endpoint. A request
qualifies when it is a POST to the MCP path of one JSON-RPC ``tools/call`` on the modern wire (the
``mcp-protocol-version: 2026-07-28`` header, no session), passes the SDK's own transport checks
(Content-Type, Host/Origin, Accept, routing headers, size) and then the checks of the body and the
tool that both transports share (:mod:`servers.runtime.fast_tool_call`, which also runs the call).

A tool that declares its ``Context`` light (:mod:`servers.runtime.light_context`) is served too when the
call asks for no progress: it gets a ``Context`` like the one the SDK's endpoint builds (the Starlette
request, the manager's lifespan state, a per-request connection from the envelope), and a notification
it sends (a log line the request opted into) commits the response to ``text/event-stream`` and goes out
as an SSE event, as the SDK's endpoint does; in JSON-response mode it is dropped, as there.

The answer is encoded as the SDK's HTTP transport encodes it. A call that outlives the SDK's SSE
deferral window gets the SDK's answer too: ``text/event-stream`` with keep-alive pings, the tool
cancelled if the client goes away. Everything else is replayed to the SDK endpoint unchanged, so its
behaviour and errors stay the SDK's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.mcpserver.context import Context
from mcp.server.runner import aclose_shielded
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp.shared.transport_context import TransportContext
from mcp_types import ErrorData, JSONRPCError, JSONRPCNotification
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mesh.asgi_body import read_body, replay
from servers.runtime.fast_tool_call import META_CAPABILITIES, MODERN_VERSION, FastCall, FastToolCalls
from servers.runtime.light_context import Emit, light_context
from servers.runtime.observability import CallMetricsMiddleware
from servers.runtime.sdk_seams import serving_lifespan

SSE_PING_INTERVAL = 15.0
"""Seconds before a still-running call commits to ``text/event-stream``, then between pings (the SDK's value)."""

_ROUTING = frozenset({b"mcp-protocol-version", b"mcp-method", b"mcp-name"})
_WANTED = frozenset({b"content-type", b"content-length", b"host", b"origin", b"accept"})
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
_PING = b": ping\r\n\r\n"
_VERDICTS_KEPT = 64
"""How many distinct header combinations' transport verdicts are kept (then all are forgotten at once)."""


class FastToolCallMiddleware:
    """Serve qualifying stateless tool calls of ``server`` directly; hand everything else to ``app``."""

    def __init__(self, app: ASGIApp, server: MCPServer[Any], path: str = "/mcp") -> None:
        self.app = app
        self.server = server
        self.path = path
        self.calls = FastToolCalls(server)
        self._verdicts: dict[tuple[object, ...], bool] = {}
        self._verdicts_under: object = None

    @property
    def _manager(self) -> StreamableHTTPSessionManager:
        return self.server.session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = self._eligible_headers(scope)
        plain, metrics = self.calls.plain_server() if headers is not None else (False, None)
        if headers is None or not plain:
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive, self._manager.max_request_body_size)
        call = self._parse(body, headers) if complete else None
        light: _Light | None = None
        if call is not None and call.light:
            running, lifespan_state = serving_lifespan(self._manager)
            light = _Light(call, scope, receive, body, lifespan_state) if running else None
        if call is None or (call.light and light is None):
            await self.app(scope, replay(body, receive, complete), send)
            return
        await self._answer(call, metrics, light, receive, send)

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
        manager = self._manager
        declared = found.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > manager.max_request_body_size):
            return None
        # A client sends the same few values on every call: the verdict on them is kept, keyed by what it reads.
        if manager.security_settings is not self._verdicts_under:
            self._verdicts.clear()
            self._verdicts_under = manager.security_settings
        key = (
            found.get(b"content-type"),
            found.get(b"accept"),
            found.get(b"host"),
            found.get(b"origin"),
            manager.json_response,
        )
        verdict = self._verdicts.get(key)
        if verdict is None:
            if len(self._verdicts) >= _VERDICTS_KEPT:
                self._verdicts.clear()
            verdict = self._verdicts[key] = self._transport_allows(found)
        return found if verdict else None

    def _transport_allows(self, found: dict[bytes, bytes]) -> bool:
        """The SDK transport's checks of Content-Type, Accept, Host and Origin."""
        content_type = found.get(b"content-type", b"").decode("latin-1").lower()
        if not content_type.startswith("application/json") or not self._accepts(found.get(b"accept", b"")):
            return False
        return self._host_allowed(found)

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

    def _parse(self, body: bytes, headers: dict[bytes, bytes]) -> FastCall | None:
        """The call if the body is one qualifying ``tools/call`` the SDK would accept, else None."""
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            return None
        routing = {key.decode(): value.decode("latin-1") for key, value in headers.items() if key in _ROUTING}
        return self.calls.qualify(request, routing, light=True)

    # -- the call ---------------------------------------------------------------------------------

    async def _answer(
        self,
        call: FastCall,
        metrics: CallMetricsMiddleware | None,
        light: _Light | None,
        receive: Receive,
        send: Send,
    ) -> None:
        if self._manager.json_response:
            status, payload = await self._run(call, metrics, light, _dropped)
            await _send_json(send, status, payload)
            return
        keepalive = _Keepalive(send, receive)
        try:
            # An anyio scope, not a cancel of the request's task: work the tool runs in a worker thread
            # (SQLite) is then waited for instead of abandoned with the connection still in use.
            with anyio.CancelScope() as scope:
                keepalive.arm(scope)
                status, payload = await self._run(call, metrics, light, keepalive.notify)
        finally:
            await keepalive.disarm()
        if scope.cancel_called:
            return  # the client went away: nobody to answer
        if keepalive.committed:
            await send({"type": "http.response.body", "body": b"event: message\r\ndata: " + payload + b"\r\n\r\n"})
        else:
            await _send_json(send, status, payload)

    async def _run(
        self, call: FastCall, metrics: CallMetricsMiddleware | None, light: _Light | None, emit: Emit
    ) -> tuple[int, bytes]:
        """Status and JSON-RPC body of the call."""
        if light is None:
            outcome = await self.calls.answer(call, metrics)
        else:
            connection = Connection.from_envelope(
                call.version, call.meta.get(_CLIENT_INFO), call.meta.get(META_CAPABILITIES)
            )
            try:
                outcome = await self.calls.answer(call, metrics, light.context(self.server, connection, emit))
            finally:
                await aclose_shielded(connection)  # as the SDK's serve_one ends every request
        if isinstance(outcome, ErrorData):
            message = JSONRPCError(jsonrpc="2.0", id=call.id, error=outcome)
            body = message.model_dump(mode="json", by_alias=True, exclude_none=True)
            return ERROR_CODE_HTTP_STATUS.get(outcome.code, 200), _encode(body)
        return 200, _encode({"jsonrpc": "2.0", "id": call.id, "result": outcome})


class _Light:
    """What a light call's ``Context`` is built from: the request as the SDK's endpoint holds it."""

    __slots__ = ("body", "call", "lifespan_state", "receive", "scope")

    def __init__(self, call: FastCall, scope: Scope, receive: Receive, body: bytes, lifespan_state: Any) -> None:
        self.call, self.scope, self.receive, self.body, self.lifespan_state = call, scope, receive, body, lifespan_state

    def context(self, server: MCPServer[Any], connection: Connection, emit: Emit) -> Context[Any, Any]:
        request = Request(self.scope, self.receive)
        request._body = self.body  # read already, as the SDK's endpoint had read it through this request
        call = self.call
        return light_context(
            server,
            connection=connection,
            request_id=call.id,
            params=call.params,
            lifespan_context=self.lifespan_state,
            emit=emit,
            transport=TransportContext(kind="streamable-http", can_send_request=False, headers=request.headers),
            request=request,
        )


class _Keepalive:
    """The SDK's SSE deferral: a call that sends a notification, or is still running after
    :data:`SSE_PING_INTERVAL`, commits the response to ``text/event-stream``.

    Nothing is started for a call that ends in time without a notification (one timer handle,
    cancelled). Once committed, each notification goes out as an event, a ping every interval keeps
    the stream open, and a client disconnect cancels the call, as on the SDK path.
    """

    def __init__(self, send: Send, receive: Receive) -> None:
        self.send = send
        self.receive = receive
        self.committed = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._scope: anyio.CancelScope | None = None
        self._lock: asyncio.Lock | None = None

    def arm(self, scope: anyio.CancelScope) -> None:
        self._scope = scope
        self._timer = asyncio.get_running_loop().call_later(SSE_PING_INTERVAL, self._commit)

    def _commit(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._event(_PING)))

    async def notify(self, method: str, params: Mapping[str, Any] | None) -> None:
        """A request-scoped notification, as the SDK's endpoint streams it."""
        await self._event(_sse_notification(method, params))

    async def _event(self, event: bytes) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.committed:
                await self.send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
                self.committed = True  # set once the start is out: a call ending before that still answers JSON
                if self._timer is not None:
                    self._timer.cancel()
                loop = asyncio.get_running_loop()
                self._tasks += [loop.create_task(self._ping()), loop.create_task(self._watch_disconnect())]
            await self.send({"type": "http.response.body", "body": event, "more_body": True})

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(SSE_PING_INTERVAL)
            await self._event(_PING)

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


def _matches(value: str, allowed: list[str]) -> bool:
    return value in allowed or any(p.endswith(":*") and value.startswith(p[:-2] + ":") for p in allowed)


_ENCODER = json.JSONEncoder(separators=(",", ":"))
_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"


async def _dropped(_method: str, _params: Mapping[str, Any] | None) -> None:
    """JSON-response mode: the SDK's endpoint has no stream for a notification and drops it."""


def _sse_notification(method: str, params: Mapping[str, Any] | None) -> bytes:
    """A notification as the SDK's endpoint writes it on the response stream (one ``event: message``)."""
    message = JSONRPCNotification(jsonrpc="2.0", method=method, params=dict(params) if params is not None else None)
    body = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    return b"event: message\r\ndata: " + _encode(body) + b"\r\n\r\n"


def _encode(message: dict[str, Any]) -> bytes:
    """The SDK's wire encoding: compact separators, ASCII escapes."""
    return _ENCODER.encode(message).encode()


async def _send_json(send: Send, status: int, payload: bytes) -> None:
    """Headers in the order Starlette's ``Response`` writes them, so the answer matches the SDK's byte for byte."""
    headers = [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
