"""What a tool call needs around a model call: who is calling, and progress notifications of the text so far."""

from __future__ import annotations

import time
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context

from servers.aiml.service import OnText

ANONYMOUS = "anonymous"


def principal_of() -> str:
    """The caller whose budget is charged: the access token's client, else one shared ``anonymous`` budget."""
    token = get_access_token()
    return token.client_id if token is not None else ANONYMOUS


def progress_of(ctx: Context[Any, Any], total: int, interval: float) -> OnText:
    """Report the text so far as progress (tokens of ``total``): the first piece at once, then every ``interval``."""
    last = [0.0]

    async def report(text: str, tokens: int) -> None:
        now = time.monotonic()
        if tokens > 1 and now - last[0] < interval:
            return
        last[0] = now
        await ctx.report_progress(tokens, total, text)

    return report
