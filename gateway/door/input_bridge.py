"""Input requests between eras: an upstream on the 2026-07-28 wire asks for input by answering
``InputRequiredResult``; a client of the 2025-11-25 era expects server-to-client requests instead.

For such a client the gateway plays the upstream's part: it sends each embedded request
(``elicitation/create``, ``sampling/createMessage``, ``roots/list``) to the client over its session,
then repeats the original request upstream with the answers and the echoed ``requestState``, for at
most :data:`MAX_ROUNDS` rounds. Clients of the 2026-07-28 era get the ``InputRequiredResult`` as it is.

An upstream tool written for sessions asks mid-call instead (``ctx.elicit``, ``create_message``), which
the stateless wire refuses. For a 2025-11-25 client :class:`ClientRelay` carries an ``ask`` that the
upstream connection uses to repeat such a call over a session of its own, sending each of the tool's
requests to the client and its answers back (:meth:`ModernHttpUpstream.request
<gateway.upstream.mcp_client.ModernHttpUpstream.request>`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from pydantic import BaseModel, TypeAdapter, ValidationError

MAX_ROUNDS = 8

_SERVER_REQUEST = TypeAdapter(types.ServerRequest)
_RESULT_TYPES: dict[str, type[BaseModel]] = {
    "elicitation/create": types.ElicitResult,
    "sampling/createMessage": types.CreateMessageResult,
    "roots/list": types.ListRootsResult,
}

Forward = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def needs_bridge(ctx: ServerRequestContext[Any], result: Mapping[str, Any]) -> bool:
    """An input-required answer that this client, of the handshake era, cannot take as it is."""
    return result.get("resultType") == "input_required" and not ctx.protocol_version.startswith("2026")


async def ask_client(ctx: ServerRequestContext[Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Send one embedded input request to the client as a server-to-client request; its raw answer."""
    method = str(request.get("method", ""))
    result_type = _RESULT_TYPES.get(method)
    if result_type is None:
        raise MCPError(types.INVALID_REQUEST, f"the upstream asked for unsupported input {method!r}")
    try:
        typed = _SERVER_REQUEST.validate_python({"method": method, "params": request.get("params")})
    except ValidationError as exc:
        raise MCPError(
            types.INVALID_REQUEST, f"the upstream's {method} request is malformed: {exc.errors()[0]['msg']}"
        ) from None
    related = str(ctx.request_id) if ctx.request_id is not None else None
    answer = await ctx.session.send_request(
        typed, result_type, metadata=ServerMessageMetadata(related_request_id=related)
    )
    return answer.model_dump(by_alias=True, exclude_none=True, mode="json")


class ClientRelay:
    """The ``notify`` of one forwarded request; for a 2025-11-25 client also its ``ask``.

    ``ask`` is None when the client has no session to be asked over (the 2026-07-28 era).
    """

    def __init__(
        self, notify: Callable[[dict[str, Any]], Awaitable[None]], ctx: ServerRequestContext[Any] | None
    ) -> None:
        self._notify = notify
        self._ctx = ctx
        self.ask: Callable[[str, Mapping[str, Any] | None], Awaitable[dict[str, Any]]] | None = (
            self._ask if ctx is not None else None
        )

    async def __call__(self, message: dict[str, Any]) -> None:
        await self._notify(message)

    async def _ask(self, method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        assert self._ctx is not None
        return await ask_client(self._ctx, {"method": method, "params": dict(params or {})})


async def complete_for_legacy_client(
    ctx: ServerRequestContext[Any], params: Mapping[str, Any], result: dict[str, Any], forward: Forward
) -> dict[str, Any]:
    """Drive the input rounds on the client's behalf until the upstream gives its final result."""
    rounds = 0
    while needs_bridge(ctx, result):
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise MCPError(types.INTERNAL_ERROR, f"the upstream still asked for input after {MAX_ROUNDS} rounds")
        responses = {
            key: await ask_client(ctx, request) for key, request in (result.get("inputRequests") or {}).items()
        }
        retry = {key: value for key, value in params.items() if key not in ("inputResponses", "requestState")}
        if responses:
            retry["inputResponses"] = responses
        if result.get("requestState") is not None:
            retry["requestState"] = result["requestState"]
        result = await forward(retry)
    return result
