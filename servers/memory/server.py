"""The memory server: a knowledge graph on SQLite, PostgreSQL, Redis or Neo4j, a drop-in for the official memory server.

``build_server(settings)`` wires the service (:mod:`.service` over the store of ``memory.store``),
the read tools, the write tools (unless ``memory.read_only``), the ``memory://`` resources and the
prompts. The lifespan opens the store, then beside the serving embeds new observations for
``recall`` (loading the model when there is a first one) and purges what has expired. ``DEFINITION`` is what ``mcp-suite serve memory`` runs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from mcp.server import MCPServer

from mesh.config import Settings
from servers.kit.resources import ListingServer
from servers.kit.service_life import Background, LiveServices, service_lifespan
from servers.kit.tool_errors import code_tool_errors
from servers.memory.prompts import register_prompts
from servers.memory.resources import namespace_resources, register_resources
from servers.memory.service import MemoryService
from servers.memory.settings import memory_settings
from servers.memory.tools_read import register_read_tools
from servers.memory.tools_write import register_write_tools
from servers.runtime.definition import Readiness, ServerDefinition

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
A knowledge graph of entities (name, type, observations) and relations, shared by many agents.
The official memory tools work unchanged; read_graph and search_nodes return pages (pass next_cursor
back as cursor). Every tool takes an optional namespace (list_namespaces shows yours). recall answers a
question within a token budget; supersede_observation replaces a fact and keeps it in history.
Writes answer once durable, with versions and ids."""

READINESS_TIMEOUT = 5.0
PURGE_SECONDS = 60.0

_LIVE: LiveServices[MemoryService] = LiveServices()


async def _purge_forever(service: MemoryService) -> None:
    while True:
        try:
            removed = await service.store.purge_expired(time.time())
            if removed:
                log.info("memory: purged %d expired rows", removed)
        except Exception:  # a failed purge is retried; reads never show expired items anyway
            log.warning("memory: purging expired items failed", exc_info=True)
        await anyio.sleep(PURGE_SECONDS)


def build_server(settings: Settings) -> MCPServer[Any]:
    """The memory MCP server for ``settings`` (no write tool when ``memory.read_only``)."""
    own = memory_settings(settings)
    service = _LIVE.add(settings, MemoryService(own, settings.data_dir))
    background: list[Background] = []
    if own.recall_vectors and not own.read_only:
        # The model loads on the first batch to embed (or the first `recall`), not at start-up.
        background.append(service.embedder.run)
    if not own.read_only:
        background.append(lambda: _purge_forever(service))
    lifespan = service_lifespan(service, service.close, background=background, open_first=service.open)

    server = ListingServer(
        lambda: namespace_resources(service),
        name="memory",
        title="mcp-suite memory",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=lifespan,
    )
    register_read_tools(server, service)
    if not own.read_only:
        register_write_tools(server, service)
    register_resources(server, service)
    register_prompts(server)
    code_tool_errors(server)
    return server


async def readiness(settings: Settings) -> Readiness:
    """Ready when the store answers a ping."""

    def fresh() -> MemoryService:
        return MemoryService(memory_settings(settings), settings.data_dir)

    async with _LIVE.live_or_fresh(settings, fresh, MemoryService.close) as (service, _):
        check = f"store {service.store.kind}"
        try:
            with anyio.fail_after(READINESS_TIMEOUT):
                return Readiness(ready=True, checks={check: f"ok ({await service.store.ping()})"})
        except TimeoutError:
            return Readiness(ready=False, checks={check: f"no answer within {READINESS_TIMEOUT:.0f}s"})
        except Exception as exc:  # any driver failure is "not ready"; its text may hold the address, so only the type
            return Readiness(ready=False, checks={check: f"unavailable: {type(exc).__name__}"})


def port_of(settings: Settings) -> int:
    return memory_settings(settings).port


DEFINITION = ServerDefinition(name="memory", build=build_server, readiness=readiness, port_of=port_of)
