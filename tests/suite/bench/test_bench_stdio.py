"""The stdio bench's load generator keeps calls in flight on one pipe and tells answers apart by id."""

from __future__ import annotations

import sys

import anyio
import anyio.lowlevel
import pytest

from suite.bench import BENCHES
from suite.bench.stdio_client import CallFailed, StdioPeer

pytestmark = pytest.mark.anyio

# A line server that holds a call until the next one arrives, then answers the newer one first:
# answers come back out of step with the requests, so matching by id is what keeps them apart.
SERVER = r"""
import json, sys
held = None
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    if message["method"] == "initialize":
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"protocolVersion": "2025-11-25"}}), flush=True)
        continue
    args = message["params"]["arguments"]
    if args.get("fail"):
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"isError": True, "content": []}}), flush=True)
        continue
    if held is not None:  # answer the newer call first, then the one held before it
        for answered in (message, held):
            reply = {"jsonrpc": "2.0", "id": answered["id"], "result": {"echo": answered["params"]["arguments"]}}
            print(json.dumps(reply), flush=True)
        held = None
    elif args.get("last"):
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"echo": args}}), flush=True)
    else:
        held = message
"""


def test_the_bench_is_registered_by_name() -> None:
    assert BENCHES["stdio"] == "suite.bench.stdio"


async def test_answers_out_of_order_reach_the_call_that_asked() -> None:
    async with StdioPeer([sys.executable, "-c", SERVER], era="legacy") as peer:
        results: dict[int, dict[str, object]] = {}

        async def ask(n: int) -> None:
            results[n] = await peer.call_tool("echo", {"n": n, "last": n == 4})

        async with anyio.create_task_group() as tg:
            for n in range(5):
                tg.start_soon(ask, n)
                await anyio.lowlevel.checkpoint()
        assert {n: result["echo"]["n"] for n, result in results.items()} == {n: n for n in range(5)}  # type: ignore[index]


async def test_a_tool_error_fails_the_call() -> None:
    async with StdioPeer([sys.executable, "-c", SERVER], era="legacy") as peer:
        with pytest.raises(CallFailed, match="tool error"):
            await peer.call_tool("echo", {"fail": True})
