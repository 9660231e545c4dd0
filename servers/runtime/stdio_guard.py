"""A server's stdin read line by line within its body limit, each line checked as one JSON-RPC message.

The SDK's stdio transport reads a whole line however long it is and answers a line that is not a
message with nothing a client can read. :class:`GuardedStdin` stands in for its stdin: it reads the
descriptor in chunks, so a line over the server's limit
(:attr:`~servers.runtime.definition.ServerDefinition.body_limit`, the same as over HTTP) is dropped
as it arrives, never held whole, and answered ``too_large:`` naming the setting; a line that is not
JSON is answered ``-32700``, JSON that is not one message ``-32600`` (:mod:`mesh.jsonrpc_envelope`).
Either way the server goes on reading the next line. Blank lines are skipped.

It reads the descriptor in a worker thread, as the SDK's transport does, unless it is handed a
``read_chunk`` (the runtime's own transport, :mod:`servers.runtime.stdio_transport`, reads the pipe on
the event loop); :meth:`GuardedStdin.next_document` yields each good message parsed, so a transport
that routes messages itself parses each line once.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread

from mesh.jsonrpc_envelope import RpcProblem, parse_message, too_large
from servers.runtime.definition import BodyLimit

CHUNK_BYTES = 64 * 1024
Reply = Callable[[RpcProblem], Awaitable[None]]
ReadChunk = Callable[[], Awaitable[bytes]]


class _TooLong:
    """A line that went over the limit (its bytes already dropped)."""


TOO_LONG = _TooLong()


class GuardedStdin:
    """The good lines of descriptor ``fd`` as text; the others answered through the reply given by :meth:`start`."""

    def __init__(
        self, fd: int, limit: BodyLimit, *, chunk_bytes: int = CHUNK_BYTES, read_chunk: ReadChunk | None = None
    ) -> None:
        self.fd = fd
        self._read_chunk = read_chunk if read_chunk is not None else self._read_in_thread
        self.limit = limit
        self.chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._dropping = False  # inside a line already over the limit: drop up to its newline
        self._eof = False
        self._reply: Reply | None = None
        self._started = anyio.Event()

    def start(self, reply: Reply) -> None:
        """Begin yielding lines; ``reply`` writes one refusal to the client."""
        self._reply = reply
        self._started.set()

    def __aiter__(self) -> GuardedStdin:
        return self

    async def __anext__(self) -> str:
        good = await self._next_good()
        if good is None:
            raise StopAsyncIteration
        return good[0].decode("utf-8", errors="replace")

    async def next_document(self) -> dict[str, Any] | None:
        """The next good message, parsed (a JSON object shaped as one JSON-RPC message); None at end of input."""
        good = await self._next_good()
        return None if good is None else good[1]

    async def _next_good(self) -> tuple[bytes, dict[str, Any]] | None:
        await self._started.wait()
        assert self._reply is not None
        while True:
            line = await self._next_line()
            if line is None:
                return None
            if isinstance(line, _TooLong):
                await self._reply(too_large(self.limit.max_bytes, self.limit.setting, "the message line"))
                continue
            if not line.strip():
                continue
            document, problem = parse_message(line)
            if problem is not None:
                await self._reply(problem)
                continue
            return line, document

    async def _next_line(self) -> bytes | _TooLong | None:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if self._dropping or len(line) > self.limit.max_bytes:
                    self._dropping = False
                    return TOO_LONG
                return line
            if len(self._buffer) > self.limit.max_bytes:
                self._dropping = True
                self._buffer.clear()
            if self._eof:
                rest, self._buffer = bytes(self._buffer), bytearray()
                if self._dropping:
                    self._dropping = False
                    return TOO_LONG
                return rest if rest else None
            chunk = await self._read_chunk()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    async def _read_in_thread(self) -> bytes:
        return await anyio.to_thread.run_sync(os.read, self.fd, self.chunk_bytes, abandon_on_cancel=True)
