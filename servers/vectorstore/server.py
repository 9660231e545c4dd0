"""The vectorstore server: one tool surface over Chroma and Qdrant, with the embedding model pinned per collection.

``build_server(settings)`` wires the pieces: the service (:mod:`.service`: backends, embedders,
queries; :mod:`.writes` and :mod:`.ingestion` for writes), the read tools (always), the write tools
(unless ``vectorstore.read_only``), ``vector://`` resources and prompts. The lifespan opens every
backend and warms the default embedder as the server starts; ``/health`` reports ready only once
it is warm, so the first call routed to the server does not wait for a model. ``DEFINITION`` is what ``mcp-suite serve vectorstore`` runs.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from mesh.config import Settings
from servers.kit.resources import ListingServer
from servers.kit.service_life import LiveServices, all_ok, ping_backends, service_lifespan
from servers.kit.tool_errors import code_tool_errors
from servers.runtime.definition import Readiness, ServerDefinition
from servers.vectorstore.prompts import register_prompts
from servers.vectorstore.resources import collection_resources, register_resources
from servers.vectorstore.service import VectorService
from servers.vectorstore.settings import body_limit, vectorstore_settings
from servers.vectorstore.tools_read import register_read_tools
from servers.vectorstore.tools_write import register_write_tools

INSTRUCTIONS = """\
Vector collections on named backends (list_collections shows them). Each collection is pinned to the
embedder it was made with (describe_collection shows kind, model, dimension); a call with another one
is refused: migrate with reembed_collection. query searches by text or vector, mode dense (embeddings),
keyword (BM25) or hybrid (both, rank-fused), with a metadata filter, score_threshold and mmr.
upsert_documents without ids uses content-hash ids (sending the same texts again changes nothing);
ingest_text and ingest_files chunk texts with overlap and record source, chunk and offsets."""

READINESS_TIMEOUT = 5.0

_LIVE: LiveServices[VectorService] = LiveServices()
"""The service of each server built in this process, by the id of its settings: readiness reports the
state of the live backends and embedder (a Qdrant local path admits one client per process)."""


def build_server(settings: Settings) -> MCPServer[Any]:
    """The vectorstore MCP server for ``settings`` (no write tool when ``vectorstore.read_only``)."""
    own = vectorstore_settings(settings)
    service = _LIVE.add(settings, VectorService(own, settings.data_dir))
    # Opened and warmed beside the serving: over HTTP /health stays 503 until the embedder is warm, so
    # no call arrives before; a call that does waits for the same warm-up (both are idempotent).
    server = ListingServer(
        lambda: collection_resources(service),
        name="vectorstore",
        title="mcp-suite vectorstore",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=service_lifespan(service, service.close_backends, background=[service.warm_up]),
    )
    register_read_tools(server, service)
    if not own.read_only:
        register_write_tools(server, service)
    register_resources(server, service)
    register_prompts(server, service)
    code_tool_errors(server)
    return server


async def readiness(settings: Settings) -> Readiness:
    """Ready when every backend answers a ping and the default embedder is warm."""

    def fresh() -> VectorService:
        return VectorService(vectorstore_settings(settings), settings.data_dir)

    async with _LIVE.live_or_fresh(settings, fresh, VectorService.close_backends) as (service, live):
        checks = await ping_backends(service, READINESS_TIMEOUT)
        ready = all_ok(checks)
        embedder = service.embedders.get(None)
        state = embedder.warm_state
        label = embedder.identity.label() if state == "warm" else service.embedders.default
        checks[f"embedder {service.embedders.default}"] = f"{state} ({label})"
        ready = ready and state == "warm" if live else ready
    return Readiness(ready=ready, checks=checks)


def port_of(settings: Settings) -> int:
    return vectorstore_settings(settings).port


DEFINITION = ServerDefinition(
    name="vectorstore",
    build=build_server,
    readiness=readiness,
    port_of=port_of,
    body_limit=body_limit,
)
