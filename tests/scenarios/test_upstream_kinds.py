"""Any MCP server can sit behind the gateway: the stateless wire, the 2025-11-25 handshake era, stdio;
and an upstream's input requests reach the real client in both eras."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from mcp import Client, types
from mcp.server import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.call.catalog import ALL
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from tests.support.upstreams import HttpUpstream, Replica, demo_server

pytestmark = pytest.mark.anyio


class HandshakeOnly:
    """Wraps an SDK app so it answers like a 2025-11-25 server: ``server/discover`` is an unknown method."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.discover_refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if b'"server/discover"' in body:
            self.discover_refused += 1
            request = json.loads(body)
            error = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "Method not found"}}
            payload = json.dumps(error).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": payload})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@asynccontextmanager
async def gateway_over(registry: StaticRegistry) -> AsyncIterator[Gateway]:
    gateway = Gateway(GatewaySettings(), registry)
    async with gateway.running():
        yield gateway


async def test_an_upstream_of_the_handshake_era_is_served_through_a_session() -> None:
    import anyio

    wrappers: list[HandshakeOnly] = []

    def handshake_only(app: ASGIApp) -> HandshakeOnly:
        wrappers.append(HandshakeOnly(app))
        return wrappers[-1]

    upstream = HttpUpstream(demo_server(Replica("old")), wrap=handshake_only)
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            registry = StaticRegistry({"old": (StaticInstance(url=upstream.url),)})
            async with (
                gateway_over(registry) as gateway,
                Client(Endpoint(gateway, ALL).server, mode="legacy") as client,
            ):
                result = await client.call_tool("old_echo", {"text": "x"})
                slow = await client.call_tool("old_slow", {"steps": 2}, progress_callback=on_progress)
                member = next(iter(gateway.pools["old"].members.values()))
                assert member.upstream is not None
                assert member.upstream.protocol_version == "2025-11-25"
        finally:
            await upstream.stop()
    assert wrappers[0].discover_refused >= 1
    assert result.structured_content == {"text": "x", "replica": "old"}
    assert slow.content[0].text == "done by old"  # type: ignore[union-attr]
    assert progress == [1.0, 2.0]


async def test_a_stdio_upstream_is_launched_and_served(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("from stdio\n")
    command = StaticInstance(command=sys.executable, args=("-m", "suite.cli", "serve", "filesystem", str(tmp_path)))
    async with (
        gateway_over(StaticRegistry({"filesystem": (command,)})) as gateway,
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        result = await client.call_tool("filesystem_read_text_file", {"path": str(tmp_path / "note.txt")})
    assert not result.is_error
    assert "from stdio" in json.dumps(result.model_dump(mode="json"))


class Answer(BaseModel):
    name: str


def ask_name() -> Elicit[Answer]:
    return Elicit("What is your name?", Answer)


def asking_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("asker")

    @server.tool(description="Greets whoever answers the question.")
    def greet(answer: Annotated[Answer, Resolve(ask_name)]) -> str:
        return f"hello {answer.name}"

    return server


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_upstream_elicitation_reaches_the_real_client_in_both_eras(mode: str) -> None:
    import anyio

    asked: list[str] = []

    async def on_elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "ada"})

    upstream = HttpUpstream(asking_server())
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            registry = StaticRegistry({"asker": (StaticInstance(url=upstream.url),)})
            async with (
                gateway_over(registry) as gateway,
                Client(Endpoint(gateway, ALL).server, mode=mode, elicitation_callback=on_elicit) as client,
            ):
                result = await client.call_tool("asker_greet", {})
        finally:
            await upstream.stop()
    assert asked == ["What is your name?"]
    assert result.content[0].text == "hello ada"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_round_of_an_input_request_reaches_the_replica_that_asked(mode: str) -> None:
    import anyio

    async def on_elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "ada"})

    # Two replicas seal their request state with different keys: a second round sent to the
    # other replica would be refused. Round-robin alone would send every second round there.
    upstreams = [HttpUpstream(asking_server()), HttpUpstream(asking_server())]
    async with anyio.create_task_group() as tg:
        for upstream in upstreams:
            await upstream.start(tg)
        try:
            registry = StaticRegistry({"asker": tuple(StaticInstance(url=u.url) for u in upstreams)})
            async with (
                gateway_over(registry) as gateway,
                Client(Endpoint(gateway, ALL).server, mode=mode, elicitation_callback=on_elicit) as client,
            ):
                results = [await client.call_tool("asker_greet", {}) for _ in range(4)]
                calls = [m.calls for m in gateway.pools["asker"].members.values()]
        finally:
            for upstream in upstreams:
                await upstream.stop()
    assert [r.is_error for r in results] == [False] * 4
    assert {r.content[0].text for r in results} == {"hello ada"}  # type: ignore[union-attr]
    assert all(count >= 2 for count in calls), calls  # both replicas asked and answered


async def test_a_next_round_for_an_instance_that_is_gone_is_refused_clearly() -> None:
    from gateway.call.router import GatewayError, seal_state

    async with demo_gateway_over_asker() as gateway:
        with pytest.raises(GatewayError) as caught:
            await gateway.call_tool(
                ALL, "asker_greet", {"name": "greet", "arguments": {}, "requestState": seal_state("gone-1", "x")}
            )
    assert caught.value.code == -32001
    assert "no longer available" in caught.value.message
    assert "make the call again" in caught.value.message


@asynccontextmanager
async def demo_gateway_over_asker() -> AsyncIterator[Gateway]:
    import anyio

    upstream = HttpUpstream(asking_server())
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            async with gateway_over(StaticRegistry({"asker": (StaticInstance(url=upstream.url),)})) as gateway:
                yield gateway
        finally:
            await upstream.stop()
