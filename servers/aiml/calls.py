"""What a tool call needs around a model call: who is calling, and progress notifications of the text so far."""

from __future__ import annotations

import time
from typing import Any

from mcp.server.mcpserver import Context

from servers.aiml.service import AimlService, OnText
from servers.kit.principal import principal_of


def caller_of(ctx: Context[Any, Any], service: AimlService) -> str:
    """The principal whose budget the call charges: the verified token's subject, the gateway's forwarded
    principal when ``aiml.trust_forwarded_principal`` is on, else ``aiml.default_principal``."""
    return principal_of(ctx, service.settings)


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
