"""``resources/subscribe`` and ``resources/unsubscribe`` for 2025-11-25 sessions.

The SDK's ``MCPServer`` serves subscriptions only as the 2026-07-28 ``subscriptions/listen``: a
tool announces a change with ``ctx.notify_resource_updated(uri)``, which publishes on the server's
bus. :class:`ResourceSubscriptions` keeps each session's subscribed URIs in its connection state
and listens on the same bus, so that announcement also reaches a handshake-era subscriber as
``notifications/resources/updated``. Like ``subscriptions/listen``, a URI that names nothing (yet)
is honoured and never fires. The listener goes when the connection closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from servers.runtime.sdk_seams import connection_of

STATE_KEY = "mcp_suite.subscribed_uris"
MAX_SUBSCRIPTIONS = 1024
"""URIs one session may watch at once: an output budget for the notifications it can cause."""


class ResourceSubscriptions:
    """The two handlers, bridging the server's ``subscriptions/listen`` bus to session subscribers."""

    def __init__(self, bus: SubscriptionBus) -> None:
        self.bus = bus
        self._sending: set[asyncio.Task[None]] = set()  # held so a notification in flight is not collected

    def _uris(self, connection: Connection) -> set[str]:
        uris: set[str] | None = connection.state.get(STATE_KEY)
        if uris is not None:
            return uris
        watched: set[str] = set()
        connection.state[STATE_KEY] = watched

        def forward(event: ServerEvent) -> None:
            if isinstance(event, ResourceUpdated) and event.uri in watched:
                task = asyncio.get_running_loop().create_task(connection.send_resource_updated(event.uri))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

        connection.exit_stack.callback(self.bus.subscribe(forward))
        return watched

    async def subscribe(self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        uris = self._uris(connection_of(ctx.session))
        uri = str(params.uri)
        if uri not in uris and len(uris) >= MAX_SUBSCRIPTIONS:
            raise MCPError(
                INVALID_PARAMS,
                f"this session already watches {MAX_SUBSCRIPTIONS} resources; "
                "`resources/unsubscribe` some before subscribing to more",
            )
        uris.add(uri)
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        self._uris(connection_of(ctx.session)).discard(str(params.uri))
        return EmptyResult()
