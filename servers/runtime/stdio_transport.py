"""The runtime's stdio transport: lines on the event loop, qualifying tool calls on the shared fast path.

It stands where the SDK's ``stdio_server`` stands and keeps its contract: one JSON-RPC message per
line each way, stdout carrying nothing else, every message the SDK's session sees and writes passed
through unchanged. What differs is the cost per message:

- stdin and stdout are pipes on the event loop (:mod:`servers.runtime.stdio_pipes`), not a worker
  thread per line read, line written and flush;
- each line is parsed once, by the guard (:class:`~servers.runtime.stdio_guard.GuardedStdin`: the
  server's ``body_limit``, the JSON-RPC envelope); a message for the SDK is built from that parse;
- a ``tools/call`` that qualifies (:class:`~servers.runtime.fast_tool_call.FastToolCalls`, the
  same code the HTTP fast path runs) is answered here, its result encoded once and written straight
  to the pipe, in either era: on a 2026-07-28 connection by its envelope, on a 2025-11-25 one once
  the SDK's own connection (reached through :mod:`servers.runtime.stdio_session_probe`) has
  accepted ``initialize``, at the version it negotiated. A tool with a light ``Context``
  (:mod:`servers.runtime.light_context`) writes its progress and log notifications to the same pipe.

Everything else goes to the SDK's session: ``initialize``, lists, notifications, input requests,
server-to-client requests and their answers, and any call that does not qualify. The era is decided
as the SDK decides it, by the client's first request, which always goes to the SDK. A
``notifications/cancelled`` naming a fast call cancels it and nothing is answered, as the SDK's
dispatcher does. At end of input the requests still open, on either path, get up to
``shutdown_grace_seconds`` to be answered (the SDK's own transport answers a request that arrives
just before end of input or not, depending on how soon its reader thread sees the end); the fast
calls still running after that are cancelled and answered "Connection closed", as the SDK answers its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.shared.dispatcher import coerce_request_id
from mcp.shared.jsonrpc_dispatcher import cancelled_request_id_from_params
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter
from mcp_types import CONNECTION_CLOSED, ErrorData, JSONRPCError, JSONRPCResponse, RequestId
from pydantic_core import to_json

from mesh.jsonrpc_envelope import RpcProblem
from servers.runtime.definition import BodyLimit
from servers.runtime.fast_tool_call import META_PROTOCOL, FastCall, FastToolCalls
from servers.runtime.light_context import light_context, modern_connection, pipe_emitter
from servers.runtime.observability import CallMetricsMiddleware
from servers.runtime.sdk_seams import lowlevel_of
from servers.runtime.stdio_guard import GuardedStdin
from servers.runtime.stdio_pipes import PipeReader, PipeWriter
from servers.runtime.stdio_session_probe import SessionSlot, install_probe, probing

log = logging.getLogger("mcp_suite.runtime.stdio")

_SHUTDOWN_WRITE_TIMEOUT = 2.0


@dataclass
class _InFlight:
    """One fast call running in its own asyncio task (not an anyio child task: a quarter of the transport's
    CPU per call on a no-op tool went to the task group's and cancel scope's bookkeeping)."""

    task: asyncio.Task[None] | None = None
    peer_cancelled: bool = False
    closing: bool = False
    """Cancelled at end of input (or as the transport went down): answered "Connection closed"."""

    def cancel(self, *, by_peer: bool) -> None:
        if self.peer_cancelled or self.closing or self.task is None:
            return  # cancelled once already: a second cancel would only be swallowed by the first
        if by_peer:
            self.peer_cancelled = True
        else:
            self.closing = True
        self.task.cancel()


@dataclass
class _Era:
    """The connection's protocol era, decided by the client's first request (as the SDK's loop decides it)."""

    modern: bool | None = None

    def observe(self, document: Mapping[str, Any]) -> None:
        if self.modern is not None or "id" not in document or "method" not in document:
            return
        params = document.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        self.modern = document["method"] != "initialize" and isinstance(meta, dict) and META_PROTOCOL in meta


def encode_sdk_message(message: SessionMessage) -> bytes:
    """A message as the SDK's stdio transport writes it (``model_dump_json(by_alias=True, exclude_unset=True)``)."""
    model = message.message
    return model.__pydantic_serializer__.to_json(model, by_alias=True, exclude_unset=True)


@dataclass
class StdioConnection:
    """One client on stdin/stdout: routes each message to the fast path or to the SDK's session."""

    server: MCPServer[Any]
    writer: PipeWriter
    to_session: MemoryObjectSendStream[SessionMessage | Exception]
    fast_path: bool = True
    slot: SessionSlot = field(default_factory=SessionSlot)
    calls: FastToolCalls = field(init=False)
    _era: _Era = field(default_factory=_Era)
    _in_flight: dict[RequestId, _InFlight] = field(default_factory=dict)
    _sdk_open: set[RequestId] = field(default_factory=set)
    _settled: anyio.Event | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.calls = FastToolCalls(self.server)

    async def route(self, document: dict[str, Any]) -> None:
        """Answer ``document`` on the fast path, or hand it to the SDK's session as the SDK would have parsed it."""
        if self._era.modern is None:
            self._era.observe(document)
        elif self.fast_path:
            if self._era.modern:
                call = self.calls.qualify(document, pipe=True)
            else:
                call = self.calls.qualify_handshake(document, self.slot.connection)
            if call is not None and call.light and not self.slot.seen:
                call = None  # the SDK has not yet shown its lifespan state: a light Context would lack it
            plain, metrics = self.calls.plain_server() if call is not None else (False, None)
            if call is not None and plain:
                entry = _InFlight()
                self._in_flight[coerce_request_id(call.id)] = entry
                entry.task = task = asyncio.get_running_loop().create_task(self._answer(call, metrics, entry))
                self._tasks.add(task)
                task.add_done_callback(self._done)
                return
        method = document.get("method")
        if method == "notifications/cancelled":
            if self._cancel_fast(document.get("params")):
                return
            self._sdk_open.discard(_cancelled_id(document.get("params")))
        try:
            message: SessionMessage | Exception = SessionMessage(
                jsonrpc_message_adapter.validate_python(document, by_name=False)
            )
        except Exception as exc:  # the SDK's transport hands its session the validation error, as here
            message = exc
        else:
            if method is not None and method != "notifications/cancelled" and "id" in document:
                self._sdk_open.add(coerce_request_id(document["id"]))
        await self.to_session.send(message)

    def _cancel_fast(self, params: Any) -> bool:
        key = _cancelled_id(params)
        entry = self._in_flight.get(key) if key is not None else None
        if entry is None:
            return False
        entry.cancel(by_peer=True)
        return True

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a fast tool call failed outside the tool", exc_info=exc)

    async def _answer(self, call: FastCall, metrics: CallMetricsMiddleware | None, entry: _InFlight) -> None:
        key = coerce_request_id(call.id)
        outcome: dict[str, Any] | ErrorData | None = None
        try:
            outcome = await self.calls.answer(call, metrics, self._light_context(call))
        except asyncio.CancelledError:
            if not (entry.peer_cancelled or entry.closing):
                raise  # not ours: whoever cancelled the task is owed the CancelledError
        finally:
            if self._in_flight.get(key) is entry:
                del self._in_flight[key]
                self._check_settled()
        task = asyncio.current_task()
        if (entry.peer_cancelled or entry.closing) and task is not None and task.cancelling():
            task.uncancel()  # the one cancel of ours, handled here (whether or not the tool let it through)
        if entry.peer_cancelled:
            return  # the client cancelled it: never answered
        if entry.closing or outcome is None:  # end of input: the SDK answers its own calls so too
            outcome = ErrorData(code=CONNECTION_CLOSED, message="Connection closed")
            with anyio.move_on_after(_SHUTDOWN_WRITE_TIMEOUT, shield=True):
                await self.writer.write_line(_encode_error(call.id, outcome))
            return
        if isinstance(outcome, ErrorData):
            await self.writer.write_line(_encode_error(call.id, outcome))
        else:
            await self.writer.write_line(_encode_result(call.id, outcome))

    def _light_context(self, call: FastCall) -> Context[Any, Any] | None:
        if not call.light:
            return None
        write_line = self.writer.write_line
        connection = self.slot.connection if not call.modern else None
        if connection is None:
            connection = modern_connection(call.version, call.meta, write_line)
        return light_context(
            self.server,
            connection=connection,
            request_id=call.id,
            params=call.params,
            lifespan_context=self.slot.lifespan_context,
            emit=pipe_emitter(write_line),
        )

    def answered(self, message: SessionMessage) -> None:
        """The SDK's session wrote ``message``: a request it answers is no longer open."""
        if isinstance(message.message, JSONRPCResponse | JSONRPCError) and message.message.id is not None:
            self._sdk_open.discard(coerce_request_id(message.message.id))
            self._check_settled()

    def _check_settled(self) -> None:
        if self._settled is not None and not self._in_flight and not self._sdk_open:
            self._settled.set()

    async def settle(self, grace: float) -> None:
        """End of input: let open requests be answered within ``grace`` seconds, then cancel the fast calls left."""
        self._settled = anyio.Event()
        self._check_settled()
        with anyio.move_on_after(grace):
            await self._settled.wait()
        for entry in list(self._in_flight.values()):
            entry.cancel(by_peer=False)

    async def finish(self) -> None:
        """Cancel the fast calls still running (none after :meth:`settle`, unless it was cut short) and wait
        until each has been answered or dropped."""
        for entry in list(self._in_flight.values()):
            entry.cancel(by_peer=False)
        if self._tasks:
            with anyio.CancelScope(shield=True):
                await asyncio.wait(list(self._tasks))


def _cancelled_id(params: Any) -> RequestId | None:
    request_id = cancelled_request_id_from_params(params if isinstance(params, dict) else None)
    return None if request_id is None else coerce_request_id(request_id)


def _encode_result(request_id: RequestId, result: dict[str, Any]) -> bytes:
    """A result as the SDK's dispatcher and stdio writer put it on the wire (``JSONRPCResponse``, pydantic JSON)."""
    return to_json({"jsonrpc": "2.0", "id": request_id, "result": result})


def _encode_error(request_id: RequestId, error: ErrorData) -> bytes:
    return encode_sdk_message(SessionMessage(JSONRPCError(jsonrpc="2.0", id=request_id, error=error)))


async def serve_stdio_pipes(
    server: MCPServer[Any],
    stdin_fd: int,
    stdout_fd: int,
    limit: BodyLimit,
    *,
    grace_seconds: float,
    fast_path: bool = True,
) -> None:
    """Serve one client over the pipes ``stdin_fd`` / ``stdout_fd`` until it closes stdin.

    ``grace_seconds`` is how long requests still open at end of input get to be answered.
    """
    lowlevel = lowlevel_of(server)
    install_probe(server)
    reader = await PipeReader.open(stdin_fd)
    writer = await PipeWriter.open(stdout_fd)
    to_session, session_in = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    session_out, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    connection = StdioConnection(server, writer, to_session, fast_path=fast_path)
    stdin = GuardedStdin(stdin_fd, limit, read_chunk=reader.read_chunk)

    async def reply(problem: RpcProblem) -> None:
        message = SessionMessage(jsonrpc_message_adapter.validate_python(problem.body()))
        await writer.write_line(encode_sdk_message(message))

    stdin.start(reply)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_write_session_messages, from_session, writer, connection)
            with probing(connection.slot):  # the SDK's session inherits the slot with this task's context
                tg.start_soon(_run_session, lowlevel, session_in, session_out)
            async with to_session:
                try:
                    while (document := await stdin.next_document()) is not None:
                        await connection.route(document)
                    await connection.settle(grace_seconds)
                finally:
                    await connection.finish()
    finally:
        reader.close()
        await writer.aclose()


async def _run_session(
    lowlevel: Any,
    session_in: MemoryObjectReceiveStream[SessionMessage | Exception],
    session_out: MemoryObjectSendStream[SessionMessage],
) -> None:
    await lowlevel.run(session_in, session_out, lowlevel.create_initialization_options())


async def _write_session_messages(
    from_session: MemoryObjectReceiveStream[SessionMessage], writer: PipeWriter, connection: StdioConnection
) -> None:
    async with from_session:
        async for message in from_session:
            await writer.write_line(encode_sdk_message(message))
            connection.answered(message)
