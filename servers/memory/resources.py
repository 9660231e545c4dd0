"""Namespaces and entities as resources, announced on change.

``memory://<namespace>/graph`` is a summary (counts and the first entities, never the whole graph);
``memory://<namespace>/entities/<name>`` is one entity with its observations' provenance and its
relations (the name percent-encoded). The write tools announce both with ``resources/updated``
(:func:`servers.memory.tools_write.announce`); the runtime delivers it to ``subscriptions/listen``
streams and to sessions that ``resources/subscribe``-d.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import Resource as MCPResource

from servers.kit.tool_errors import CodedToolError
from servers.memory.access import Caller, principal_of
from servers.memory.service import MemoryService

MIME = "application/json"
SCHEME = "memory"


def graph_uri(namespace: str) -> str:
    return f"{SCHEME}://{namespace}/graph"


def entity_uri(namespace: str, name: str) -> str:
    return f"{SCHEME}://{namespace}/entities/{quote(name, safe='')}"


async def namespace_resources(service: MemoryService) -> list[MCPResource]:
    """One graph resource per namespace the default principal may read (a listing has no caller to go by)."""
    try:
        seen = await service.store.namespaces()
    except (OSError, RuntimeError, CodedToolError):
        return []
    return [
        MCPResource(
            uri=graph_uri(name),
            name=f"{name}/graph",
            title=f"memory namespace {name}",
            description="the namespace's counts and first entities, as JSON",
            mime_type=MIME,
        )
        for name in service.policy.readable(service.settings.default_principal, seen)
    ]


def register_resources(server: MCPServer[Any], service: MemoryService) -> None:
    def caller(ctx: Context[Any, Any]) -> Caller:
        return Caller(principal_of(ctx, service.settings), "resources/read")

    @server.resource(
        f"{SCHEME}://{{namespace}}/graph",
        name="graph",
        title="A memory namespace",
        description="counts of entities, observations and relations, and the first entities by name",
        mime_type=MIME,
    )
    async def graph_resource(namespace: str, ctx: Context[Any, Any]) -> str:
        try:
            summary = await service.graph_summary(caller(ctx), namespace)
        except CodedToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(summary, ensure_ascii=False)

    @server.resource(
        f"{SCHEME}://{{namespace}}/entities/{{name}}",
        name="entity",
        title="An entity of a memory namespace",
        description="an entity with its observations (who wrote each, when, through which tool) and its relations",
        mime_type=MIME,
    )
    async def entity_resource(namespace: str, name: str, ctx: Context[Any, Any]) -> str:
        try:
            detail = await service.entity_detail(caller(ctx), namespace, unquote(name))
        except CodedToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(detail, ensure_ascii=False)
