"""stdin and stdout go on the event loop only when both are pipes or sockets of their own."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from servers.runtime.stdio_pipes import PipeReader, PipeWriter, loop_pipe_capable

pytestmark = pytest.mark.anyio


@pytest.fixture
def pipes() -> Iterator[tuple[int, int, int, int]]:
    """Two pipes: (stdin read end, its write end, stdout read end, its write end)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    yield in_r, in_w, out_r, out_w
    for fd in (in_r, in_w, out_r, out_w):
        os.close(fd)


def test_two_pipes_of_their_own_go_on_the_loop(pipes: tuple[int, int, int, int]) -> None:
    in_r, in_w, _, out_w = pipes
    assert loop_pipe_capable(in_r, out_w, err_fd=in_w)  # stderr elsewhere: here the other pipe


def test_a_socket_pair_goes_on_the_loop() -> None:
    left, right = socket.socketpair()
    with left, right:
        err_r, err_w = os.pipe()
        try:
            assert loop_pipe_capable(left.fileno(), right.fileno(), err_fd=err_w)
        finally:
            os.close(err_r)
            os.close(err_w)


def test_a_file_as_stdin_keeps_the_sdk_transport(tmp_path: Path, pipes: tuple[int, int, int, int]) -> None:
    _, in_w, _, out_w = pipes
    path = tmp_path / "requests.jsonl"
    path.write_text("{}\n")
    with path.open("rb") as requests:
        assert not loop_pipe_capable(requests.fileno(), out_w, err_fd=in_w)


def test_stdout_on_the_same_pipe_as_stderr_keeps_the_sdk_transport(pipes: tuple[int, int, int, int]) -> None:
    in_r, _, _, out_w = pipes
    assert not loop_pipe_capable(in_r, out_w, err_fd=out_w)


def test_a_closed_descriptor_keeps_the_sdk_transport(pipes: tuple[int, int, int, int]) -> None:
    in_r, in_w, _, out_w = pipes
    closed = os.dup(out_w)
    os.close(closed)
    assert not loop_pipe_capable(in_r, closed, err_fd=in_w)


async def test_lines_written_while_the_reader_lags_arrive_whole_and_in_order(pipes: tuple[int, int, int, int]) -> None:
    _, _, out_r, out_w = pipes
    writer = await PipeWriter.open(out_w)
    reader = await PipeReader.open(out_r)
    lines = [bytes([65 + index]) * size for index, size in enumerate((10, 200_000, 3, 70_000, 1))]
    received = bytearray()
    expected = b"".join(line + b"\n" for line in lines)

    async def read_all() -> None:
        while len(received) < len(expected):
            received.extend(await reader.read_chunk())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all)
            for line in lines:
                await writer.write_line(line)
    assert bytes(received) == expected
    await writer.aclose()
    reader.close()


async def test_small_lines_written_in_one_loop_turn_go_out_in_one_write_and_in_order(
    pipes: tuple[int, int, int, int],
) -> None:
    _, _, out_r, out_w = pipes
    writer = await PipeWriter.open(out_w)
    transport = writer._protocol.transport
    assert transport is not None
    writes: list[bytes] = []

    class CountingTransport:
        def __getattr__(self, name: str) -> Any:
            return getattr(transport, name)

        def write(self, data: bytes) -> None:
            writes.append(bytes(data))
            transport.write(data)

    writer._protocol.transport = CountingTransport()  # type: ignore[assignment]
    lines = [f"answer {index}".encode() for index in range(8)]
    async with anyio.create_task_group() as tg:  # eight concurrent answers, as eight calls finishing together
        for line in lines:
            tg.start_soon(writer.write_line, line)
    with anyio.fail_after(10):
        await writer.aclose()
    assert writes == [b"".join(line + b"\n" for line in lines)]
    assert os.read(out_r, 1 << 16) == writes[0]


async def test_a_large_line_goes_out_after_the_small_ones_written_before_it(pipes: tuple[int, int, int, int]) -> None:
    _, _, out_r, out_w = pipes
    writer = await PipeWriter.open(out_w)
    reader = await PipeReader.open(out_r)
    small, large = b"small", b"L" * 100_000
    received = bytearray()
    expected = small + b"\n" + large + b"\n"

    async def read_all() -> None:
        while len(received) < len(expected):
            received.extend(await reader.read_chunk())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all)
            tg.start_soon(writer.write_line, small)
            tg.start_soon(writer.write_line, large)
    assert bytes(received) == expected
    await writer.aclose()
    reader.close()
