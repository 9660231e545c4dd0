"""Indexes as resources: ``search://<backend>/<index>``, the index's mapping and stats as JSON.

The template is registered with the server; :func:`index_resources` lists the concrete ones (every
allowed index of every backend). Writes announce ``resources/updated`` for their index's URI.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.types import Resource as MCPResource

from servers.kit.resources import JSON_MIME, Listing, backend_resources, described_json
from servers.search.service import SearchService, uri_of

LISTING = Listing("search index {name} on {backend}", "the index's fields, language, document count and size as JSON")


async def index_resources(service: SearchService) -> list[MCPResource]:
    async def allowed_indexes(backend: str) -> list[str]:
        engine = await service.backend(backend)
        return [index for index in await engine.list_indexes() if service.allowed(index)]

    return await backend_resources(service.backends, allowed_indexes, uri_of, LISTING)


def register_resources(server: MCPServer[Any], service: SearchService) -> None:
    @server.resource(
        "search://{backend}/{index}",
        name="index",
        title="A search index",
        description="an index's mapping (fields and types), language, document count and size, as JSON",
        mime_type=JSON_MIME,
    )
    async def index_resource(backend: str, index: str) -> str:
        return await described_json(service.describe(backend, index))
