"""The read tools: the official ``read_graph``, ``search_nodes``, ``open_nodes`` (paged), and what goes beyond."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.memory.access import Caller, principal_of
from servers.memory.arguments import Cursor, EntityName, MaxTokens, Namespace, PageLimit
from servers.memory.models import EntityHistory, ExportPage, GraphPage, NamespaceList, RecallResult
from servers.memory.service import MemoryService
from servers.runtime.light_context import never_needs_session, session_needed_when

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def register_read_tools(server: MCPServer[Any], service: MemoryService) -> None:
    def caller(ctx: Context[Any, Any], tool: str) -> Caller:
        return Caller(principal_of(ctx, service.settings), tool)

    @server.tool(title="Read Graph", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def read_graph(
        ctx: Context[Any, Any],
        namespace: Namespace = None,
        cursor: Cursor = None,
        limit: PageLimit = None,
        max_tokens: MaxTokens = None,
    ) -> GraphPage:
        """Read the knowledge graph, a page at a time: entities by name, each with the relations it starts.

        A page stops at `limit` entities or `max_tokens`; pass `next_cursor` back as `cursor` for the next.
        """
        return await service.read_graph(caller(ctx, "read_graph"), namespace, cursor, limit, max_tokens)

    @server.tool(title="Search Nodes", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def search_nodes(
        ctx: Context[Any, Any],
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=2000,
                description="The search query to match against entity names, types, and observation content",
            ),
        ],
        namespace: Namespace = None,
        cursor: Cursor = None,
        limit: PageLimit = None,
        max_tokens: MaxTokens = None,
    ) -> GraphPage:
        """Search for nodes in the knowledge graph based on a query, most relevant first, a page at a time.

        Matches the query as a substring of names, types and observations (case-insensitive), and
        entities holding every word of it; ranked by full-text relevance (`scores`).
        """
        return await service.search_nodes(caller(ctx, "search_nodes"), query, namespace, cursor, limit, max_tokens)

    @server.tool(title="Open Nodes", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def open_nodes(
        ctx: Context[Any, Any],
        names: Annotated[list[str], Field(max_length=1000, description="An array of entity names to retrieve")],
        namespace: Namespace = None,
        cursor: Cursor = None,
        max_tokens: MaxTokens = None,
    ) -> GraphPage:
        """Open specific nodes in the knowledge graph by their names, with the relations at either end."""
        return await service.open_nodes(caller(ctx, "open_nodes"), names, namespace, cursor, max_tokens)

    @server.tool(title="Recall", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def recall(
        ctx: Context[Any, Any],
        query: Annotated[
            str, Field(min_length=1, max_length=2000, description="what to remember: a question or topic")
        ],
        namespace: Namespace = None,
        max_tokens: MaxTokens = None,
        max_entities: Annotated[int, Field(ge=1, le=200, description="entities to consider at most")] = 20,
        hops: Annotated[int, Field(ge=0, le=2, description="relation hops from the best matches to include")] = 1,
    ) -> RecallResult:
        """What the graph knows about a query, within a token budget: names first, then the most relevant observations.

        Ranks entities by keyword relevance, embedding similarity and graph neighbourhood together.
        """
        return await service.recall(caller(ctx, "recall"), query, namespace, max_tokens, max_entities, hops)

    @server.tool(title="Observation History", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def history(
        ctx: Context[Any, Any],
        entityName: EntityName,
        namespace: Namespace = None,
        cursor: Cursor = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="observations per page")] = 100,
    ) -> EntityHistory:
        """Every observation of an entity, current and superseded, with who wrote it, when and through which tool."""
        return await service.history(caller(ctx, "history"), entityName, namespace, cursor, limit)

    @server.tool(title="Export Graph", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def export_graph(ctx: Context[Any, Any], namespace: Namespace = None, cursor: Cursor = None) -> ExportPage:
        """A namespace as JSON lines in the official memory server's format, a page at a time (`import_graph` reads it)."""
        return await service.export_graph(caller(ctx, "export_graph"), namespace, cursor)

    @server.tool(title="List Namespaces", annotations=READ_ONLY)
    @session_needed_when(never_needs_session)
    async def list_namespaces(ctx: Context[Any, Any]) -> NamespaceList:
        """The namespaces the caller may read, whether it may write each, and their sizes."""
        return await service.list_namespaces(caller(ctx, "list_namespaces"))
