"""The client's end of a stdio connection served over real pipes, and a sample server to serve.

Shared by the stdio transport's tests: :func:`served` runs a server through the runtime's transport
or the SDK's, :func:`parity` sends the same lines through both and compares the bytes that come back.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import BaseModel

from servers.runtime.definition import BodyLimit
from servers.runtime.fast_tool_call import FastToolCalls
from servers.runtime.light_context import session_needed_when
from servers.runtime.protocol_features import add_protocol_features
from servers.runtime.serve import serve_stdio_sdk
from servers.runtime.stdio_pipes import PipeReader
from servers.runtime.stdio_transport import serve_stdio_pipes

Transport = Literal["runtime", "sdk"]
LIMIT = BodyLimit(64 * 1024, "the test's limit")
DEADLINE = 10.0
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "stdio-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class Row(BaseModel):
    key: int
    label: str
    note: str | None = None


@dataclass
class Gate:
    """Lets a test hold the ``slow`` tool until it has seen what it waits for."""

    started: anyio.Event = field(default_factory=anyio.Event)
    release: anyio.Event = field(default_factory=anyio.Event)
    cancelled: anyio.Event = field(default_factory=anyio.Event)


def wants_roots(capabilities: Any) -> bool:
    """The ``light`` tool needs the SDK's session only for a client that declared roots."""
    return capabilities is not None and capabilities.roots is not None


def build_sample(gate: Gate) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("sample", version="1.2.3")

    @server.tool()
    def lookup(key: int, label: str = "row") -> Row:
        """A structured answer with a null field and non-ASCII text."""
        return Row(key=key, label=f"{label} {key} \u2013 ü")

    @server.tool()
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool()
    def big(size: int) -> str:
        return "x" * size

    @server.tool()
    def refuse() -> str:
        raise ToolError("refused: call lookup instead")

    @server.tool()
    def crash() -> str:
        raise RuntimeError("internal detail that must stay on the server")

    @server.tool()
    def protocol_error() -> str:
        raise MCPError(code=INVALID_PARAMS, message="no such thing", data={"hint": "try lookup"})

    @server.tool()
    async def counted(steps: int, ctx: Context[Any, Any]) -> str:
        for step in range(steps):
            await ctx.report_progress(step + 1, steps, f"step {step + 1}")
        return f"{steps} steps"

    @server.tool()
    @session_needed_when(wants_roots)
    async def light(steps: int, ctx: Context[Any, Any]) -> Row:
        """Reads the client's capabilities, reports progress and logs: all without the SDK's session."""
        for step in range(steps):
            await ctx.report_progress(step + 1, steps, f"step {step + 1}")
        await ctx.info(f"did {steps} steps")
        await ctx.warning({"steps": steps})
        roots = ctx.client_capabilities is not None and ctx.client_capabilities.roots is not None
        return Row(key=steps, label=f"{ctx.protocol_version} roots={roots} id={ctx.request_id}")

    @server.tool()
    async def slow() -> str:
        gate.started.set()
        try:
            await gate.release.wait()
        except BaseException:
            gate.cancelled.set()
            raise
        return "done"

    @server.tool()
    async def stubborn() -> str:
        """Like ``slow``, but it swallows its cancellation and returns anyway."""
        gate.started.set()
        try:
            await gate.release.wait()
        except BaseException:
            gate.cancelled.set()
        return "finished anyway"

    add_protocol_features(server)
    return server


class Wire:
    """The client's end of one served connection: lines in, lines out."""

    def __init__(self, to_server: int, reader: PipeReader) -> None:
        self.to_server = to_server
        self.reader = reader
        self.buffer = bytearray()
        self.open = True

    async def send(self, message: dict[str, Any] | bytes) -> None:
        """Write one line (in a worker thread: a line longer than the pipe's buffer blocks until the server reads)."""
        data = memoryview((message if isinstance(message, bytes) else json.dumps(message).encode()) + b"\n")
        while data:
            data = data[await anyio.to_thread.run_sync(os.write, self.to_server, data) :]

    def close_input(self) -> None:
        if self.open:
            self.open = False
            os.close(self.to_server)

    async def line(self) -> bytes | None:
        """The next line the server wrote, None once it closed stdout."""
        with anyio.fail_after(DEADLINE):
            while (newline := self.buffer.find(b"\n")) < 0:
                chunk = await self.reader.read_chunk()
                if not chunk:
                    return None
                self.buffer += chunk
        line = bytes(self.buffer[:newline])
        del self.buffer[: newline + 1]
        return line

    async def lines(self, count: int) -> list[bytes]:
        found = [await self.line() for _ in range(count)]
        assert None not in found, f"the server closed stdout after {found}"
        return [line for line in found if line is not None]

    async def rest(self) -> list[bytes]:
        """Every line until the server closes stdout (call after :meth:`close_input`)."""
        found: list[bytes] = []
        while (line := await self.line()) is not None:
            found.append(line)
        return found


@asynccontextmanager
async def served(
    transport: Transport, server: MCPServer[Any], *, fast_path: bool = True, grace: float = 5.0
) -> AsyncIterator[Wire]:
    """``server`` on fresh pipes through ``transport``; the wire is closed and the server awaited on the way out."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    reader = await PipeReader.open(out_r)
    os.close(out_r)
    wire = Wire(in_w, reader)

    async def serve() -> None:
        try:
            if transport == "runtime":
                await serve_stdio_pipes(server, in_r, out_w, LIMIT, grace_seconds=grace, fast_path=fast_path)
            else:
                text = io.TextIOWrapper(os.fdopen(os.dup(out_w), "wb"), encoding="utf-8")
                try:
                    await serve_stdio_sdk(server, in_r, LIMIT, stdout=anyio.wrap_file(text))
                finally:
                    text.close()
        finally:
            os.close(out_w)  # the server's end: the client reads end of output once the server is done

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            yield wire
            wire.close_input()
    finally:
        wire.close_input()
        reader.close()
        os.close(in_r)


def call(tool: str, arguments: dict[str, Any] | None = None, *, request_id: int = 7, **meta: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "_meta": {**META, **meta}}
    if arguments is not None:
        params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def exchange(
    transport: Transport,
    messages: Sequence[dict[str, Any] | bytes],
    answers: int,
    *,
    await_opening: bool = False,
    build: Callable[[], MCPServer[Any]] | None = None,
) -> list[bytes]:
    """Send ``messages`` to a fresh sample server; the lines written back (``answers`` of them, then the rest).

    ``await_opening``: wait for the answer to the first message before sending the others, as a client
    that opens with ``server/discover`` or ``initialize`` does. ``build`` makes the server (default: the sample).
    """
    server = build() if build is not None else build_sample(Gate())
    async with served(transport, server) as wire:
        lines: list[bytes] = []
        for index, message in enumerate(messages):
            await wire.send(message)
            if index == 0 and await_opening:
                lines += await wire.lines(1)
        lines += await wire.lines(answers - len(lines))
        wire.close_input()
        lines += await wire.rest()
    return lines


async def parity(
    messages: Sequence[dict[str, Any] | bytes],
    answers: int,
    *,
    await_opening: bool = False,
    build: Callable[[], MCPServer[Any]] | None = None,
) -> list[bytes]:
    """The same lines through both transports give the same bytes back; returns the runtime's."""
    ours = await exchange("runtime", messages, answers, await_opening=await_opening, build=build)
    sdks = await exchange("sdk", messages, answers, await_opening=await_opening, build=build)
    assert sorted(ours) == sorted(sdks)
    return ours


OPENING = call("add", {"a": 1, "b": 1}, request_id=1)
"""The first request decides the era and always goes to the SDK; the ones after it may take the fast path."""


def spy_fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the tools the shared fast path answers, in order, in the list returned."""
    answered: list[str] = []
    original = FastToolCalls.answer

    async def spy(self: FastToolCalls, call: Any, metrics: Any, context: Any = None) -> Any:
        answered.append(call.tool.name)
        return await original(self, call, metrics, context)

    monkeypatch.setattr(FastToolCalls, "answer", spy)
    return answered
