"""stdin and stdout as event-loop pipes: read and written on the loop itself, no worker thread per message.

The SDK's stdio transport reads and writes through ``anyio.wrap_file``: every line read, every line
written and every flush is a hop to a worker thread and back. :class:`PipeReader` and
:class:`PipeWriter` put the descriptors on the running loop instead (``connect_read_pipe`` /
``connect_write_pipe``, on uvloop as on asyncio), with flow control both ways: reading pauses while
unread chunks pile up, and a writer waits while the client is not reading.

Only pipes and sockets qualify (:func:`loop_pipe_capable`): a terminal or a file would be put in
non-blocking mode for every process sharing it, so those keep the SDK's transport.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections import deque
from typing import BinaryIO, cast

MAX_UNREAD_CHUNKS = 16
"""Chunks read ahead of the session before reading pauses (each up to the loop's read size)."""

COPY_LIMIT = 64 * 1024
"""Lines shorter than this are written with their newline appended, and those written in one turn of the
event loop go out in one write (one copy, one system call, one wake-up of the client's reader)."""

CLOSE_TIMEOUT = 5.0
"""Seconds to let buffered output reach the client on the way out."""


def loop_pipe_capable(read_fd: int, write_fd: int, err_fd: int = 2) -> bool:
    """Whether both descriptors are pipes or sockets, and ``write_fd`` is not the same pipe as ``err_fd`` (stderr)."""
    try:
        read_mode, write_stat = os.fstat(read_fd).st_mode, os.fstat(write_fd)
        err_stat = os.fstat(err_fd)
    except OSError:
        return False

    def streamed(mode: int) -> bool:
        return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)

    shared_with_stderr = (write_stat.st_dev, write_stat.st_ino) == (err_stat.st_dev, err_stat.st_ino)
    return streamed(read_mode) and streamed(write_stat.st_mode) and not shared_with_stderr


class _ReadProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.eof = False
        self.paused = False
        self.transport: asyncio.ReadTransport | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.ReadTransport", transport)  # uvloop's transports subclass none of asyncio's

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        if len(self.chunks) >= MAX_UNREAD_CHUNKS and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


class PipeReader:
    """Chunks of a readable pipe, in order; ``b""`` once the other end closed it."""

    def __init__(self, protocol: _ReadProtocol, pipe: BinaryIO) -> None:
        self._protocol = protocol
        self._pipe = (
            pipe  # held here: uvloop's transport keeps only the descriptor, and the file closes it when collected
        )

    @classmethod
    async def open(cls, fd: int) -> PipeReader:
        """Read a duplicate of ``fd`` on the running loop (the loop closes its copy; ``fd`` stays open)."""
        protocol = _ReadProtocol()
        pipe = os.fdopen(os.dup(fd), "rb", buffering=0)
        await asyncio.get_running_loop().connect_read_pipe(lambda: protocol, pipe)
        return cls(protocol, pipe)

    async def read_chunk(self) -> bytes:
        protocol = self._protocol
        while not protocol.chunks and not protocol.eof:
            await protocol.wait()
        if not protocol.chunks:
            return b""
        chunk = protocol.chunks.popleft()
        if protocol.paused and len(protocol.chunks) <= MAX_UNREAD_CHUNKS // 2 and protocol.transport is not None:
            protocol.paused = False
            protocol.transport.resume_reading()
        return chunk

    def close(self) -> None:
        if self._protocol.transport is not None:
            self._protocol.transport.close()
        self._pipe.close()


class _WriteProtocol(asyncio.BaseProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._resumed: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.WriteTransport", transport)

    def pause_writing(self) -> None:
        if self._resumed is None:
            self._resumed = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self._resumed = None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self.resume_writing()

    async def drain(self) -> None:
        if self._resumed is not None:
            await asyncio.shield(self._resumed)


class PipeWriter:
    """Lines to a writable pipe: each line goes out whole, in the order written, never interleaved."""

    def __init__(self, protocol: _WriteProtocol, pipe: BinaryIO) -> None:
        self._protocol = protocol
        self._pipe = pipe  # held here, as the reader's
        self._batch: list[bytes] = []
        self._flush_due = False

    @classmethod
    async def open(cls, fd: int) -> PipeWriter:
        """Write a duplicate of ``fd`` on the running loop (the loop closes its copy; ``fd`` stays open)."""
        protocol = _WriteProtocol()
        pipe = os.fdopen(os.dup(fd), "wb", buffering=0)
        await asyncio.get_running_loop().connect_write_pipe(lambda: protocol, pipe)
        return cls(protocol, pipe)

    @property
    def closed(self) -> bool:
        return self._protocol.closed.done()

    async def write_line(self, payload: bytes) -> None:
        """``payload`` and a newline, then wait while the client is behind.

        Small lines written in the same turn of the loop (answers of concurrent calls) are joined and go
        out in one write at the end of the turn (each write wakes the client's reader). A large one is
        written after them as the payload, then the newline: the loop hands a payload straight to the
        pipe when its buffer is empty, so a large answer is not copied once more to append one byte.
        """
        transport = self._protocol.transport
        if transport is None or self.closed or transport.is_closing():
            return  # the client is gone: nobody to answer
        if len(payload) < COPY_LIMIT:
            self._batch.append(payload + b"\n")
            if not self._flush_due:
                self._flush_due = True
                asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._flush()
            transport.write(payload)
            transport.write(b"\n")
        await self._protocol.drain()

    def _flush(self) -> None:
        """Write the lines batched in this turn of the loop, in order, as one write."""
        self._flush_due = False
        transport = self._protocol.transport
        if not self._batch or transport is None or transport.is_closing():
            self._batch.clear()
            return
        data = self._batch[0] if len(self._batch) == 1 else b"".join(self._batch)
        self._batch.clear()
        transport.write(data)

    async def aclose(self) -> None:
        """Close after what is buffered reached the client (or :data:`CLOSE_TIMEOUT` passed)."""
        transport = self._protocol.transport
        if transport is None:
            return
        self._flush()
        transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._protocol.closed), CLOSE_TIMEOUT)
        except TimeoutError:
            transport.abort()
        self._pipe.close()
