"""Models as resources: ``model://<provider>/<name>``, a JSON card (context length, dimension, capabilities)."""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import Resource as MCPResource

from servers.aiml.catalog import all_models
from servers.aiml.service import AimlService
from servers.kit.tool_errors import CodedToolError

MIME = "application/json"


async def model_resources(service: AimlService) -> list[MCPResource]:
    return [
        MCPResource(
            uri=model.uri,
            name=f"{model.provider}/{model.name}",
            title=f"{model.kind} model {model.name} on {model.provider}",
            description="the model's context length, dimension and capabilities as JSON",
            mime_type=MIME,
        )
        for model in await all_models(service)
    ]


def register_resources(server: MCPServer[Any], service: AimlService) -> None:
    @server.resource(
        "model://{provider}/{name}",
        name="model",
        title="A model of a provider",
        description="a model's kind, context length, dimension and capabilities, as JSON",
        mime_type=MIME,
    )
    async def model_resource(provider: str, name: str) -> str:
        from servers.aiml.catalog import info_of

        try:
            card = await service.provider(provider).show(name)
        except CodedToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(info_of(card).model_dump(mode="json"), ensure_ascii=False)
