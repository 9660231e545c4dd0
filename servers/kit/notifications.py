"""What a tool tells its client while and after it works: progress, and which resources changed.

``progress_reporter(ctx)`` is the ``(done, total, message)`` callable a long write reports through
(a notification only when the client sent a progress token); ``announce_change(ctx, uri)`` tells
``subscriptions/listen`` streams that a resource changed, and that the resource list changed when a
resource was created or deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context

Progress = Callable[[float, float | None, str], Awaitable[None]]


def progress_reporter(ctx: Context[Any, Any]) -> Progress:
    async def report(done: float, total: float | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report


async def announce_change(ctx: Context[Any, Any], uri: str, listing: bool = False) -> None:
    await ctx.notify_resource_updated(uri)
    if listing:
        await ctx.notify_resources_changed()
