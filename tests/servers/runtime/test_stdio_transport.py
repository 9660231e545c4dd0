"""The runtime's stdio transport answers as the SDK's stdio transport does, and qualifying calls take the fast path.

Each parity test serves the same server twice over real pipes, once through the runtime's transport
(``serve_stdio_pipes``) and once through the SDK's (``serve_stdio_sdk``), sends the same lines and
compares the bytes that come back. A spy on the shared fast path tells which path answered.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp_types import CONNECTION_CLOSED

from tests.servers.runtime.stdio_support import (
    DEADLINE,
    INITIALIZE,
    INITIALIZED,
    LIMIT,
    OPENING,
    Gate,
    Transport,
    build_sample,
    call,
    parity,
    served,
)

pytestmark = pytest.mark.anyio


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


async def test_the_opening_request_and_enveloped_calls_on_a_handshake_connection_stay_on_the_sdk_path(
    fast_calls: list[str],
) -> None:
    lines = await parity([INITIALIZE, INITIALIZED, call("lookup", {"key": 1}, request_id=3)], 2)
    by_id = {json.loads(line)["id"]: json.loads(line) for line in lines}
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


async def test_a_call_that_swallows_its_cancellation_at_end_of_input_is_still_answered_connection_closed_once(
    fast_calls: list[str],
) -> None:
    gate = Gate()
    async with served("runtime", build_sample(gate), grace=0.2) as wire:
        await wire.send(OPENING)
        assert await wire.line() is not None
        await wire.send(call("stubborn", request_id=9))
        with anyio.fail_after(DEADLINE):
            await gate.started.wait()
        wire.close_input()
        rest = await wire.rest()
    assert gate.cancelled.is_set()
    assert fast_calls == ["stubborn"]
    assert [json.loads(line) for line in rest] == [
        {"jsonrpc": "2.0", "id": 9, "error": {"code": CONNECTION_CLOSED, "message": "Connection closed"}}
    ]


async def test_with_the_fast_path_off_every_call_takes_the_sdk_path(fast_calls: list[str]) -> None:
    async with served("runtime", build_sample(Gate()), fast_path=False) as wire:
        await wire.send(OPENING)
        await wire.send(call("lookup", {"key": 3}))
        lines = await wire.lines(2)
    assert fast_calls == []
    answers = {answer["id"]: answer for answer in map(json.loads, lines)}  # the SDK may answer in either order
    assert answers[7]["result"]["structuredContent"]["key"] == 3


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


async def test_a_call_whose_envelope_differs_from_an_accepted_one_is_answered_as_the_sdk_answers_it(
    fast_calls: list[str],
) -> None:
    good = call("lookup", {"key": 1}, request_id=2)
    odd_info = call(
        "lookup", {"key": 2}, request_id=3, **{"io.modelcontextprotocol/clientInfo": {"name": "t", "version": 1}}
    )
    no_capabilities = call("lookup", {"key": 3}, request_id=4)
    del no_capabilities["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    again = call("lookup", {"key": 4}, request_id=5)
    lines = await parity([OPENING, good, odd_info, no_capabilities, again], 5)
    answers = {json.loads(line)["id"]: json.loads(line) for line in lines}
    assert "result" in answers[2] and "result" in answers[5]
    assert "error" in answers[3] and "error" in answers[4]
    assert fast_calls == ["lookup", "lookup"]  # the two refused envelopes went to the SDK
