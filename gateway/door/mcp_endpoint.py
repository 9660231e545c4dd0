"""One MCP endpoint of the gateway: a low-level SDK server over one :class:`~gateway.call.catalog.View`.

It lists the catalog (paginated across upstreams), forwards calls through the router, relays the
upstream's progress and log notifications on the caller's request stream (a 2025-11-25 client's
``logging/setLevel`` travels upstream as the per-request ``logLevel`` of the 2026-07-28 wire),
passes the client's capabilities upstream so input requests (elicitation, sampling, roots) reach
the real client, and tells its clients when the lists change: ``subscriptions/listen`` streams on
the 2026-07-28 wire, ``notifications/*/list_changed`` on the sessions of the 2025-11-25 era.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from mcp import types
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from gateway.call.catalog import Catalog, View, paginate
from gateway.call.guard import CallGuard
from gateway.call.router import GatewayError
from gateway.call.service import GATEWAY_INFO, Gateway
from gateway.door.input_bridge import ClientRelay, complete_for_legacy_client, needs_bridge
from gateway.upstream.mcp_client import UpstreamError
from mesh.security.principal import Principal, forwarding_principal

log = logging.getLogger("mcp_suite.gateway.endpoint")

_RESERVED_META = "io.modelcontextprotocol/"
# A handshake-era server may log at any level until the client sets one; the gateway asks its
# upstreams (stateless, silent unless asked) for the same.
_LEGACY_DEFAULT_LEVEL = "debug"


def _wire(params: BaseModel | None) -> dict[str, Any]:
    if params is None:
        return {}
    data = params.model_dump(by_alias=True, exclude_none=True, mode="json")
    meta = data.get("_meta")
    if isinstance(meta, dict):
        # The client's own log level is the one reserved key that means the same upstream.
        kept = {k: v for k, v in meta.items() if not k.startswith(_RESERVED_META) or k == types.LOG_LEVEL_META_KEY}
        if kept:
            data["_meta"] = kept
        else:
            data.pop("_meta")
    return data


def _client_capabilities(ctx: ServerRequestContext[Any]) -> dict[str, Any]:
    caps = ctx.session.client_capabilities
    return caps.model_dump(by_alias=True, exclude_none=True, mode="json") if caps is not None else {}


def _as_mcp_error(exc: Exception) -> MCPError:
    if isinstance(exc, UpstreamError):
        return MCPError(exc.code, exc.message, exc.data)
    if isinstance(exc, GatewayError):
        return MCPError(exc.code, exc.message, exc.data or None)
    return MCPError(types.INTERNAL_ERROR, "internal gateway error")


class GatewayServer(Server[Any]):
    """The SDK server of an endpoint: it tells clients of both eras when its lists change.

    ``resources.subscribe`` is mirrored: advertised only while some upstream supports it.
    """

    subscribable: Callable[[], bool] = staticmethod(lambda: False)

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        capabilities = super().get_capabilities(
            notification_options, experimental_capabilities, extensions, protocol_version=protocol_version
        )
        if capabilities.resources is not None:
            resources = capabilities.resources.model_copy(update={"subscribe": self.subscribable()})
            capabilities = capabilities.model_copy(update={"resources": resources})
        return capabilities

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
            experimental_capabilities,
            extensions,
        )


class Endpoint:
    """The SDK server for one view, and the clients it must tell about list changes."""

    def __init__(
        self, gateway: Gateway, view: View, guard: CallGuard | None = None, *, principal: Principal | None = None
    ) -> None:
        """``principal``: who every request acts as (the stdio session); None = the HTTP request's own."""
        self.gateway = gateway
        self.view = view
        self.guard = guard or CallGuard(gateway)
        self.principal = principal
        self.bus = InMemorySubscriptionBus()
        self._connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._log_levels: weakref.WeakKeyDictionary[Connection, str] = weakref.WeakKeyDictionary()
        self._subscribers: dict[str, weakref.WeakKeyDictionary[Connection, weakref.finalize[Any, Any]]] = {}
        self._listen = ListenHandler(self.bus)
        self.server: Server[Any] = GatewayServer(
            GATEWAY_INFO["name"],
            version=GATEWAY_INFO["version"],
            instructions=self._instructions(),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_completion=self._complete,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=self._listen_with_upstream,
            on_set_logging_level=self._set_logging_level,
        )
        self.server.subscribable = self._subscribable
        gateway.subscribe(self._catalog_changed)
        gateway.events.on_resource_updated(self._resource_updated)

    def _instructions(self) -> str:
        if self.view.kind == "server":
            return f"The {self.view.name} server of mcp-suite, through the gateway."
        if self.view.kind == "supervisor":
            return f"The {self.view.name} supervisor of mcp-suite: tools are named <server>_<tool>."
        return "mcp-suite: every server's tools as <server>_<tool>; gateway_status shows instance health."

    def _remember(self, ctx: ServerRequestContext[Any]) -> None:
        """Keep the client's connection (weakly) to tell it of list changes; modern clients listen instead."""
        if not ctx.protocol_version.startswith("2026"):
            self._connections.add(ctx.session._connection)

    # ---- logging -------------------------------------------------------------------------
    async def _set_logging_level(
        self, ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """Remember the session's level; every request it makes upstream carries it from now on."""
        self._log_levels[ctx.session._connection] = params.level
        return types.EmptyResult()

    def _with_log_level(self, ctx: ServerRequestContext[Any], wire: dict[str, Any]) -> dict[str, Any]:
        """``wire`` asking upstream for the log messages a 2025-11-25 session expects to receive."""
        if ctx.protocol_version.startswith("2026"):
            return wire  # a modern client says so itself, per request (kept by _wire)
        level = self._log_levels.get(ctx.session._connection, _LEGACY_DEFAULT_LEVEL)
        return {**wire, "_meta": {**(wire.get("_meta") or {}), types.LOG_LEVEL_META_KEY: level}}

    # ---- who is asking --------------------------------------------------------------------
    def _who(self, ctx: ServerRequestContext[Any]) -> Principal | None:
        """The caller's principal: the endpoint's own (stdio), else from the HTTP request's scope."""
        if self.principal is not None:
            return self.principal
        return self.guard.principal(getattr(ctx.request, "scope", None))

    def _allow(self, ctx: ServerRequestContext[Any], kind: Any, name: str, server: str) -> None:
        try:
            self.guard.check(self._who(ctx), kind, name, server)
        except GatewayError as exc:
            raise _as_mcp_error(exc) from None

    # ---- lists ---------------------------------------------------------------------------
    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        self._remember(ctx)
        page, cursor = self._page(self.guard.list_tools(self._who(ctx), self.gateway.catalog, self.view), params)
        return types.ListToolsResult.model_validate({"tools": page, "nextCursor": cursor})

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        self._remember(ctx)
        page, cursor = self._page(self.guard.list_prompts(self._who(ctx), self.gateway.catalog, self.view), params)
        return types.ListPromptsResult.model_validate({"prompts": page, "nextCursor": cursor})

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        self._remember(ctx)
        page, cursor = self._page(self.guard.list_resources(self._who(ctx), self.gateway.catalog, self.view), params)
        return types.ListResourcesResult.model_validate({"resources": page, "nextCursor": cursor})

    async def _list_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        self._remember(ctx)
        page, cursor = self._page(self.guard.list_templates(self._who(ctx), self.gateway.catalog, self.view), params)
        return types.ListResourceTemplatesResult.model_validate({"resourceTemplates": page, "nextCursor": cursor})

    @staticmethod
    def _page(
        items: list[dict[str, Any]], params: types.PaginatedRequestParams | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        try:
            return paginate(items, params.cursor if params else None)
        except ValueError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None

    # ---- forwarding ----------------------------------------------------------------------
    def _relay(self, ctx: ServerRequestContext[Any]) -> ClientRelay:
        session = ctx.session
        related = str(ctx.request_id) if ctx.request_id is not None else None

        async def notify(message: dict[str, Any]) -> None:
            method = message.get("method")
            params = message.get("params") or {}
            try:
                if method == "notifications/progress" and "progressToken" in params:
                    await session.send_progress_notification(
                        params["progressToken"],
                        float(params.get("progress", 0)),
                        params.get("total"),
                        params.get("message"),
                        related_request_id=related,
                    )
                elif method == "notifications/message":
                    await session.send_log_message(
                        params.get("level", "info"),
                        params.get("data"),
                        params.get("logger"),
                        related_request_id=related,
                    )
            except Exception as exc:  # a client that went away must not fail the upstream call
                log.debug("relaying a notification failed", extra={"error": str(exc)})

        return ClientRelay(notify, None if ctx.protocol_version.startswith("2026") else ctx)

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        self._remember(ctx)
        notify = self._relay(ctx)
        capabilities = _client_capabilities(ctx)

        async def forward(wire: dict[str, Any]) -> dict[str, Any]:
            return await self.guard.acting_for(self._who(ctx)).call_tool(
                self.view, params.name, wire, notify=notify, client_capabilities=capabilities
            )

        wire = self._with_log_level(ctx, _wire(params))
        try:
            result = await forward(wire)
            if needs_bridge(ctx, result):
                result = await complete_for_legacy_client(ctx, wire, result, forward)
        except (GatewayError, UpstreamError) as exc:
            raise _as_mcp_error(exc) from None
        if result.get("resultType") == "input_required":
            return types.InputRequiredResult.model_validate(result)
        return types.CallToolResult.model_validate(result)

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        uri = str(params.uri)
        server = self.gateway.catalog.resource_server(uri)
        if server is None or not self.gateway.catalog.server_visible(self.view, server):
            raise MCPError(
                types.INVALID_PARAMS,
                f"no server offers resource {uri}; list resources and resource templates to see what is offered",
                {"uri": uri},  # SEP-2164: the error names the URI it could not find
            )
        self._allow(ctx, "resource", uri, server)
        result = await self._forward(ctx, server, "resources/read", _wire(params))
        if result.get("resultType") == "input_required":
            return types.InputRequiredResult.model_validate(result)
        return types.ReadResourceResult.model_validate(result)

    async def _get_prompt(self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams) -> Any:
        entry = self.gateway.catalog.prompt(self.view, params.name)
        if entry is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown prompt {params.name!r}; list prompts to see what is offered")
        self._allow(ctx, "prompt", entry.gateway_name, entry.server)
        result = await self._forward(ctx, entry.server, "prompts/get", {**_wire(params), "name": entry.name})
        if result.get("resultType") == "input_required":
            return types.InputRequiredResult.model_validate(result)
        return types.GetPromptResult.model_validate(result)

    async def _complete(
        self, ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        wire = _wire(params)
        ref = dict(wire.get("ref") or {})
        server: str | None
        if ref.get("type") == "ref/prompt":
            entry = self.gateway.catalog.prompt(self.view, str(ref.get("name", "")))
            server = entry.server if entry else None
            if entry is not None:
                ref["name"] = entry.name
        else:
            server = self.gateway.catalog.resource_server(str(ref.get("uri", "")))
        if server is None:
            return types.CompleteResult.model_validate({"completion": {"values": []}})
        if ref.get("type") == "ref/prompt":
            self._allow(ctx, "prompt", f"{server}_{ref.get('name', '')}", server)  # ref names the upstream prompt now
        else:
            self._allow(ctx, "resource", str(ref.get("uri", "")), server)
        result = await self._forward(ctx, server, "completion/complete", {**wire, "ref": ref})
        return types.CompleteResult.model_validate(result)

    async def _forward(
        self, ctx: ServerRequestContext[Any], server: str, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._remember(ctx)
        notify = self._relay(ctx)
        capabilities = _client_capabilities(ctx)

        principal = self._who(ctx)

        async def forward(wire: dict[str, Any]) -> dict[str, Any]:
            return await self.gateway.forward_to_server(
                self.view,
                server,
                method,
                forwarding_principal(wire, principal),
                notify=notify,
                client_capabilities=capabilities,
            )

        params = self._with_log_level(ctx, params)
        try:
            result = await forward(params)
            if needs_bridge(ctx, result):
                result = await complete_for_legacy_client(ctx, params, result, forward)
            return result
        except (GatewayError, UpstreamError) as exc:
            raise _as_mcp_error(exc) from None

    # ---- resource subscriptions ----------------------------------------------------------
    def _subscribable(self) -> bool:
        catalog = self.gateway.catalog
        return any(
            self.gateway.subscribable(server)
            for server in self.gateway.pools
            if catalog.server_visible(self.view, server)
        )

    def _subscribable_server(self, uri: str) -> str:
        server = self.gateway.catalog.resource_server(uri)
        if server is None or not self.gateway.catalog.server_visible(self.view, server):
            raise MCPError(
                types.INVALID_PARAMS,
                f"no server offers resource {uri}; list resources and resource templates to see what is offered",
            )
        if not self.gateway.subscribable(server):
            raise MCPError(
                types.METHOD_NOT_FOUND,
                f"the {server} server does not support resource subscriptions; read {uri} again to see changes",
            )
        return server

    async def _subscribe(
        self, ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        uri = str(params.uri)
        server = self._subscribable_server(uri)
        self._allow(ctx, "resource", uri, server)
        connection = ctx.session._connection
        subscribers = self._subscribers.setdefault(uri, weakref.WeakKeyDictionary())
        if connection not in subscribers:
            # A client that goes away without unsubscribing releases its interest with its connection.
            subscribers[connection] = weakref.finalize(connection, self.gateway.events.unsubscribe, server, uri)
            await self.gateway.events.subscribe(server, uri)
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        uri = str(params.uri)
        connection = ctx.session._connection
        subscribers = self._subscribers.get(uri)
        release = subscribers.pop(connection, None) if subscribers is not None else None
        if release is not None:
            release()  # runs the unsubscribe now, and never again
        return types.EmptyResult()

    async def _listen_with_upstream(
        self, ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """``subscriptions/listen``: subscribe upstream to the URIs asked for, for as long as the stream lasts."""
        held: list[tuple[str, str]] = []
        try:
            for uri in params.notifications.resource_subscriptions or ():
                server = self.gateway.catalog.resource_server(uri)
                if server is None or not self.gateway.catalog.server_visible(self.view, server):
                    continue  # like a server, honour it: an update for an unknown URI simply never comes
                if not self.guard.allows(self._who(ctx), "resource", uri, server):
                    continue  # nor for one the caller may not read
                if self.gateway.subscribable(server):
                    held.append((server, uri))
                    await self.gateway.events.subscribe(server, uri)
            return await self._listen(ctx, params)
        finally:
            for server, uri in held:
                self.gateway.events.unsubscribe(server, uri)

    async def _resource_updated(self, server: str, uri: str) -> None:
        if not self.gateway.catalog.server_visible(self.view, server):
            return
        await self.bus.publish(ResourceUpdated(uri=uri))
        for connection in list(self._subscribers.get(uri, ())):
            await connection.notify("notifications/resources/updated", {"uri": uri})

    # ---- list changes --------------------------------------------------------------------
    async def _catalog_changed(self, before: Catalog, after: Catalog) -> None:
        view = self.view
        changed_tools = before.list_tools(view) != after.list_tools(view)
        changed_prompts = before.list_prompts(view) != after.list_prompts(view)
        changed_resources = before.list_resources(view) != after.list_resources(view) or before.list_templates(
            view
        ) != after.list_templates(view)
        if changed_tools:
            await self.bus.publish(ToolsListChanged())
        if changed_prompts:
            await self.bus.publish(PromptsListChanged())
        if changed_resources:
            await self.bus.publish(ResourcesListChanged())
        methods = [
            method
            for method, changed in (
                ("notifications/tools/list_changed", changed_tools),
                ("notifications/prompts/list_changed", changed_prompts),
                ("notifications/resources/list_changed", changed_resources),
            )
            if changed
        ]
        for connection in list(self._connections):
            for method in methods:
                await connection.notify(method, None)  # best effort: a closed stream drops it
