"""Indexes as resources: ``search://<backend>/<index>``, the index's mapping and stats as JSON.

The template is registered with the server; :func:`index_resources` lists the concrete ones (every
allowed index of every backend). Writes announce ``resources/updated`` for their index's URI.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import Resource as MCPResource

from servers.kit.tool_errors import CodedToolError
from servers.search.service import SearchService, uri_of

MIME = "application/json"


async def index_resources(service: SearchService) -> list[MCPResource]:
    resources: list[MCPResource] = []
    for name in sorted(service.backends):
        try:
            engine = await service.backend(name)
            indexes = await engine.list_indexes()
        except CodedToolError:
            continue  # an unreachable backend lists nothing; readiness reports it
        resources.extend(
            MCPResource(
                uri=uri_of(name, index),
                name=f"{name}/{index}",
                title=f"search index {index} on {name}",
                description="the index's fields, language, document count and size as JSON",
                mime_type=MIME,
            )
            for index in indexes
            if service.allowed(index)
        )
    return resources


def register_resources(server: MCPServer[Any], service: SearchService) -> None:
    @server.resource(
        "search://{backend}/{index}",
        name="index",
        title="A search index",
        description="an index's mapping (fields and types), language, document count and size, as JSON",
        mime_type=MIME,
    )
    async def index_resource(backend: str, index: str) -> str:
        try:
            info = await service.describe(backend, index)
        except CodedToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(info.model_dump(mode="json"), ensure_ascii=False)
