"""The gateway's lean HTTP/1.1 client, against a real uvicorn server and a raw socket server that misbehaves."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.upstream.http1 import Http1ClosedBeforeAnswer, Http1Error, Http1Pool
from mesh.serving.keep_alive import CLIENT_IDLE_LIMIT_SECONDS, SERVER_KEEP_ALIVE_SECONDS

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}


def _app(release: anyio.Event) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        client = request.client
        return JSONResponse(
            {
                "body": json.loads(body),
                "peer": client.port if client else None,
                "secret": request.headers.get("x-mcp-suite-upstream-secret"),
                "name": request.headers.get("mcp-name"),
            }
        )

    async def chunked(_request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            for index in range(50):
                yield json.dumps({"i": index}).encode() + b"\n"

        return StreamingResponse(parts(), media_type="application/x-ndjson")

    async def events(_request: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b'data: {"first": true}\r\n\r\n'
            await release.wait()  # the second event only after the client has read the first
            yield b'data: {"second": true}\n\n'

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def large(_request: Request) -> Response:
        return Response(b"x" * (3 << 20), media_type="application/octet-stream")

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/chunked", chunked, methods=["POST"]),
            Route("/events", events, methods=["POST"]),
            Route("/large", large, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def _uvicorn(app: Starlette) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            await anyio.sleep(0.01)  # uvicorn offers no started event; this only waits for start-up
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _raw_server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


async def test_a_json_answer_comes_back_whole_and_the_connection_is_kept_for_the_next_call() -> None:
    async with _uvicorn(_app(anyio.Event())) as base:
        pool = Http1Pool(headers={"x-mcp-suite-upstream-secret": "s3"})
        try:
            peers = []
            for index in range(3):
                async with pool.post(f"{base}/echo", json.dumps({"n": index}).encode(), {**JSON, "mcp-name": "t"}) as r:
                    assert r.status == 200
                    assert r.headers["content-type"] == "application/json"
                    answer = json.loads(await r.read())
                assert answer["body"] == {"n": index}
                assert answer["secret"] == "s3" and answer["name"] == "t"
                peers.append(answer["peer"])
            assert len(set(peers)) == 1, "every call should reuse the one keep-alive connection"
        finally:
            await pool.aclose()


async def test_a_chunked_body_is_reassembled() -> None:
    async with _uvicorn(_app(anyio.Event())) as base:
        pool = Http1Pool()
        try:
            async with pool.post(f"{base}/chunked", b"{}", JSON) as response:
                assert "chunked" in response.headers.get("transfer-encoding", "")
                lines = (await response.read()).decode().splitlines()
            assert [json.loads(line)["i"] for line in lines] == list(range(50))
        finally:
            await pool.aclose()


async def test_an_event_stream_is_read_line_by_line_as_it_arrives() -> None:
    release = anyio.Event()
    async with _uvicorn(_app(release)) as base:
        pool = Http1Pool()
        try:
            seen: list[str] = []
            with anyio.fail_after(10):
                async with pool.post(f"{base}/events", b"{}", JSON) as response:
                    async for line in response.lines():
                        seen.append(line)
                        if line.startswith("data:") and "first" in line:
                            release.set()  # the server sends the rest only now: the first line came alone
            assert seen == ['data: {"first": true}', "", 'data: {"second": true}', ""]
        finally:
            await pool.aclose()


async def test_a_body_larger_than_the_buffer_limit_arrives_intact() -> None:
    async with _uvicorn(_app(anyio.Event())) as base:
        pool = Http1Pool()
        try:
            async with pool.post(f"{base}/large", b"{}", JSON) as response:
                body = await response.read()
            assert body == b"x" * (3 << 20)
            async with pool.post(f"{base}/echo", b"{}", JSON) as response:  # and the connection is still good
                assert json.loads(await response.read())["body"] == {}
        finally:
            await pool.aclose()


async def test_a_server_that_closes_after_answering_gets_a_fresh_connection_next_time() -> None:
    connections = 0

    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n")
        writer.write(b"content-length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    async with _raw_server(answer_then_close) as url:
        pool = Http1Pool()
        try:
            for _ in range(2):
                async with pool.post(url, b"{}", JSON) as response:
                    assert await response.read() == b"{}"
            assert connections == 2
        finally:
            await pool.aclose()


async def test_a_body_ended_by_the_close_itself_is_accepted() -> None:
    async def http10(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{"ok": 1}')
        await writer.drain()
        writer.close()

    async with _raw_server(http10) as url:
        pool = Http1Pool()
        try:
            async with pool.post(url, b"{}", JSON) as response:
                assert json.loads(await response.read()) == {"ok": 1}
        finally:
            await pool.aclose()


async def test_a_connection_cut_in_the_middle_of_the_body_is_an_error_not_a_short_answer() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"par')
        await writer.drain()
        writer.close()

    async with _raw_server(cut) as url:
        pool = Http1Pool()
        try:
            with pytest.raises(Http1Error, match=r"closed|lost"):
                async with pool.post(url, b"{}", JSON) as response:
                    await response.read()
            assert not pool._open, "a broken connection must not stay in the pool"
        finally:
            await pool.aclose()


async def test_garbage_instead_of_http_is_a_clear_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        await writer.drain()

    async with _raw_server(garbage) as url:
        pool = Http1Pool()
        try:
            with pytest.raises(Http1Error, match="malformed HTTP response"):
                async with pool.post(url, b"{}", JSON):
                    pass
        finally:
            await pool.aclose()


async def test_a_silent_server_times_out_and_its_connection_is_dropped() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()  # never answers; returns when the client gives up and closes

    async with _raw_server(silent) as url:
        pool = Http1Pool(read_timeout=0.2)
        try:
            with pytest.raises(Http1Error, match=r"no data from the upstream for 0\.2s"):
                async with pool.post(url, b"{}", JSON):
                    pass
            assert not pool._open
        finally:
            await pool.aclose()


async def test_a_caller_that_gives_up_closes_the_connection_it_was_waiting_on() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()

    async with _raw_server(silent) as url:
        pool = Http1Pool()
        try:
            with anyio.move_on_after(0.2) as scope:
                async with pool.post(url, b"{}", JSON):
                    pass
            assert scope.cancelled_caught
            assert not pool._open, "a connection with an answer still pending cannot be reused"
        finally:
            await pool.aclose()


async def test_a_refused_connection_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connecting is refused
        pool = Http1Pool()
        with pytest.raises(Http1Error, match=f"could not connect to 127.0.0.1:{port}"):
            async with pool.post(f"http://127.0.0.1:{port}/mcp", b"{}", JSON):
                pass


async def test_a_header_carrying_a_line_break_is_refused_before_anything_is_sent() -> None:
    received: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())

    async with _raw_server(record) as url:
        pool = Http1Pool()
        with pytest.raises(ValueError, match="line break"):
            async with pool.post(url, b"{}", {"mcp-name": "a\r\nx-evil: 1"}):
                pass
        await pool.aclose()
    assert received in ([], [b""])


async def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        async with Http1Pool().post("ftp://127.0.0.1/mcp", b"{}", JSON):
            pass


def _closes_a_reused_connection() -> tuple[Handler, list[int]]:
    """A server that answers a connection's first request and closes it when the second arrives.

    That is uvicorn's keep-alive timeout ending as the client reuses the connection, made exact.
    """
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        await _read_request(reader)
        writer.close()

    return handler, connections


async def test_a_safe_request_on_a_reused_connection_closed_before_the_answer_is_sent_once_more_on_a_new_one() -> None:
    handler, connections = _closes_a_reused_connection()
    async with _raw_server(handler) as url:
        pool = Http1Pool()
        try:
            for _ in range(2):
                async with pool.post(url, b"{}", JSON, replay=True) as response:
                    assert await response.read() == b"{}"
            assert len(connections) == 2
        finally:
            await pool.aclose()


async def test_an_unsafe_request_on_a_reused_connection_closed_before_the_answer_is_not_sent_again() -> None:
    handler, connections = _closes_a_reused_connection()
    async with _raw_server(handler) as url:
        pool = Http1Pool()
        try:
            async with pool.post(url, b"{}", JSON) as response:
                await response.read()
            with pytest.raises(Http1ClosedBeforeAnswer, match="closed the connection before answering"):
                async with pool.post(url, b"{}", JSON):
                    pass
            assert len(connections) == 1 and not pool._open
        finally:
            await pool.aclose()


async def test_a_new_connection_closed_before_the_answer_is_not_replayed_even_when_safe() -> None:
    connections = 0

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.close()  # e.g. a TLS server refusing the client certificate: sending again cannot help

    async with _raw_server(refuse) as url:
        pool = Http1Pool()
        try:
            with pytest.raises(Http1ClosedBeforeAnswer):
                async with pool.post(url, b"{}", JSON, replay=True):
                    pass
            assert connections == 1
        finally:
            await pool.aclose()


async def test_a_connection_idle_past_the_pools_limit_is_closed_instead_of_reused() -> None:
    async with _uvicorn(_app(anyio.Event())) as base:
        pool = Http1Pool(idle_limit=0.0)  # every idle connection is past the limit at once
        try:
            peers = []
            for _ in range(2):
                async with pool.post(f"{base}/echo", b"{}", JSON) as response:
                    peers.append(json.loads(await response.read())["peer"])
            assert peers[0] != peers[1]
            assert len(pool._open) == 1, "the stale connection must have been closed, not left open"
        finally:
            await pool.aclose()


def test_the_pool_gives_up_idle_connections_before_the_suites_servers_close_them() -> None:
    assert Http1Pool().idle_limit == CLIENT_IDLE_LIMIT_SECONDS < SERVER_KEEP_ALIVE_SECONDS
