"""The runtime's stdio transport answers as the SDK's stdio transport does, and qualifying calls take the fast path.

Each parity test serves the same server twice over real pipes, once through the runtime's transport
(``serve_stdio_pipes``) and once through the SDK's (``serve_stdio_sdk``), sends the same lines and
compares the bytes that come back. A spy on the shared fast path tells which path answered.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS
from pydantic import BaseModel

from servers.runtime.definition import BodyLimit
from servers.runtime.fast_tool_call import FastToolCalls
from servers.runtime.protocol_features import add_protocol_features
from servers.runtime.serve import serve_stdio_sdk
from servers.runtime.stdio_pipes import PipeReader
from servers.runtime.stdio_transport import serve_stdio_pipes

pytestmark = pytest.mark.anyio

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
    async def slow() -> str:
        gate.started.set()
        try:
            await gate.release.wait()
        except BaseException:
            gate.cancelled.set()
            raise
        return "done"

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


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tools the shared fast path answered, in order."""
    answered: list[str] = []
    original = FastToolCalls.answer

    async def spy(self: FastToolCalls, call: Any, metrics: Any) -> Any:
        answered.append(call.tool.name)
        return await original(self, call, metrics)

    monkeypatch.setattr(FastToolCalls, "answer", spy)
    return answered


def call(tool: str, arguments: dict[str, Any] | None = None, *, request_id: int = 7, **meta: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "_meta": {**META, **meta}}
    if arguments is not None:
        params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def exchange(transport: Transport, messages: list[dict[str, Any] | bytes], answers: int) -> list[bytes]:
    """Send ``messages`` to a fresh sample server; the lines written back (``answers`` of them, then the rest)."""
    async with served(transport, build_sample(Gate())) as wire:
        for message in messages:
            await wire.send(message)
        lines = await wire.lines(answers)
        wire.close_input()
        lines += await wire.rest()
    return lines


async def parity(messages: list[dict[str, Any] | bytes], answers: int) -> list[bytes]:
    """The same lines through both transports give the same bytes back; returns the runtime's."""
    ours = await exchange("runtime", messages, answers)
    sdks = await exchange("sdk", messages, answers)
    assert sorted(ours) == sorted(sdks)
    return ours


OPENING = call("add", {"a": 1, "b": 1}, request_id=1)
"""The first request decides the era and always goes to the SDK; the ones after it may take the fast path."""


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("lookup", {"key": 42}),
        ("lookup", {"key": 42, "label": "caf\u00e9 \U0001f600"}),
        ("add", {"a": 2, "b": 3}),
        ("refuse", None),
        ("crash", None),
        ("protocol_error", None),
        ("lookup", {"key": "not a number"}),
        ("lookup", {}),
        ("no_such_tool", {}),
    ],
)
async def test_a_modern_call_answers_byte_for_byte_as_the_sdk_transport(
    tool: str, arguments: dict[str, Any] | None, fast_calls: list[str]
) -> None:
    lines = await parity([OPENING, call(tool, arguments)], 2)
    answer = json.loads(next(line for line in lines if json.loads(line)["id"] == 7))
    assert answer["jsonrpc"] == "2.0"
    expected_fast = [] if tool == "no_such_tool" else [tool]
    assert fast_calls == expected_fast  # the runtime's run took the fast path, the SDK's did not


async def test_a_large_answer_arrives_whole_and_identical(fast_calls: list[str]) -> None:
    size = 300_000  # several pipe buffers: the writer waits for the reader
    lines = await parity([OPENING, call("big", {"size": size})], 2)
    answer = json.loads(next(line for line in lines if json.loads(line)["id"] == 7))
    assert answer["result"]["content"][0]["text"] == "x" * size
    assert fast_calls == ["big"]


async def test_the_opening_request_and_handshake_era_calls_stay_on_the_sdk_path(fast_calls: list[str]) -> None:
    legacy_call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "lookup", "arguments": {"key": 1}},
    }
    lines = await parity([INITIALIZE, INITIALIZED, legacy_call, call("lookup", {"key": 1}, request_id=3)], 3)
    by_id = {json.loads(line)["id"]: json.loads(line) for line in lines}
    assert by_id[2]["result"]["structuredContent"] == {"key": 1, "label": "row 1 \u2013 ü", "note": None}
    assert by_id[3]["error"]["code"] == -32600  # an enveloped request on a handshake connection: the SDK refuses it
    await parity([call("lookup", {"key": 5}, request_id=1)], 1)
    assert fast_calls == []


async def test_progress_and_tools_with_a_context_take_the_sdk_path_with_the_same_messages(
    fast_calls: list[str],
) -> None:
    lines = await parity([OPENING, call("counted", {"steps": 3}, progressToken="p1")], 5)
    methods = [json.loads(line).get("method") for line in lines]
    assert methods.count("notifications/progress") == 3
    assert fast_calls == []


async def test_bad_lines_are_answered_as_the_sdk_transport_answers_them_and_serving_goes_on(
    fast_calls: list[str],
) -> None:
    too_long = b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"pad":"' + b"x" * LIMIT.max_bytes + b'"}}'
    lines = await parity([OPENING, b"{not json", b"[1,2]", too_long, call("add", {"a": 1, "b": 2})], 5)
    errors = [json.loads(line)["error"] for line in lines if "error" in json.loads(line)]
    assert [error["code"] for error in errors] == [-32700, -32600, -32600]
    assert errors[2]["message"].startswith("too_large:")
    assert fast_calls == ["add"]


@pytest.mark.parametrize("transport", ["runtime", "sdk"])
async def test_a_cancelled_call_is_stopped_and_never_answered(transport: Transport) -> None:
    gate = Gate()
    async with served(transport, build_sample(gate)) as wire:
        await wire.send(OPENING)
        assert await wire.line() is not None
        await wire.send(call("slow", request_id=9))
        with anyio.fail_after(DEADLINE):
            await gate.started.wait()
        await wire.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}})
        with anyio.fail_after(DEADLINE):
            await gate.cancelled.wait()
        await wire.send(call("add", {"a": 4, "b": 5}, request_id=10))
        answered = await wire.line()
        wire.close_input()
        rest = await wire.rest()
    assert answered is not None and json.loads(answered)["id"] == 10
    assert rest == []


async def test_a_call_open_at_end_of_input_is_still_answered(fast_calls: list[str]) -> None:
    gate = Gate()
    async with served("runtime", build_sample(gate)) as wire:
        await wire.send(OPENING)
        assert await wire.line() is not None
        await wire.send(call("slow", request_id=9))
        with anyio.fail_after(DEADLINE):
            await gate.started.wait()
        wire.close_input()
        gate.release.set()
        rest = await wire.rest()
    assert [json.loads(line)["result"]["content"][0]["text"] for line in rest] == ["done"]
    assert fast_calls == ["slow"]


async def test_a_call_still_running_after_the_grace_period_is_cancelled_and_answered_connection_closed() -> None:
    gate = Gate()
    async with served("runtime", build_sample(gate), grace=0.2) as wire:
        await wire.send(OPENING)
        assert await wire.line() is not None
        await wire.send(call("slow", request_id=9))
        with anyio.fail_after(DEADLINE):
            await gate.started.wait()
        wire.close_input()
        rest = await wire.rest()
    assert gate.cancelled.is_set()
    assert [json.loads(line) for line in rest] == [
        {"jsonrpc": "2.0", "id": 9, "error": {"code": CONNECTION_CLOSED, "message": "Connection closed"}}
    ]


async def test_with_the_fast_path_off_every_call_takes_the_sdk_path(fast_calls: list[str]) -> None:
    async with served("runtime", build_sample(Gate()), fast_path=False) as wire:
        await wire.send(OPENING)
        await wire.send(call("lookup", {"key": 3}))
        lines = await wire.lines(2)
    assert fast_calls == []
    assert json.loads(lines[1])["result"]["structuredContent"]["key"] == 3


async def test_concurrent_fast_calls_each_get_their_own_answer(fast_calls: list[str]) -> None:
    async with served("runtime", build_sample(Gate())) as wire:
        await wire.send(OPENING)
        assert await wire.line() is not None
        for request_id in range(100, 140):
            await wire.send(call("add", {"a": request_id, "b": 1}, request_id=request_id))
        lines = await wire.lines(40)
    answers = {json.loads(line)["id"]: json.loads(line)["result"]["structuredContent"]["result"] for line in lines}
    assert answers == {request_id: request_id + 1 for request_id in range(100, 140)}
    assert len(fast_calls) == 40
