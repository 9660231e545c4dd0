"""The aiml server: models behind one interface (local, OpenAI-compatible, Ollama), with a model policy.

``build_server(settings)`` wires the service (:mod:`.service`: providers, queues, budgets, usage
metrics), the read tools, the generation tools, the prompted helpers, the media tools, the
model-management tools (only when ``aiml.allow_model_management`` and not read-only), ``model://``
resources and prompts.
The lifespan loads the local model beside the serving, not before it: the server answers
``initialize`` at once, ``/health`` says ``loading`` until the model is warm, and a call that arrives
first waits for that same load. ``DEFINITION`` is what ``mcp-suite serve aiml`` runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.types import Resource as MCPResource

from mesh.config import Settings
from servers.aiml.prompts import register_prompts
from servers.aiml.resources import model_resources, register_resources
from servers.aiml.service import AimlService
from servers.aiml.settings import aiml_settings
from servers.aiml.tools_admin import register_admin_tools
from servers.aiml.tools_generate import register_generate_tools
from servers.aiml.tools_helpers import register_helper_tools
from servers.aiml.tools_media import register_media_tools
from servers.aiml.tools_read import register_read_tools
from servers.kit.service_life import LiveServices
from servers.kit.tool_errors import code_tool_errors
from servers.runtime.definition import Readiness, ServerDefinition

INSTRUCTIONS = """\
Language models behind one interface. Name a model by alias (default, fast, embed) or <provider>/<model>;
list_models shows both and each provider's health. generate continues a prompt, chat answers messages (an
output_schema is checked and retried once; tools are passed to providers that take them), embed returns
vectors with model and dimension, classify and summarize are prompted helpers; describe_image and
transcribe_audio take an image or audio file (base64 or a path under the operator's media roots) and need a
model with vision or audio (aliases vision, transcribe). Generations stream as
progress notifications and stop when cancelled. Every result carries usage (tokens, latency, provider,
model, cost units); show_policy gives the caller's token budget and the limits."""

READINESS_TIMEOUT = 5.0

_LIVE: LiveServices[AimlService] = LiveServices()
"""The service of each server built in this process, by the id of its settings: readiness reports its state."""


class AimlServer(MCPServer[Any]):
    """An ``MCPServer`` that lists every model of a healthy provider as a ``model://`` resource."""

    def __init__(self, service: AimlService, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.metric_collectors = [service.metrics.registry]

    async def list_resources(self) -> list[MCPResource]:
        return [*await super().list_resources(), *await model_resources(self.service)]


def build_server(settings: Settings, service: AimlService | None = None) -> MCPServer[Any]:
    """The aiml MCP server for ``settings`` (``service``: one already built, as tests share a loaded model)."""
    own = aiml_settings(settings)
    service = service or AimlService(own, settings.data_dir)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[AimlService]:
        async with anyio.create_task_group() as group:
            group.start_soon(service.warm_up)
            try:
                yield service
            finally:
                group.cancel_scope.cancel()

    server = AimlServer(
        service, name="aiml", title="mcp-suite aiml", instructions=INSTRUCTIONS, version="0.1.0", lifespan=lifespan
    )
    register_read_tools(server, service)
    register_generate_tools(server, service)
    register_helper_tools(server, service)
    register_media_tools(server, service)
    if own.allow_model_management and not own.read_only:
        register_admin_tools(server, service)
    register_resources(server, service)
    register_prompts(server)
    code_tool_errors(server)
    _LIVE.add(settings, service)
    return server


async def readiness(settings: Settings) -> Readiness:
    """Ready when the default alias has a provider that answers (the local one once its model is warm)."""
    service = _LIVE.get(settings)
    if service is None:
        return Readiness(ready=False, checks={"service": "not built in this process"})
    checks: dict[str, str] = {}
    healthy: set[str] = set()
    for name in sorted(service.providers):
        provider = service.providers[name]
        try:
            with anyio.fail_after(READINESS_TIMEOUT):
                health = await service.health.health(name)
        except TimeoutError:
            checks[f"provider {name}"] = f"no answer within {READINESS_TIMEOUT:.0f}s"
            continue
        state = provider.warm_state()
        ok = health.ok and state in ("warm", "remote")
        if ok:
            healthy.add(name)
        detail = state if health.detail == state else f"{state}; {health.detail}"
        checks[f"provider {name}"] = f"{'ok' if ok else 'not ready'} ({provider.kind}, {detail})"
    default = [target.partition("/")[0] for target in service.settings.aliases.get("default", ())]
    ready = any(name in healthy for name in default) if default else bool(healthy)
    checks["alias default"] = "servable" if ready else "no provider of it is ready"
    return Readiness(ready=ready, checks=checks)


def port_of(settings: Settings) -> int:
    return aiml_settings(settings).port


DEFINITION = ServerDefinition(name="aiml", build=build_server, readiness=readiness, port_of=port_of)
