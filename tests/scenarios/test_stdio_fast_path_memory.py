"""The memory server over stdio answers alike with the fast path on and off, and a subscriber still hears of writes.

A handshake-era session (what Claude Desktop and Claude Code speak) subscribes to the graph, writes,
reads and deletes, one call at a time; each transport serves a fresh SQLite store, so the ids and
versions agree and the bytes can be compared whole (none of these calls answers with a time).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer

from servers.memory.server import build_server
from servers.runtime.protocol_features import add_protocol_features
from tests.servers.memory.support import entity, relation, suite_settings
from tests.servers.runtime.stdio_support import INITIALIZED, Transport, served, spy_fast_calls

pytestmark = pytest.mark.anyio

NAMESPACE = "stdio"
GRAPH = f"memory://{NAMESPACE}/graph"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def builder(tmp_path: Path) -> Callable[[], MCPServer[Any]]:
    """A memory server on a store of its own each time it is called."""
    numbers = itertools.count()

    def build() -> MCPServer[Any]:
        settings = suite_settings("sqlite", tmp_path / f"store-{next(numbers)}", default_namespace=NAMESPACE)
        server = build_server(settings)
        add_protocol_features(server)  # resources/subscribe for handshake-era sessions, as `mcp-suite serve` does
        return server

    return build


def request(request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def tool_call(request_id: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return request(request_id, "tools/call", {"name": tool, "arguments": arguments})


MESSAGES: list[dict[str, Any]] = [
    request(
        1,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    ),
    INITIALIZED,
    request(2, "resources/subscribe", {"uri": GRAPH}),
    tool_call(10, "create_entities", {"entities": [entity("ada", "person", "wrote notes"), entity("engine")]}),
    tool_call(11, "create_relations", {"relations": [relation("ada", "engine", "programmed")]}),
    tool_call(12, "add_observations", {"observations": [{"entityName": "ada", "contents": ["liked poetry"]}]}),
    tool_call(13, "add_observations", {"observations": [{"entityName": "nobody", "contents": ["x"]}]}),
    tool_call(14, "search_nodes", {"query": "poetry"}),
    tool_call(15, "open_nodes", {"names": ["ada"]}),
    tool_call(16, "recall", {"query": "ada notes"}),
    tool_call(17, "delete_entities", {"entityNames": ["engine"]}),
    tool_call(18, "read_graph", {}),
]


async def conversation(transport: Transport, build: Callable[[], MCPServer[Any]], messages: Sequence[Any]) -> list[Any]:
    """Each message in turn, a request's answer awaited before the next is sent; every line that came back."""
    lines: list[bytes] = []
    async with served(transport, build()) as wire:
        for message in messages:
            await wire.send(message)
            while "id" in message:
                line = await wire.line()
                assert line is not None, f"the server closed before answering {message['id']}"
                lines.append(line)
                if json.loads(line).get("id") == message["id"]:
                    break
        wire.close_input()
        lines += await wire.rest()
    return [json.loads(line) for line in lines]


async def test_memory_tools_answer_alike_over_stdio_with_and_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = spy_fast_calls(monkeypatch)
    build = builder(tmp_path)
    ours = await conversation("runtime", build, MESSAGES)
    sdks = await conversation("sdk", build, MESSAGES)
    key = json.dumps  # the order of a notification and the answer beside it may differ
    assert sorted(map(key, ours)) == sorted(map(key, sdks))
    assert fast == [m["params"]["name"] for m in MESSAGES if m.get("method") == "tools/call"]
    answers = {line["id"]: line["result"] for line in ours if "id" in line}
    assert answers[13]["isError"] is True and answers[13]["content"][0]["text"].startswith("not_found: ")
    assert [e["name"] for e in answers[18]["structuredContent"]["entities"]] == ["ada"]
    updates = [line["params"]["uri"] for line in ours if line.get("method") == "notifications/resources/updated"]
    assert updates.count(GRAPH) == 4  # one per write that changed something: 10, 11, 12 and 17
