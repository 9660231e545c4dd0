"""Collections as resources: ``vector://<backend>/<collection>``, a JSON description with its stats.

The template is registered with the server; :func:`collection_resources` lists the concrete ones
(every collection of every backend). Writes announce ``resources/updated`` for their collection's
URI to ``subscriptions/listen`` streams (see :mod:`.tools_write`).
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import Resource as MCPResource

from servers.kit.tool_errors import CodedToolError
from servers.vectorstore.service import VectorService, uri_of

MIME = "application/json"


async def collection_resources(service: VectorService) -> list[MCPResource]:
    resources: list[MCPResource] = []
    for name in sorted(service.backends):
        try:
            engine = await service.backend(name)
            collections = await engine.list_collections()
        except CodedToolError:
            continue  # an unreachable backend lists nothing; readiness reports it
        resources.extend(
            MCPResource(
                uri=uri_of(name, collection),
                name=f"{name}/{collection}",
                title=f"collection {collection} on {name}",
                description="the collection's description and stats as JSON",
                mime_type=MIME,
            )
            for collection in collections
        )
    return resources


def register_resources(server: MCPServer[Any], service: VectorService) -> None:
    @server.resource(
        "vector://{backend}/{collection}",
        name="collection",
        title="A vector collection",
        description="a collection's pinned embedder, distance, fields and document count, as JSON",
        mime_type=MIME,
    )
    async def collection_resource(backend: str, collection: str) -> str:
        try:
            info = await service.describe(backend, collection)
        except CodedToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(info.model_dump(mode="json"), ensure_ascii=False)
