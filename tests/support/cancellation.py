"""Cancelling a long tool call from the client, and waiting for the server to stop writing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client

SETTLE_SECONDS = 30.0
POLL_SECONDS = 0.2


async def cancel_at_first_progress(client: Client, tool: str, arguments: dict[str, Any]) -> None:
    """Call ``tool`` and give up when its first progress notification arrives (``notifications/cancelled``).

    Raises:
        AssertionError: the call ended before any progress came, so nothing was cancelled.
    """
    with anyio.CancelScope() as scope:

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            scope.cancel()

        await client.call_tool(tool, arguments, progress_callback=on_progress)
    assert scope.cancelled_caught, f"{tool} answered before its first progress notification"


async def settled(read: Callable[[], Awaitable[int]]) -> int:
    """``read()`` once two readings in a row agree: the server stopped at a batch boundary (30 s at most)."""
    with anyio.fail_after(SETTLE_SECONDS):
        readings = [-1, -2]
        while readings[-1] != readings[-2]:
            await anyio.sleep(POLL_SECONDS)
            readings.append(await read())
    return readings[-1]
