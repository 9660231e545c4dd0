"""The search server: one structured full-text query over tantivy (embedded), PostgreSQL and OpenSearch.

``build_server(settings)`` wires the service (:mod:`.service`), the read tools (always), the write
tools (unless ``search.read_only``), ``search://`` resources and prompts. The lifespan opens every
backend beside the serving (:mod:`servers.kit.service_life`); ``DEFINITION`` is what ``mcp-suite
serve search`` runs.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from mesh.config import Settings
from servers.kit.resources import ListingServer
from servers.kit.service_life import LiveServices, all_ok, ping_backends, service_lifespan
from servers.kit.tool_errors import code_tool_errors
from servers.runtime.definition import Readiness, ServerDefinition
from servers.search.prompts import register_prompts
from servers.search.resources import index_resources, register_resources
from servers.search.service import SearchService
from servers.search.settings import search_settings
from servers.search.tools_read import register_raw_query, register_read_tools
from servers.search.tools_write import register_write_tools

INSTRUCTIONS = """\
Full-text search indexes on named backends (list_indexes shows them; describe_index gives the fields).
search takes one structured query: text (words, "phrases", AND/OR/NOT, -word, word~1 fuzzy), filters on
keyword/number/date fields, sort, return_fields, highlight and facets; hits carry snippets, not whole
documents, and next_cursor pages on. count, explain and suggest take the same query. index_documents
upserts by id; index_directory indexes an allowed folder incrementally."""

READINESS_TIMEOUT = 5.0

_LIVE: LiveServices[SearchService] = LiveServices()


def build_server(settings: Settings) -> MCPServer[Any]:
    """The search MCP server for ``settings`` (no write tool when ``search.read_only``)."""
    own = search_settings(settings)
    service = _LIVE.add(settings, SearchService(own, settings.data_dir))
    server = ListingServer(
        lambda: index_resources(service),
        name="search",
        title="mcp-suite search",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=service_lifespan(service, service.close_backends, background=[service.warm_up]),
    )
    register_read_tools(server, service)
    if own.raw_query and any(b.kind == "opensearch" for b in own.backends.values()):
        register_raw_query(server, service)
    if not own.read_only:
        register_write_tools(server, service)
    register_resources(server, service)
    register_prompts(server, service)
    code_tool_errors(server)
    return server


async def readiness(settings: Settings) -> Readiness:
    """Ready when every backend answers."""

    def fresh() -> SearchService:
        return SearchService(search_settings(settings), settings.data_dir)

    async with _LIVE.live_or_fresh(settings, fresh, SearchService.close_backends) as (service, _):
        checks = await ping_backends(service, READINESS_TIMEOUT)
    return Readiness(ready=all_ok(checks), checks=checks)


def port_of(settings: Settings) -> int:
    return search_settings(settings).port


DEFINITION = ServerDefinition(name="search", build=build_server, readiness=readiness, port_of=port_of)
