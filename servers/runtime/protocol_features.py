"""What every server of the suite answers beyond its tools, installed by the runtime on both transports.

:func:`add_protocol_features` gives a built ``MCPServer``, whatever its package:

- ``logging/setLevel`` (the logging capability) honoured per session (:mod:`.log_level`);
- ``completion/complete`` (the completions capability) (:mod:`.completion`);
- ``resources/subscribe`` and ``resources/unsubscribe`` (``resources.subscribe``) for 2025-11-25
  sessions, fed by the same announcements as ``subscriptions/listen`` (:mod:`.resource_subscriptions`);
- ``prompts/get`` of an unknown prompt, or without a required argument, refused as invalid params
  (``-32602``); the SDK answers both as an internal error.

The SDK declares each capability from the handlers a server has, so adding the handler declares it.
"""

from __future__ import annotations

import weakref
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CompleteRequestParams,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

from servers.runtime.completion import completion_handler
from servers.runtime.log_level import LogLevelMiddleware, set_level
from servers.runtime.resource_subscriptions import ResourceSubscriptions
from servers.runtime.sdk_seams import bus_of, lowlevel_of

_installed: weakref.WeakSet[MCPServer[Any]] = weakref.WeakSet()


class PromptArgumentsMiddleware:
    """Refuse ``prompts/get`` of a prompt the server has not, or without a required argument, as ``-32602``."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "prompts/get" and ctx.params is not None and isinstance(ctx.params.get("name"), str):
            name = ctx.params["name"]
            prompt = next((p for p in await self.server.list_prompts() if p.name == name), None)
            if prompt is None:
                raise MCPError(INVALID_PARAMS, f"unknown prompt {name!r}; `prompts/list` names the prompts")
            given = ctx.params.get("arguments") or {}
            missing = [a.name for a in prompt.arguments or () if a.required and a.name not in given]
            if missing:
                raise MCPError(INVALID_PARAMS, f"prompt {name!r} needs the argument(s) {', '.join(missing)}")
        return await call_next(ctx)


NeutralToToolCalls = LogLevelMiddleware | PromptArgumentsMiddleware
"""The middleware above: neither changes a stateless ``tools/call``, so the fast path may stand in for them."""


def add_protocol_features(server: MCPServer[Any]) -> None:
    """Install the handlers above on ``server`` once (a second call changes nothing)."""
    if server in _installed:
        return
    _installed.add(server)
    lowlevel = lowlevel_of(server)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    if lowlevel.get_request_handler("completion/complete") is None:
        lowlevel.add_request_handler("completion/complete", CompleteRequestParams, completion_handler(server))
    if lowlevel.get_request_handler("resources/subscribe") is None:
        subscriptions = ResourceSubscriptions(bus_of(server))
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscriptions.subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, subscriptions.unsubscribe)
    server.middleware.append(LogLevelMiddleware())
    server.middleware.append(PromptArgumentsMiddleware(server))
