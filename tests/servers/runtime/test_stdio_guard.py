"""Over stdio a server refuses a line over its body limit, or one that is no JSON-RPC message, and goes on.

The end-to-end tests drive a real ``mcp-suite serve filesystem`` child process over its pipes; the
reader's edge cases (a line split across reads, one exactly at the limit) use an OS pipe.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from mesh.jsonrpc_envelope import INVALID_REQUEST, PARSE_ERROR, RpcProblem
from servers.runtime.definition import BodyLimit
from servers.runtime.stdio_guard import GuardedStdin

pytestmark = pytest.mark.anyio

MAX_WRITE_BYTES = 1024  # the filesystem's body limit follows it: 1 KiB x 3 for JSON escaping + 64 KiB envelope
LIMIT = MAX_WRITE_BYTES * 3 + 64 * 1024
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


class Pipes:
    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = BufferedByteReceiveStream(process.stdout)

    async def send(self, line: bytes) -> None:
        await self.stdin.send(line + b"\n")

    async def answer(self) -> dict[str, Any]:
        with anyio.fail_after(30):
            document: dict[str, Any] = json.loads(await self.stdout.receive_until(b"\n", 1 << 20))
        return document


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Pipes]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "note.txt").write_text("hello\n", encoding="utf-8")
    env = {
        **os.environ,
        "MCP_SUITE_FILESYSTEM__MAX_WRITE_BYTES": str(MAX_WRITE_BYTES),
        "MCP_SUITE_DATA_DIR": str(tmp_path / "data"),
        "MCP_SUITE_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "suite.cli", "serve", "filesystem", "--transport", "stdio", str(root)]
    async with await anyio.open_process(command, env=env, stderr=None) as process:
        pipes = Pipes(process)
        await pipes.send(json.dumps(INITIALIZE).encode())
        assert (await pipes.answer())["id"] == 1
        await pipes.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        try:
            yield pipes
        finally:
            await pipes.stdin.aclose()
            with anyio.fail_after(30):
                await process.wait()


async def still_serves(pipes: Pipes, request_id: int) -> None:
    await pipes.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/list"}).encode())
    answer = await pipes.answer()
    assert answer["id"] == request_id and any(t["name"] == "read_text_file" for t in answer["result"]["tools"])


async def test_a_line_over_the_body_limit_is_refused_naming_the_setting_and_the_server_goes_on(served: Pipes) -> None:
    text = "x" * (LIMIT + 10)
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "write_file", "arguments": {}}}
    call["params"]["arguments"] = {"path": "big.txt", "content": text}  # type: ignore[index]
    await served.send(json.dumps(call).encode())
    answer = await served.answer()
    assert answer["id"] is None and answer["error"]["code"] == INVALID_REQUEST
    assert answer["error"]["message"].startswith("too_large:")
    assert "filesystem.max_write_bytes" in answer["error"]["message"]
    await still_serves(served, 8)
    assert not (served.process.returncode is not None)


async def test_a_line_that_is_not_json_is_a_parse_error_and_the_server_goes_on(served: Pipes) -> None:
    await served.send(b'{"jsonrpc": "2.0", "id": 3, "method": ')
    answer = await served.answer()
    assert answer["error"]["code"] == PARSE_ERROR and answer["id"] is None
    await still_serves(served, 4)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"[1,2,3]", "batch"),
        (b'"hello"', "a string"),
        (b'{"jsonrpc":"1.0","id":5,"method":"ping"}', '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":[1]}', '"params" must be an object'),
    ],
)
async def test_json_that_is_not_one_message_is_an_invalid_request_and_the_server_goes_on(
    served: Pipes, line: bytes, words: str
) -> None:
    await served.send(line)
    answer = await served.answer()
    assert answer["error"]["code"] == INVALID_REQUEST and words in answer["error"]["message"]
    await still_serves(served, 6)


async def read_all(chunks: list[bytes], limit: int, chunk_bytes: int) -> tuple[list[str], list[RpcProblem]]:
    """What a guarded reader of a pipe yields and answers, for ``chunks`` written then closed."""
    read_fd, write_fd = os.pipe()
    refusals: list[RpcProblem] = []

    async def reply(problem: RpcProblem) -> None:
        refusals.append(problem)

    stdin = GuardedStdin(read_fd, BodyLimit(limit, "test.limit"), chunk_bytes=chunk_bytes)
    stdin.start(reply)
    try:
        with os.fdopen(write_fd, "wb") as writer:
            for chunk in chunks:
                writer.write(chunk)
        lines = [line async for line in stdin]
    finally:
        os.close(read_fd)
    return lines, refusals


async def test_a_line_at_the_limit_passes_and_one_byte_more_is_refused_across_small_reads() -> None:
    at_limit = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"' + b"a" * 10 + b'"}}'
    limit = len(at_limit)
    over = at_limit.replace(b"a" * 10, b"a" * 11)
    ping = b'{"jsonrpc":"2.0","id":2,"method":"ping"}'
    lines, refusals = await read_all([at_limit + b"\n", over + b"\n", b"\n", ping + b"\n"], limit, chunk_bytes=7)
    assert [json.loads(line)["id"] for line in lines] == [1, 2]
    assert [r.message.split(":")[0] for r in refusals] == ["too_large"]
    assert "test.limit" in refusals[0].message


async def test_an_unterminated_last_line_is_read_and_an_oversized_one_refused() -> None:
    ping = b'{"jsonrpc":"2.0","id":9,"method":"ping"}'
    assert (await read_all([ping], 1000, chunk_bytes=4))[0] == [ping.decode()]
    lines, refusals = await read_all([b"x" * 50], 10, chunk_bytes=4)
    assert lines == [] and [r.message.split(":")[0] for r in refusals] == ["too_large"]
