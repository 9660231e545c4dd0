"""Connections to one upstream MCP server instance.

Two kinds, one interface (:class:`Upstream`):

- :class:`ModernHttpUpstream` speaks the stateless 2026-07-28 wire directly over a pooled HTTP
  connection: a request is one POST, parsed once, with no per-client session, so any replica can
  serve any call. Notifications that ride the response stream (progress, log messages) are handed
  to the caller as they arrive. A tool's ``x-mcp-header`` arguments go out as ``Mcp-Param-*`` headers
  (SEP-2243), as its ``tools/list`` schema declares them.
- :class:`SessionUpstream` holds an SDK ``Client`` session: for stdio servers and for HTTP servers
  that only speak the 2025-11-25 handshake era.

:func:`connect_upstream` probes an HTTP server with ``server/discover`` and picks the right kind.
Failures are split in two: :class:`UpstreamUnavailable` (the instance could not answer: connection
refused, reset, timed out, 5xx) counts against its circuit breaker and may be retried elsewhere;
:class:`UpstreamError` (the server answered with a JSON-RPC error) is the caller's answer.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, nullcontext
from typing import Any, Protocol

import anyio
import anyio.abc
import httpx
import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT, create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import (
    NAME_BEARING_METHODS,
    encode_header_value,
    find_invalid_x_mcp_header,
    mcp_param_headers,
    x_mcp_header_map,
)
from pydantic import TypeAdapter, ValidationError

from gateway.upstream.back_channel import INPUT_METHODS, Ask, first_leaf, input_callbacks, wants_a_back_channel
from gateway.upstream.http1 import Http1ClosedBeforeAnswer, Http1ConnectFailed, Http1Error, Http1Pool
from mesh import tracing
from mesh.registry import ServiceInstance
from mesh.resilience.retry import is_retry_safe
from mesh.security.tls import CLIENT_CERTIFICATE_REFUSED_HINT

log = logging.getLogger("mcp_suite.gateway.upstream")

MODERN_VERSION = "2026-07-28"
LEGACY_VERSION = "2025-11-25"
META_PROTOCOL = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_CLIENT_CAPS = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
GATEWAY_CLIENT_INFO = {"name": "mcp-suite-gateway", "version": "0.1.0"}

Notify = Callable[[dict[str, Any]], Awaitable[None]]

_CLIENT_REQUEST = TypeAdapter(types.ClientRequest)
_RAW_RESULT = TypeAdapter(dict[str, Any])


class UpstreamUnavailable(Exception):
    """The instance could not answer (transport failure, timeout, 5xx): a breaker failure, retryable if safe.

    ``delivered`` is False only when the request surely never reached the instance (no connection
    could be made): then even a destructive call may go to another instance.
    """

    def __init__(self, instance_id: str, reason: str, *, delivered: bool = True) -> None:
        super().__init__(f"upstream {instance_id} unavailable: {reason}")
        self.instance_id = instance_id
        self.reason = reason
        self.delivered = delivered


class UpstreamError(Exception):
    """The upstream answered with a JSON-RPC error; passed to the client as it is."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class Upstream(Protocol):
    instance: ServiceInstance
    protocol_version: str
    capabilities: dict[str, Any]

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        notify: Notify | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def shared_http_client(
    max_connections: int | None = 256,
    headers: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """One pooled client per gateway: keep-alive connections to every HTTP upstream.

    TCP_NODELAY matters: httpx writes headers and body separately, and with Nagle's algorithm the
    body waits for the server's delayed ACK, adding ~40 ms to every call. ``headers`` go on every
    upstream request (the gateway's upstream credential); session upstreams over HTTP get them too.
    ``ssl_context`` (``auth.upstream_tls``) is how ``https://`` upstreams are verified and which client
    certificate they see; without it, the system's CAs and no client certificate.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    if ssl_context is None:
        transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NO_DELAY)
    else:
        transport = _TlsExplainingTransport(limits=limits, socket_options=NO_DELAY, verify=ssl_context)
    return httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(30.0, connect=3.0), trust_env=False, headers=dict(headers or {})
    )


class _TlsExplainingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, naming the likely cause when an https:// upstream drops a request unanswered."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            if request.url.scheme != "https":
                raise
            detail = f"{exc}; " if str(exc) else ""
            raise type(exc)(f"{detail}{CLIENT_CERTIFICATE_REFUSED_HINT}", request=request) from exc


_GATEWAY_HEADER_PREFIX = "x-mcp-suite-"


@asynccontextmanager
async def _http_session_transport(
    url: str, headers: dict[str, str], ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Any]:
    """The SDK's streamable-HTTP transport with the gateway's own headers (and TLS context) on every request."""
    if ssl_context is None:
        http = create_mcp_http_client(headers=headers)
    else:  # the SDK's client, with the gateway's CA and client certificate
        timeout = httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT)
        http = httpx2.AsyncClient(headers=headers, timeout=timeout, verify=ssl_context)
    async with (
        http as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


async def _sse_messages(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON-RPC messages of a ``text/event-stream`` body, one ``data:`` block at a time."""
    data_lines: list[str] = []
    async for line in lines:
        if line == "":
            if data_lines:
                yield json.loads("\n".join(data_lines))
                data_lines = []
        elif line.startswith("data:"):
            data_lines.append(line[5:].lstrip(" "))
    if data_lines:
        yield json.loads("\n".join(data_lines))


class ModernHttpUpstream:
    """The stateless 2026-07-28 wire: calls over the gateway's lean :class:`~gateway.upstream.http1.Http1Pool`,
    listen streams over httpx (``http``)."""

    protocol_version = MODERN_VERSION

    def __init__(
        self,
        instance: ServiceInstance,
        http: httpx.AsyncClient,
        capabilities: dict[str, Any],
        calls: Http1Pool,
    ) -> None:
        if instance.url is None:
            raise ValueError("a modern HTTP upstream needs a URL")
        self.instance = instance
        self.capabilities = capabilities
        self._url = instance.url
        self._http = http
        self._calls = calls
        self._ids = itertools.count(1)
        # Per tool, the arguments its schema mirrors into Mcp-Param-* headers (SEP-2243), learnt from tools/list.
        self._param_headers: dict[str, dict[tuple[str, ...], str]] = {}
        # The tools whose annotations make a call safe to send twice (read-only or idempotent), from tools/list.
        self._replayable: frozenset[str] = frozenset()

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        notify: Notify | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        request_id = next(self._ids)
        body_params = dict(params or {})
        meta = dict(body_params.get("_meta") or {})
        meta[META_PROTOCOL] = MODERN_VERSION
        meta.setdefault(META_CLIENT_INFO, GATEWAY_CLIENT_INFO)
        meta[META_CLIENT_CAPS] = dict(client_capabilities or {})
        tracing.inject_context(meta)  # W3C traceparent/tracestate: the server's span continues the gateway's
        body_params["_meta"] = meta
        headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": MODERN_VERSION,
            "mcp-method": method,
        }
        name_key = NAME_BEARING_METHODS.get(method)
        if name_key is not None and isinstance(body_params.get(name_key), str):
            headers["mcp-name"] = encode_header_value(body_params[name_key])
        mirrored = self._param_headers.get(body_params.get("name", "")) if method == "tools/call" else None
        if mirrored and isinstance(body_params.get("arguments"), Mapping):
            headers.update(mcp_param_headers(mirrored, body_params["arguments"]))
        content = json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": body_params}, separators=(",", ":")
        )
        try:
            with anyio.fail_after(timeout) if timeout is not None else nullcontext():
                try:
                    replay = method != "tools/call" or body_params.get("name") in self._replayable
                    result = await self._call(request_id, content.encode(), headers, notify, replay=replay)
                    if method == "tools/list":
                        self._learn_param_headers(result, continued=bool(body_params.get("cursor")))
                    return result
                except UpstreamError as exc:
                    ask = getattr(notify, "ask", None)
                    if ask is None or method not in INPUT_METHODS or not wants_a_back_channel(exc.code, exc.message):
                        raise
                    return await self._over_a_session(method, body_params, ask, notify, client_capabilities or {})
        except TimeoutError:
            raise UpstreamUnavailable(self.instance.instance_id, f"no answer within {timeout:.3g}s") from None
        except Http1ClosedBeforeAnswer as exc:
            hint = f"; {CLIENT_CERTIFICATE_REFUSED_HINT}" if self._url.startswith("https://") else ""
            raise UpstreamUnavailable(self.instance.instance_id, f"{exc}{hint}") from None
        except Http1ConnectFailed as exc:
            raise UpstreamUnavailable(self.instance.instance_id, str(exc), delivered=False) from None
        except Http1Error as exc:
            raise UpstreamUnavailable(self.instance.instance_id, str(exc)) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UpstreamUnavailable(self.instance.instance_id, f"answered with malformed JSON: {exc}") from None

    def _learn_param_headers(self, listing: Mapping[str, Any], *, continued: bool = False) -> None:
        tools = [tool for tool in listing.get("tools") or () if isinstance(tool, Mapping)]
        # A later page (a cursor was sent) adds to what the first taught; a first page starts over.
        replayable = frozenset(str(t.get("name")) for t in tools if is_retry_safe(t.get("annotations")))
        self._replayable = (self._replayable | replayable) if continued else replayable
        for tool in listing.get("tools") or ():
            schema = tool.get("inputSchema") if isinstance(tool, Mapping) else None
            if isinstance(schema, Mapping) and find_invalid_x_mcp_header(schema) is None:
                mirrored = x_mcp_header_map(schema)
                if mirrored:
                    self._param_headers[str(tool.get("name"))] = mirrored
                else:
                    self._param_headers.pop(str(tool.get("name")), None)

    async def _over_a_session(
        self,
        method: str,
        params: Mapping[str, Any],
        ask: Ask,
        notify: Notify | None,
        client_capabilities: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Repeat a call whose tool asked mid-call over a session of its own, its requests relayed by ``ask``.

        The stateless wire has no channel for a server's own requests, so a tool written for sessions
        (``ctx.elicit``, ``create_message``) fails there at its first question; the session runs it again
        from the start. Only the capabilities the client declared are declared upstream.
        """
        own = {k: v for k, v in self._http.headers.items() if k.lower().startswith(_GATEWAY_HEADER_PREFIX)}
        target: Any = self._url
        if own or self._calls.ssl_context is not None:
            target = _http_session_transport(self._url, own, self._calls.ssl_context)
        callbacks = input_callbacks(ask, client_capabilities)

        async def on_message(message: Any) -> None:
            if notify is not None and not isinstance(message, Exception):
                await notify(message.model_dump(by_alias=True, exclude_none=True, mode="json"))

        wire = {k: v for k, v in params.items() if k != "_meta"}
        meta = {k: v for k, v in (params.get("_meta") or {}).items() if not k.startswith("io.modelcontextprotocol/")}
        if meta:
            wire["_meta"] = meta
        try:
            typed = _CLIENT_REQUEST.validate_python({"method": method, "params": wire})
        except ValidationError as exc:
            raise UpstreamError(
                types.INVALID_PARAMS, f"invalid params for {method}: {exc.errors()[0]['msg']}"
            ) from None
        try:
            async with Client(target, mode="legacy", cache=None, message_handler=on_message, **callbacks) as client:
                return await client.session.send_request(typed, _RAW_RESULT)  # type: ignore[type-var]
        except BaseExceptionGroup as group:  # the client's task group wraps what the session raised
            answer, _ = group.split(MCPError)
            if answer is None:
                raise UpstreamUnavailable(self.instance.instance_id, f"session for input: {group!r}") from None
            error = first_leaf(answer)
            raise UpstreamError(error.code, error.message, error.data) from None
        except MCPError as exc:
            raise UpstreamError(exc.code, exc.message, exc.data) from None
        except (httpx2.HTTPError, httpx.HTTPError, OSError) as exc:
            raise UpstreamUnavailable(self.instance.instance_id, f"session for input: {type(exc).__name__}") from None

    async def _call(
        self, request_id: int, content: bytes, headers: dict[str, str], notify: Notify | None, *, replay: bool
    ) -> dict[str, Any]:
        """One exchange over the lean pool: a JSON answer, or an event stream carrying notifications first."""
        async with self._calls.post(self._url, content, headers, replay=replay) as response:
            if response.status >= 500:
                raise UpstreamUnavailable(self.instance.instance_id, f"HTTP {response.status}")
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                async for message in _sse_messages(response.lines()):
                    if message.get("id") == request_id:
                        return _result_of(message)
                    if "method" in message and notify is not None:
                        await notify(message)
                raise UpstreamUnavailable(self.instance.instance_id, "the event stream ended without a response")
            raw = await response.read()
            if not raw:
                raise UpstreamUnavailable(self.instance.instance_id, f"HTTP {response.status} with an empty body")
            return _result_of(json.loads(raw))

    async def listen(
        self, notifications: Mapping[str, Any], on_message: Notify, http: httpx.AsyncClient | None = None
    ) -> None:
        """Hold a ``subscriptions/listen`` stream open, handing every notification on it to ``on_message``.

        Returns when the upstream ends the stream; :class:`UpstreamUnavailable` when it cannot be
        opened or breaks. The first message is the upstream's acknowledgement of ``notifications``.
        ``http`` should be a client of its own: a stream holds its connection for as long as it lasts,
        and must not take one from the pool the calls use.
        """
        request_id = next(self._ids)
        meta = {META_PROTOCOL: MODERN_VERSION, META_CLIENT_INFO: GATEWAY_CLIENT_INFO, META_CLIENT_CAPS: {}}
        content = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "subscriptions/listen",
                "params": {"notifications": dict(notifications), "_meta": meta},
            },
            separators=(",", ":"),
        )
        headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": MODERN_VERSION,
            "mcp-method": "subscriptions/listen",
        }
        # A listen stream is quiet for as long as nothing changes: no read timeout.
        timeout = httpx.Timeout(None, connect=5.0)
        try:
            async with (http or self._http).stream(
                "POST", self._url, content=content, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    raise UpstreamUnavailable(self.instance.instance_id, f"listen refused: HTTP {response.status_code}")
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    _result_of(json.loads(await response.aread()))  # an error answer raises UpstreamError
                    return
                async for message in _sse_messages(response.aiter_lines()):
                    if "method" in message:
                        await on_message(message)
                    elif message.get("id") == request_id:
                        return
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(self.instance.instance_id, f"listen stream: {type(exc).__name__}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UpstreamUnavailable(self.instance.instance_id, f"listen stream sent malformed JSON: {exc}") from None

    async def aclose(self) -> None:
        """The HTTP client is shared; nothing of this upstream's own to close."""


def _result_of(message: Mapping[str, Any]) -> dict[str, Any]:
    if "error" in message:
        error = message["error"] or {}
        raise UpstreamError(int(error.get("code", -32603)), str(error.get("message", "")), error.get("data"))
    result = message.get("result")
    if not isinstance(result, dict):
        raise UpstreamError(types.INTERNAL_ERROR, "upstream answered without a result object")
    return result


class SessionUpstream:
    """An SDK ``Client`` session: stdio servers, and HTTP servers of the 2025-11-25 era.

    The client lives in a task of its own (anyio scopes must close in the task that opened them);
    :meth:`aclose` asks that task to leave. Concurrent calls share the session: the SDK multiplexes
    them by request id. Progress for a request arrives through the session's progress callback.
    """

    def __init__(self, instance: ServiceInstance, target: str | StdioServerParameters) -> None:
        self.instance = instance
        self.on_notification: Notify | None = None
        self._client = Client(target, mode="legacy", cache=None, message_handler=self._on_message)
        self._closed = anyio.Event()
        self._done = anyio.Event()
        self.protocol_version = LEGACY_VERSION
        self.capabilities: dict[str, Any] = {}
        self._log_level: str | None = None

    async def _on_message(self, message: types.ServerNotification | Exception) -> None:
        """Hand the upstream's own notifications (list changes, resource updates) to ``on_notification``."""
        if isinstance(message, Exception) or self.on_notification is None:
            return
        await self.on_notification(message.model_dump(by_alias=True, exclude_none=True, mode="json"))

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the session, report ready, hold it until :meth:`aclose`."""
        started = False
        try:
            async with self._client as client:
                self.protocol_version = client.protocol_version
                caps = client.server_capabilities
                self.capabilities = caps.model_dump(by_alias=True, exclude_none=True, mode="json") if caps else {}
                task_status.started()
                started = True
                await self._closed.wait()
        except Exception as exc:
            if not started:
                raise
            log.info("upstream session ended", extra={"instance": self.instance.instance_id, "error": str(exc)})
        finally:
            self._done.set()

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        notify: Notify | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        if self._done.is_set():
            raise UpstreamUnavailable(self.instance.instance_id, "the session has ended", delivered=False)
        await self._relay_log_level(((params or {}).get("_meta") or {}).get(types.LOG_LEVEL_META_KEY), timeout)
        body: dict[str, Any] = {"method": method}
        if params:
            body["params"] = {key: value for key, value in params.items() if key != "_meta"}
            meta = {
                k: v for k, v in (params.get("_meta") or {}).items() if not k.startswith("io.modelcontextprotocol/")
            }
            tracing.inject_context(meta)  # the SDK client injects too; this keeps it explicit
            if meta:
                body["params"]["_meta"] = meta
        try:
            typed = _CLIENT_REQUEST.validate_python(body)
        except ValidationError as exc:
            raise UpstreamError(
                types.INVALID_PARAMS, f"invalid params for {method}: {exc.errors()[0]['msg']}"
            ) from None
        token = ((params or {}).get("_meta") or {}).get("progressToken")

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if notify is None or token is None:
                return
            note = {"progressToken": token, "progress": progress, "total": total, "message": message}
            await notify(
                {"method": "notifications/progress", "params": {k: v for k, v in note.items() if v is not None}}
            )

        try:
            with anyio.fail_after(timeout) if timeout is not None else nullcontext():
                return await self._client.session.send_request(  # type: ignore[type-var]
                    typed, _RAW_RESULT, progress_callback=on_progress
                )
        except TimeoutError:
            raise UpstreamUnavailable(self.instance.instance_id, f"no answer within {timeout:.3g}s") from None
        except MCPError as exc:
            if self._done.is_set() or exc.code == types.CONNECTION_CLOSED:
                raise UpstreamUnavailable(self.instance.instance_id, exc.message) from None
            raise UpstreamError(exc.code, exc.message, exc.data) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError) as exc:
            raise UpstreamUnavailable(self.instance.instance_id, f"{type(exc).__name__}: {exc}") from None

    async def _relay_log_level(self, level: Any, timeout: float | None) -> None:
        """A session server learns the level by ``logging/setLevel``, once per change, not per request.

        The session is shared by every client the gateway serves, so the last level asked for wins.
        """
        if not isinstance(level, str) or level == self._log_level or "logging" not in self.capabilities:
            return
        self._log_level = level
        try:
            with anyio.fail_after(timeout) if timeout is not None else nullcontext():
                await self._client.session.set_logging_level(level)  # type: ignore[arg-type]
        except (MCPError, TimeoutError) as exc:
            log.info(
                "the upstream refused logging/setLevel",
                extra={"instance": self.instance.instance_id, "error": str(exc)},
            )

    async def aclose(self) -> None:
        self._closed.set()
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await self._done.wait()


async def _discover(
    instance: ServiceInstance, http: httpx.AsyncClient, calls: Http1Pool, timeout: float
) -> dict[str, Any] | None:
    """``server/discover`` result if the server speaks the modern wire, None if it only knows the handshake."""
    assert instance.url is not None
    probe = ModernHttpUpstream(instance, http, {}, calls)
    try:
        result = await probe.request("server/discover", {}, timeout=timeout)
    except UpstreamError:
        return None
    if MODERN_VERSION not in result.get("supportedVersions", []):
        return None
    return result


async def connect_upstream(
    instance: ServiceInstance,
    http: httpx.AsyncClient,
    task_group: anyio.abc.TaskGroup,
    *,
    calls: Http1Pool,
    timeout: float = 5.0,
) -> Upstream:
    """Open the best connection the instance supports; :class:`UpstreamUnavailable` if it cannot be reached.

    Session upstreams run in ``task_group`` until closed. A modern upstream makes its calls over
    ``calls`` (the lean pool) and holds its listen streams over ``http``.
    """
    if instance.url is not None:
        discovered = await _discover(instance, http, calls, timeout)
        if discovered is not None:
            return ModernHttpUpstream(instance, http, dict(discovered.get("capabilities") or {}), calls)
        target: Any = instance.url
        own = {k: v for k, v in http.headers.items() if k.lower().startswith(_GATEWAY_HEADER_PREFIX)}
        if own or calls.ssl_context is not None:
            target = _http_session_transport(instance.url, own, calls.ssl_context)
    else:
        assert instance.command is not None
        target = StdioServerParameters(
            command=instance.command, args=list(instance.args), env=dict(instance.env) or None
        )
    upstream = SessionUpstream(instance, target)
    try:
        with anyio.fail_after(timeout):
            await task_group.start(upstream.run)
    except TimeoutError:
        await upstream.aclose()
        raise UpstreamUnavailable(instance.instance_id, f"no session within {timeout:.3g}s") from None
    except Exception as exc:
        raise UpstreamUnavailable(instance.instance_id, f"cannot open a session: {type(exc).__name__}: {exc}") from None
    return upstream
