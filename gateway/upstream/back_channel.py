"""What a tool written for sessions needs when the gateway reaches it on the stateless wire.

Such a tool asks its client mid-call (``ctx.elicit``, ``create_message``, ``list_roots``); the
2026-07-28 wire has no channel for a server's own requests, so the upstream's SDK refuses with
``-32600`` at the first question. :class:`~gateway.upstream.mcp_client.ModernHttpUpstream` then runs
the call again over a session of its own, with the callbacks made here: each hands the server's
request to an :data:`Ask` (the gateway's own client, see :mod:`gateway.door.input_bridge`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mcp import types
from mcp.shared.exceptions import MCPError

# A server-to-client request (method, params) sent on to the gateway's own client; its raw answer.
Ask = Callable[[str, Mapping[str, Any] | None], Awaitable[dict[str, Any]]]

INPUT_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
_NO_BACK_CHANNEL = "no back-channel for server-initiated requests"


def wants_a_back_channel(code: int, message: str) -> bool:
    """The upstream's SDK refused a server-to-client request of the tool: the stateless wire has no channel."""
    return code == types.INVALID_REQUEST and _NO_BACK_CHANNEL in message


def first_leaf(group: BaseExceptionGroup[MCPError]) -> MCPError:
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def input_callbacks(ask: Ask, capabilities: Mapping[str, Any]) -> dict[str, Any]:
    """The SDK client's callbacks that hand each server request to ``ask``, one per declared capability."""

    async def elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        answer = await ask("elicitation/create", params.model_dump(by_alias=True, exclude_none=True, mode="json"))
        return types.ElicitResult.model_validate(answer)

    async def sample(_ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        answer = await ask("sampling/createMessage", params.model_dump(by_alias=True, exclude_none=True, mode="json"))
        return types.CreateMessageResult.model_validate(answer)

    async def roots(_ctx: Any) -> types.ListRootsResult:
        return types.ListRootsResult.model_validate(await ask("roots/list", None))

    chosen = {"elicitation": ("elicitation_callback", elicit), "sampling": ("sampling_callback", sample)}
    chosen["roots"] = ("list_roots_callback", roots)
    return {name: callback for capability, (name, callback) in chosen.items() if capability in capabilities}
