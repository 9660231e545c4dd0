"""Real MCP servers for gateway tests: built with the SDK, served over streamable HTTP on free ports.

They are upstreams like any third-party server a user might put behind the gateway. Each knows its
own ``label`` so a test can see which replica answered.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
import anyio.abc
import anyio.lowlevel
import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mesh.asgi_body import read_body, replay

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, destructiveHint=False, openWorldHint=False)
IDEMPOTENT = ToolAnnotations(readOnlyHint=False, idempotentHint=True, destructiveHint=False, openWorldHint=False)
DESTRUCTIVE = ToolAnnotations(readOnlyHint=False, idempotentHint=False, destructiveHint=True, openWorldHint=False)


class Echo(BaseModel):
    text: str
    replica: str


@dataclass
class Replica:
    """One upstream's state that tests inspect: how many calls each tool got, and a gate to hold calls."""

    label: str
    calls: dict[str, int] = field(default_factory=dict)
    gate: anyio.Event | None = None
    entered: anyio.Event = field(default_factory=anyio.Event)
    cancelled: anyio.Event = field(default_factory=anyio.Event)

    def count(self, tool: str) -> None:
        self.calls[tool] = self.calls.get(tool, 0) + 1


def demo_server(replica: Replica, *, extra_tool: bool = False) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("demo", instructions="a demo upstream")

    @server.tool(annotations=READ_ONLY, description="Echo the text back with the replica's label.")
    def echo(text: Annotated[str, Field(description="text to echo")]) -> Echo:
        replica.count("echo")
        return Echo(text=text, replica=replica.label)

    @server.tool(annotations=READ_ONLY, description="Report progress twice, then answer.")
    async def slow(steps: int, ctx: Context) -> str:
        replica.count("slow")
        for step in range(steps):
            await ctx.report_progress(step + 1, steps, f"step {step + 1}")
        replica.entered.set()
        if replica.gate is not None:
            try:
                await replica.gate.wait()
            except anyio.get_cancelled_exc_class():
                replica.cancelled.set()
                raise
        return f"done by {replica.label}"

    @server.tool(annotations=DESTRUCTIVE, description="Pretend to delete something.")
    def destroy(target: str) -> str:
        replica.count("destroy")
        return f"destroyed {target} on {replica.label}"

    @server.tool(annotations=READ_ONLY, description="Always a tool error.")
    def fail() -> str:
        raise ToolError("this tool always fails: pass a different tool")

    @server.tool(annotations=IDEMPOTENT, description="Say that an item changed (to clients subscribed to it).")
    async def touch(item: str, ctx: Context) -> str:
        replica.count("touch")
        await ctx.notify_resource_updated(f"demo://items/{item}")
        return f"touched {item} on {replica.label}"

    @server.tool(annotations=IDEMPOTENT, description="Add a tool 'grown' and announce the list change.")
    async def grow(ctx: Context) -> str:
        def grown() -> str:
            return "grown"

        server.add_tool(grown, name="grown", description="added at run time")
        await ctx.notify_tools_changed()
        return "grew"

    if extra_tool:

        @server.tool(description="Only on a mismatched replica.")
        def extra() -> str:
            return "extra"

    @server.resource("demo://greeting", mime_type="text/plain")
    def greeting() -> str:
        return f"hello from {replica.label}"

    @server.resource("demo://items/{item}", mime_type="text/plain")
    def item(item: str) -> str:
        return f"item {item} from {replica.label}"

    @server.prompt(description="Ask for a summary of a topic.")
    def summarize(topic: str) -> str:
        return f"Summarize {topic}."

    return server


@dataclass
class LostAnswer:
    """Shared by the wrappers of several upstreams: the first ``times`` calls of ``tool`` that reach any of
    them run to the end, then lose their answer: no byte of it is sent.

    ``how="drop"`` closes the connection (what a crash or a closed keep-alive looks like to the gateway);
    ``how="hang"`` keeps it open and silent until the gateway gives up (a deadline passed after the work
    was done). ``lost`` names the replicas whose answer was lost, in order.
    """

    tool: str
    how: Literal["drop", "hang"] = "drop"
    times: int = 1
    lost: list[str] = field(default_factory=list)

    def wrap(self, label: str) -> Callable[[ASGIApp], ASGIApp]:
        """The ``HttpUpstream(wrap=...)`` for the replica called ``label``."""

        def wrapper(app: ASGIApp) -> ASGIApp:
            return _LoseAnswer(app, self, label)

        return wrapper


class _LoseAnswer:
    def __init__(self, app: ASGIApp, plan: LostAnswer, label: str) -> None:
        self.app, self.plan, self.label = app, plan, label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or len(self.plan.lost) >= self.plan.times:
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive, 1 << 20)
        try:
            params = json.loads(body).get("params") or {}
        except (ValueError, AttributeError):
            params = {}
        if not complete or not isinstance(params, dict) or params.get("name") != self.plan.tool:
            await self.app(scope, replay(body, receive, complete), send)
            return
        self.plan.lost.append(self.label)

        async def swallow(_message: Message) -> None:
            return None

        await self.app(scope, replay(body, receive), swallow)  # the tool runs and counts; its answer goes nowhere
        if self.plan.how == "drop":
            _shut_server_side(scope)
            return
        while (await receive())["type"] != "http.disconnect":  # silent until the gateway hangs up
            pass


def _shut_server_side(scope: Scope) -> None:
    """Shut the server's socket of this request's connection (found by its two addresses) in both directions."""
    here, peer = tuple(scope["server"]), tuple(scope["client"])
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        with sock:
            try:
                if sock.getsockname()[:2] == here and sock.getpeername()[:2] == peer:
                    sock.shutdown(socket.SHUT_RDWR)
                    return
            except OSError:
                continue
    raise AssertionError(f"no server socket for {peer} -> {here}: the connection cannot be dropped")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve the ASGI ``app`` over uvicorn on a free loopback port for the block; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            await anyio.lowlevel.checkpoint()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


class HttpUpstream:
    """A server on a fixed port that a test can stop and start again (a replica dying and coming back)."""

    def __init__(
        self, server: MCPServer[Any], port: int | None = None, wrap: Callable[[Any], Any] | None = None
    ) -> None:
        self.server = server
        self.wrap = wrap
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._uv: uvicorn.Server | None = None
        self._stopped = anyio.Event()

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        app = self.server.streamable_http_app(host="127.0.0.1")
        if self.wrap is not None:
            app = self.wrap(app)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on")
        uv = uvicorn.Server(config)
        started = anyio.Event()
        stopped = anyio.Event()
        original = uv.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            started.set()

        uv.startup = startup  # type: ignore[method-assign]

        async def run() -> None:
            try:
                await uv.serve()
            finally:
                stopped.set()
                started.set()

        self._uv, self._stopped = uv, stopped
        task_group.start_soon(run)
        await started.wait()

    async def stop(self) -> None:
        if self._uv is not None:
            self._uv.should_exit = True
            self._uv.force_exit = True
            await self._stopped.wait()
            self._uv = None


@asynccontextmanager
async def serve_http(server: MCPServer[Any], port: int | None = None) -> AsyncIterator[str]:
    """Serve ``server`` at ``http://127.0.0.1:<port>/mcp`` for the block; stop it on exit."""
    upstream = HttpUpstream(server, port)
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            yield upstream.url
        finally:
            await upstream.stop()


class KeepAliveCloser:
    """A TCP proxy in front of an upstream that can close a kept-alive connection as a request arrives.

    While :attr:`armed` is above zero, the next request that arrives on a connection which already
    carried one is not forwarded: the proxy closes that connection instead, as a server does when its
    keep-alive timeout ends at the moment the client reuses the connection. :attr:`closed` counts
    those closes; :attr:`requests` counts the requests forwarded.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.armed = 0
        self.closed = 0
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAliveCloser:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/mcp"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def back() -> None:
            while data := await upstream_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        answers = asyncio.create_task(back())
        carried = 0
        try:
            while data := await reader.read(65536):
                if data.startswith((b"POST ", b"GET ", b"DELETE ")):
                    if carried and self.armed > 0:
                        self.armed -= 1
                        self.closed += 1
                        return
                    carried += 1
                    self.requests += 1
                upstream_writer.write(data)
                await upstream_writer.drain()
        except ConnectionError:
            pass
        finally:
            answers.cancel()
            upstream_writer.close()
            writer.close()
