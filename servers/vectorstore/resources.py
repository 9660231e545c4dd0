"""Collections as resources: ``vector://<backend>/<collection>``, a JSON description with its stats.

The template is registered with the server; :func:`collection_resources` lists the concrete ones
(every collection of every backend). Writes announce ``resources/updated`` for their collection's
URI to ``subscriptions/listen`` streams (see :mod:`.tools_write`).
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.types import Resource as MCPResource

from servers.kit.resources import JSON_MIME, Listing, backend_resources, described_json
from servers.vectorstore.service import VectorService, uri_of

LISTING = Listing("collection {name} on {backend}", "the collection's description and stats as JSON")


async def collection_resources(service: VectorService) -> list[MCPResource]:
    async def collections(backend: str) -> list[str]:
        return list(await (await service.backend(backend)).list_collections())

    return await backend_resources(service.backends, collections, uri_of, LISTING)


def register_resources(server: MCPServer[Any], service: VectorService) -> None:
    @server.resource(
        "vector://{backend}/{collection}",
        name="collection",
        title="A vector collection",
        description="a collection's pinned embedder, distance, fields and document count, as JSON",
        mime_type=JSON_MIME,
    )
    async def collection_resource(backend: str, collection: str) -> str:
        return await described_json(service.describe(backend, collection))
