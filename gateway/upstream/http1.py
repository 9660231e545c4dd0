"""A lean HTTP/1.1 client for the gateway's calls to modern upstreams: keep-alive, one write, C parsing.

Every stateless 2026-07-28 call is one POST with a small JSON body, answered by a JSON body or an
event stream. httpx spent about 0.6 ms of CPU per call on it in the gateway (request and response
models, the pool's bookkeeping, stream wrappers): half of what the gateway added to a call. This
client does only that exchange:

- connections are plain :mod:`asyncio` protocols (TCP_NODELAY is asyncio's default), kept alive per
  origin and reused while the server allows it; one closed by the server while idle leaves the pool
  as soon as the event loop sees its FIN, so a stale connection is not reused;
- the request (head and body) goes out in one write;
- the response is parsed by ``httptools`` (the parser uvicorn uses), Content-Length or chunked,
  and read whole (:meth:`Http1Response.read`) or line by line (:meth:`Http1Response.lines`, for
  ``text/event-stream``) with back-pressure;
- a connection idle longer than ``idle_limit`` (:data:`~mesh.serving.keep_alive.CLIENT_IDLE_LIMIT_SECONDS`,
  below the suite's server keep-alive) is closed rather than reused;
- a request is replayed here only when the caller says it is safe (``replay=True``: a probe, a list,
  a read-only or idempotent call) and only in one case: a *reused* connection closed before any byte
  of the answer, the race of a request crossing the server's keep-alive close. It is sent once more on
  a fresh connection. Every other failure is :class:`Http1Error` and the router decides;
- a response not read to its end (an error, a timeout, a cancelled caller) closes its connection.

Long-lived listen streams and 2025-11-25 sessions stay on httpx.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit

import httptools

from mesh.serving.keep_alive import CLIENT_IDLE_LIMIT_SECONDS

__all__ = ["Http1ClosedBeforeAnswer", "Http1ConnectFailed", "Http1Error", "Http1Pool", "Http1Response"]

_HIGH_WATER = 1 << 20  # buffered body bytes before the socket stops being read
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


class Http1Error(Exception):
    """The exchange failed at the transport level: refused, reset, closed early, timed out or malformed."""


class Http1ClosedBeforeAnswer(Http1Error):
    """The server closed the connection before the head of its answer (over TLS: often a refused client certificate)."""


class Http1ConnectFailed(Http1Error):
    """No connection could be made: the request was never sent, so sending it elsewhere is always safe."""


class Http1Response:
    """Status, headers (lower-case names) and the body as it arrives."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status = 0
        self.headers: dict[str, str] = {}
        self._header_name = b""
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._error: Http1Error | None = None

    # ---- reading -------------------------------------------------------------------------
    async def read(self) -> bytes:
        """The whole body."""
        parts: list[bytes] = []
        while True:
            while self._chunks:  # taking what has arrived lets a paused socket be read again
                chunk = self._chunks.popleft()
                self._take(len(chunk))
                parts.append(chunk)
            self._raise_error()
            if self.complete:
                return b"".join(parts)
            await self._connection.wait()

    async def lines(self) -> AsyncIterator[str]:
        """The body's lines, decoded as UTF-8, without their ``\\n`` / ``\\r\\n`` ends."""
        pending = b""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._take(len(chunk))
                pending += chunk
                *whole, pending = pending.split(b"\n")
                for line in whole:
                    yield line.removesuffix(b"\r").decode("utf-8")
            self._raise_error()
            if self.complete:
                break
            await self._connection.wait()
        if pending:
            yield pending.removesuffix(b"\r").decode("utf-8")

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _take(self, size: int) -> None:
        self._buffered -= size
        if self._buffered < _HIGH_WATER:
            self._connection.resume()

    # ---- httptools callbacks -------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        if name:
            self._header_name = name
            self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        else:  # a header value split across reads
            key = self._header_name.decode("latin-1").lower()
            self.headers[key] += value.decode("latin-1")

    def on_headers_complete(self) -> None:
        parser = self._connection.parser
        self.status = parser.get_status_code()
        self.keep_alive = parser.should_keep_alive()
        self.headers_done = True
        self._connection.wake()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered >= _HIGH_WATER:
            self._connection.pause()
        self._connection.wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._connection.wake()

    def fail(self, error: Http1Error) -> None:
        if self._error is None and not self.complete:
            self._error = error
        self._connection.wake()


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one exchange at a time."""

    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Http1Response | None = None
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.idle_since = 0.0
        self.reused = False

    # ---- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport. uvloop's do not subclass asyncio.Transport, so this is a cast, not a check.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None or response.complete:
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            response.fail(Http1Error("the upstream switched protocols"))
            self.close()
        except httptools.HttpParserError as exc:
            response.fail(Http1Error(f"malformed HTTP response: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        self._lost("the upstream closed the connection before answering")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(f"connection lost: {exc}" if exc else "the upstream closed the connection before answering")

    def _lost(self, reason: str) -> None:
        self.closed = True
        response = self.response
        if response is not None and not response.complete:
            headers = response.headers
            delimited = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "")
            if response.headers_done and not delimited:
                response.keep_alive = False  # an HTTP/1.0-style body: the close is its end
                response.on_message_complete()
            elif response.headers_done:
                response.fail(Http1Error(reason))
            else:
                response.fail(Http1ClosedBeforeAnswer(reason))
        self.wake()

    # ---- httptools callbacks (forwarded to the current response) -------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.response is not None:
            self.response.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response.on_body(body)

    def on_message_complete(self) -> None:
        if self.response is not None:
            self.response.on_message_complete()

    # ---- the exchange --------------------------------------------------------------------
    def send(self, request: bytes) -> Http1Response:
        assert self.transport is not None
        self.response = Http1Response(self)
        self.transport.write(request)
        return self.response

    async def wait(self) -> None:
        """Until the parser reports something new; :class:`Http1Error` after ``read_timeout`` of silence."""
        if self.closed and self.response is not None and not self.response.complete:
            self.response.fail(Http1Error("the connection is closed"))
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(self.read_timeout, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            raise Http1Error(f"no data from the upstream for {self.read_timeout:g}s") from None
        finally:
            timer.cancel()
            self._waiter = None

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def reusable(self) -> bool:
        response = self.response
        return not self.closed and response is not None and response.complete and response.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Target:
    """What a URL gives the request line and the pool key, computed once per URL."""

    __slots__ = ("host", "key", "port", "prefix", "tls")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.key = (parts.scheme, self.host, self.port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        self.prefix = f"POST {path} HTTP/1.1\r\nhost: {host_header}\r\n"


class Http1Pool:
    """Keep-alive connections per origin, at most ``max_connections`` per origin at once."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 256,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        idle_limit: float = CLIENT_IDLE_LIMIT_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.headers = headers if headers is not None else {}
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_limit = idle_limit
        self.ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._slots: dict[tuple[str, str, int], asyncio.Semaphore] = {}
        self._targets: dict[str, _Target] = {}
        self._open: set[_Connection] = set()

    @asynccontextmanager
    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, replay: bool = False
    ) -> AsyncIterator[Http1Response]:
        """Send ``body`` and yield the response once its head has arrived.

        With ``replay`` (the request is safe to send twice), a reused connection that closes before
        any byte of the answer is replaced by a fresh one and the request sent once more.
        """
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = _Target(url)
        request = self._request(target, body, headers)
        slots = self._slots.get(target.key)
        if slots is None:
            slots = self._slots[target.key] = asyncio.Semaphore(self.max_connections)
        async with slots:
            connection = self._idle_connection(target) or await self._connect(target)
            try:
                try:
                    response = await self._exchange(connection, request)
                except Http1ClosedBeforeAnswer:
                    if not (replay and connection.reused):
                        raise
                    self._forget(connection)
                    try:
                        connection = await self._connect(target)
                    except Http1ConnectFailed as exc:
                        # The first send may have reached the server: no longer "never sent".
                        raise Http1Error(str(exc)) from None
                    response = await self._exchange(connection, request)
                yield response
            finally:
                if connection.reusable():
                    connection.idle_since = time.monotonic()
                    connection.reused = True
                    self._idle.setdefault(target.key, []).append(connection)
                else:
                    self._forget(connection)

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes) -> Http1Response:
        response = connection.send(request)
        while not response.headers_done:
            await connection.wait()
            response._raise_error()
        return response

    def _forget(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    def _request(self, target: _Target, body: bytes, headers: Mapping[str, str]) -> bytes:
        lines = [target.prefix]
        for source in (self.headers, headers):
            for name, value in source.items():
                if any(c in name or c in value for c in _FORBIDDEN_IN_HEADERS):
                    raise ValueError(f"header {name!r} holds a line break or NUL")
                lines.append(f"{name}: {value}\r\n")
        lines.append(f"content-length: {len(body)}\r\n\r\n")
        return "".join(lines).encode("latin-1") + body

    def _idle_connection(self, target: _Target) -> _Connection | None:
        idle = self._idle.get(target.key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.idle_limit:
                return connection
            self._forget(connection)  # closed by the server, or idle so long the server may close it now
        return None

    async def _connect(self, target: _Target) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(self.read_timeout)
        context = (self.ssl_context or ssl.create_default_context()) if target.tls else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(
                    lambda: connection,
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
        except TimeoutError:
            raise Http1ConnectFailed(
                f"could not connect to {target.host}:{target.port} within {self.connect_timeout:g}s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise Http1ConnectFailed(f"could not connect to {target.host}:{target.port}: {exc}") from None
        self._open.add(connection)
        return connection

    async def aclose(self) -> None:
        """Close every connection, idle or not."""
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()
