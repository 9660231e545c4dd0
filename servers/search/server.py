"""The search server: one structured full-text query over tantivy (embedded), PostgreSQL and OpenSearch.

``build_server(settings)`` wires the service (:mod:`.service`), the read tools (always), the write
tools (unless ``search.read_only``), ``search://`` resources and prompts. The lifespan opens every
backend beside the serving; ``DEFINITION`` is what ``mcp-suite serve search`` runs.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.types import Resource as MCPResource

from mesh.config import Settings
from servers.kit.tool_errors import CodedToolError, code_tool_errors
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

_LIVE: weakref.WeakValueDictionary[int, SearchService] = weakref.WeakValueDictionary()


class SearchServer(MCPServer[Any]):
    """An ``MCPServer`` that lists every allowed index as a ``search://`` resource."""

    def __init__(self, service: SearchService, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    async def list_resources(self) -> list[MCPResource]:
        return [*await super().list_resources(), *await index_resources(self.service)]


def build_server(settings: Settings) -> MCPServer[Any]:
    """The search MCP server for ``settings`` (no write tool when ``search.read_only``)."""
    own = search_settings(settings)
    service = SearchService(own, settings.data_dir)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[SearchService]:
        async with anyio.create_task_group() as group:
            group.start_soon(service.warm_up)
            try:
                yield service
            finally:
                group.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await service.close_backends()

    server = SearchServer(
        service,
        name="search",
        title="mcp-suite search",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=lifespan,
    )
    register_read_tools(server, service)
    if own.raw_query and any(b.kind == "opensearch" for b in own.backends.values()):
        register_raw_query(server, service)
    if not own.read_only:
        register_write_tools(server, service)
    register_resources(server, service)
    register_prompts(server, service)
    code_tool_errors(server)
    _LIVE[id(settings)] = service
    return server


async def readiness(settings: Settings) -> Readiness:
    """Ready when every backend answers."""
    service = _LIVE.get(id(settings))
    owned = service is None
    if service is None:
        service = SearchService(search_settings(settings), settings.data_dir)
    checks: dict[str, str] = {}
    ready = True
    try:
        for name in sorted(service.backends):
            try:
                with anyio.fail_after(READINESS_TIMEOUT):
                    engine = await service.backend(name)
                    checks[f"backend {name}"] = f"ok ({await engine.ping()})"
            except TimeoutError:
                checks[f"backend {name}"] = f"no answer within {READINESS_TIMEOUT:.0f}s"
                ready = False
            except (CodedToolError, OSError, RuntimeError, ValueError) as exc:
                checks[f"backend {name}"] = f"unavailable: {exc}"
                ready = False
    finally:
        if owned:
            await service.close_backends()
    return Readiness(ready=ready, checks=checks)


def port_of(settings: Settings) -> int:
    return search_settings(settings).port


DEFINITION = ServerDefinition(name="search", build=build_server, readiness=readiness, port_of=port_of)
