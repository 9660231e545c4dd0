"""Handshake-era calls and tools with a light Context take the stdio fast path and answer byte for byte as the SDK.

Each parity test sends the same lines through the runtime's transport and the SDK's and compares the
bytes that come back (:func:`~tests.servers.runtime.stdio_support.parity`); the ``fast_calls`` spy
tells which calls the shared fast path answered.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from tests.servers.runtime.stdio_support import (
    DEADLINE,
    INITIALIZED,
    META,
    OPENING,
    Gate,
    Transport,
    build_sample,
    call,
    parity,
    served,
)

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]


def initialize(version: str = "2025-11-25", capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {
        "protocolVersion": version,
        "capabilities": capabilities or {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


def handshake_call(
    tool: str, arguments: dict[str, Any] | None = None, *, request_id: int = 7, **meta: Any
) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool}
    if arguments is not None:
        params["arguments"] = arguments
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def by_id(lines: list[bytes]) -> dict[Any, dict[str, Any]]:
    return {message["id"]: message for message in map(json.loads, lines) if "id" in message}


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("lookup", {"key": 42}),
        ("lookup", {"key": 42, "label": "caf\u00e9 \U0001f600"}),
        ("add", {"a": 2, "b": 3}),
        ("big", {"size": 200_000}),
        ("refuse", None),
        ("crash", None),
        ("protocol_error", None),
        ("lookup", {"key": "not a number"}),
        ("lookup", {}),
        ("no_such_tool", {}),
    ],
)
async def test_a_handshake_era_call_answers_byte_for_byte_as_the_sdk_transport(
    tool: str, arguments: dict[str, Any] | None, fast_calls: list[str]
) -> None:
    lines = await parity([initialize(), INITIALIZED, handshake_call(tool, arguments)], 2)
    answer = by_id(lines)[7]
    assert "resultType" not in answer.get("result", {})  # a handshake-era answer, not the 2026-07-28 shape
    assert fast_calls == ([] if tool == "no_such_tool" else [tool])


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26", "2024-11-05"])
async def test_each_negotiated_handshake_version_is_answered_in_its_own_shape(
    version: str, fast_calls: list[str]
) -> None:
    lines = await parity([initialize(version), INITIALIZED, handshake_call("lookup", {"key": 3})], 2)
    assert by_id(lines)[1]["result"]["protocolVersion"] == version
    assert "content" in by_id(lines)[7]["result"]
    assert fast_calls == ["lookup"]


async def test_calls_before_initialize_and_enveloped_calls_stay_with_the_sdk(fast_calls: list[str]) -> None:
    early = [
        handshake_call("add", {"a": 1, "b": 2}, request_id=2),
        handshake_call("add", {"a": 3, "b": 4}, request_id=3),
    ]
    lines = await parity(early, 2)
    assert {answer["error"]["code"] for answer in by_id(lines).values()} == {-32602}  # the SDK's init gate
    lines = await parity([initialize(), INITIALIZED, call("add", {"a": 1, "b": 2}, request_id=4)], 2)
    assert by_id(lines)[4]["error"]["code"] == -32600
    assert fast_calls == []


async def test_a_call_with_a_progress_token_to_a_tool_without_context_takes_the_fast_path(
    fast_calls: list[str],
) -> None:
    lines = await parity([initialize(), INITIALIZED, handshake_call("add", {"a": 1, "b": 2}, progressToken="p")], 2)
    assert by_id(lines)[7]["result"]["structuredContent"] == {"result": 3}
    assert fast_calls == ["add"]


async def test_a_tool_with_an_undeclared_context_stays_with_the_sdk_and_its_progress_is_unchanged(
    fast_calls: list[str],
) -> None:
    lines = await parity([initialize(), INITIALIZED, handshake_call("counted", {"steps": 3}, progressToken=5)], 5)
    assert [json.loads(line).get("method") for line in lines].count("notifications/progress") == 3
    assert fast_calls == []


async def test_a_light_tool_reports_progress_and_logs_as_on_the_sdk_path_in_the_handshake_era(
    fast_calls: list[str],
) -> None:
    lines = await parity([initialize(), INITIALIZED, handshake_call("light", {"steps": 2}, progressToken="tok")], 6)
    methods = [json.loads(line).get("method") for line in lines]
    assert methods.count("notifications/progress") == 2 and methods.count("notifications/message") == 2
    assert by_id(lines)[7]["result"]["structuredContent"]["label"] == "2025-11-25 roots=False id=7"
    assert fast_calls == ["light"]


async def test_a_light_tool_honours_the_log_level_the_client_set(fast_calls: list[str]) -> None:
    set_level = {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "warning"}}
    async with served("runtime", build_sample(Gate())) as wire:
        for message in (initialize(), INITIALIZED, set_level):
            await wire.send(message)
        assert len(await wire.lines(2)) == 2  # initialize and setLevel answered: the level is set
        await wire.send(handshake_call("light", {"steps": 1}))
        lines = await wire.lines(2)
    logged = [json.loads(line)["params"]["level"] for line in lines if b"notifications/message" in line]
    assert logged == ["warning"]  # the info line is below the level
    assert fast_calls == ["light"]


async def test_a_light_tool_for_a_client_with_the_capability_it_names_stays_with_the_sdk(
    fast_calls: list[str],
) -> None:
    opening = initialize(capabilities={"roots": {"listChanged": True}})
    lines = await parity([opening, INITIALIZED, handshake_call("light", {"steps": 1})], 3)
    assert by_id(lines)[7]["result"]["structuredContent"]["label"] == "2025-11-25 roots=True id=7"
    modern: dict[str, Any] = {**META, "io.modelcontextprotocol/clientCapabilities": {"roots": {}}}
    lines = await parity([OPENING, call("light", {"steps": 1}, **modern)], 2)
    assert by_id(lines)[7]["result"]["structuredContent"]["label"] == "2026-07-28 roots=True id=7"
    assert fast_calls == []


async def test_a_light_tool_takes_the_fast_path_in_the_modern_era_with_the_same_messages(
    fast_calls: list[str],
) -> None:
    opted_in: dict[str, Any] = {"progressToken": 3, "io.modelcontextprotocol/logLevel": "info"}
    lines = await parity([OPENING, call("light", {"steps": 2}, **opted_in)], 6, await_opening=True)
    assert by_id(lines)[7]["result"]["structuredContent"]["label"] == "2026-07-28 roots=False id=7"
    lines = await parity([OPENING, call("light", {"steps": 1})], 2, await_opening=True)  # no log level: no log lines
    assert [json.loads(line).get("method") for line in lines] == [None, None]
    assert fast_calls == ["light", "light"]


@pytest.mark.parametrize("transport", ["runtime", "sdk"])
async def test_a_cancelled_handshake_era_call_is_stopped_and_never_answered(
    transport: Transport, fast_calls: list[str]
) -> None:
    gate = Gate()
    async with served(transport, build_sample(gate)) as wire:
        await wire.send(initialize())
        assert await wire.line() is not None
        await wire.send(INITIALIZED)
        await wire.send(handshake_call("slow", request_id=9))
        with anyio.fail_after(DEADLINE):
            await gate.started.wait()
        await wire.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}})
        with anyio.fail_after(DEADLINE):
            await gate.cancelled.wait()
        await wire.send(handshake_call("add", {"a": 4, "b": 5}, request_id=10))
        answered = await wire.line()
        wire.close_input()
        rest = await wire.rest()
    assert answered is not None and json.loads(answered)["id"] == 10
    assert rest == []
    assert fast_calls == (["slow", "add"] if transport == "runtime" else [])
