"""Asking the user before a destructive tool runs: through elicitation when the client can answer
one, otherwise by the caller's own ``confirm`` argument."""

from __future__ import annotations

from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit
from pydantic import BaseModel

Answer = TypeVar("Answer", bound=BaseModel)


def ask_or_take(ctx: Context[Any, Any], question: str, answer: type[Answer], confirm: bool) -> Elicit[Answer] | Answer:
    """``question`` as an elicitation of ``answer`` (a model with a ``confirm`` field) when the client
    supports elicitation; else ``answer(confirm=confirm)``, the caller's argument deciding."""
    capabilities = ctx.client_capabilities
    if capabilities is not None and capabilities.elicitation is not None:
        return Elicit(question, answer)
    return answer(confirm=confirm)
