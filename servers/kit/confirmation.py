"""Asking the user before a destructive tool runs: through elicitation when the client can answer
one, otherwise by the caller's own ``confirm`` argument."""

from __future__ import annotations

from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit
from pydantic import BaseModel, Field

Answer = TypeVar("Answer", bound=BaseModel)


def ask_or_take(ctx: Context[Any, Any], question: str, answer: type[Answer], confirm: bool) -> Elicit[Answer] | Answer:
    """``question`` as an elicitation of ``answer`` (a model with a ``confirm`` field) when the client
    supports elicitation; else ``answer(confirm=confirm)``, the caller's argument deciding."""
    capabilities = ctx.client_capabilities
    if capabilities is not None and capabilities.elicitation is not None:
        return Elicit(question, answer)
    return answer(confirm=confirm)


class DeletionConfirmation(BaseModel):
    confirm: bool = Field(description="true deletes it and every document in it")


def ask_to_delete(
    ctx: Context[Any, Any], what: str, backend: str | None, confirm: bool
) -> Elicit[DeletionConfirmation] | DeletionConfirmation:
    """Whether to delete ``what`` (such as ``the collection 'notes'``) on ``backend`` and every document in it."""
    where = f" on backend {backend!r}" if backend else ""
    question = f"Delete {what}{where} and every document in it? This cannot be undone."
    return ask_or_take(ctx, question, DeletionConfirmation, confirm)
