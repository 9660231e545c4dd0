"""The write tools: the official six plus supersession and import. Absent from a read-only server.

Each answers after the store committed, with the versions and ids it wrote, and then announces
``resources/updated`` for the namespace's graph and each entity it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.memory.access import Caller, principal_of
from servers.memory.arguments import EntityName, Namespace, TtlSeconds
from servers.memory.errors import MemoryToolError
from servers.memory.models import (
    AddedObservationsResult,
    CreatedEntities,
    CreatedRelations,
    Deleted,
    EntityInput,
    ImportResult,
    ObservationAddition,
    ObservationDeletion,
    RelationInput,
    SupersedeResult,
)
from servers.memory.resources import entity_uri, graph_uri
from servers.memory.service import MemoryService
from servers.runtime.light_context import never_needs_session, session_needed_when

ADDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
REPLACES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)

MAX_ANNOUNCED = 100
"""Entity URIs announced per write at most; the graph's URI is always announced."""


async def announce(ctx: Context[Any, Any], namespace: str, entities: Iterable[str]) -> None:
    await ctx.notify_resource_updated(graph_uri(namespace))
    for index, name in enumerate(dict.fromkeys(entities)):
        if index >= MAX_ANNOUNCED:
            break
        await ctx.notify_resource_updated(entity_uri(namespace, name))


def register_write_tools(server: MCPServer[Any], service: MemoryService) -> None:
    def caller(ctx: Context[Any, Any], tool: str) -> Caller:
        return Caller(principal_of(ctx, service.settings), tool)

    @server.tool(title="Create Entities", annotations=ADDS)
    @session_needed_when(never_needs_session)
    async def create_entities(
        ctx: Context[Any, Any],
        entities: Annotated[list[EntityInput], Field(max_length=10_000, description="the entities to create")],
        namespace: Namespace = None,
        ttl_seconds: TtlSeconds = None,
    ) -> CreatedEntities:
        """Create multiple new entities in the knowledge graph (a name already there is skipped)."""
        done = await service.create_entities(caller(ctx, "create_entities"), entities, namespace, ttl_seconds)
        if done.entities:
            await announce(ctx, done.namespace, (e.name for e in done.entities))
        return done

    @server.tool(title="Create Relations", annotations=ADDS)
    @session_needed_when(never_needs_session)
    async def create_relations(
        ctx: Context[Any, Any],
        relations: Annotated[list[RelationInput], Field(max_length=10_000, description="the relations to create")],
        namespace: Namespace = None,
    ) -> CreatedRelations:
        """Create multiple new relations between entities in the knowledge graph. Relations should be in active voice"""
        done = await service.create_relations(caller(ctx, "create_relations"), relations, namespace)
        if done.relations:
            await announce(ctx, done.namespace, (n for r in done.relations for n in (r.source, r.target)))
        return done

    @server.tool(title="Add Observations", annotations=ADDS)
    @session_needed_when(never_needs_session)
    async def add_observations(
        ctx: Context[Any, Any],
        observations: Annotated[
            list[ObservationAddition], Field(max_length=10_000, description="per entity, the observations to add")
        ],
        namespace: Namespace = None,
        ttl_seconds: TtlSeconds = None,
    ) -> AddedObservationsResult:
        """Add new observations to existing entities in the knowledge graph (an unknown entity refuses the whole call)."""
        done = await service.add_observations(caller(ctx, "add_observations"), observations, namespace, ttl_seconds)
        changed = [r.entityName for r in done.results if r.addedObservations]
        if changed:
            await announce(ctx, done.namespace, changed)
        return done

    @server.tool(title="Delete Entities", annotations=DELETES)
    @session_needed_when(never_needs_session)
    async def delete_entities(
        ctx: Context[Any, Any],
        entityNames: Annotated[list[str], Field(max_length=10_000, description="An array of entity names to delete")],
        namespace: Namespace = None,
    ) -> Deleted:
        """Delete multiple entities and their associated relations from the knowledge graph"""
        done = await service.delete_entities(caller(ctx, "delete_entities"), entityNames, namespace)
        if done.entities or done.relations:
            await announce(ctx, done.namespace, entityNames)
        return done

    @server.tool(title="Delete Observations", annotations=DELETES)
    @session_needed_when(never_needs_session)
    async def delete_observations(
        ctx: Context[Any, Any],
        deletions: Annotated[
            list[ObservationDeletion], Field(max_length=10_000, description="per entity, the observations to delete")
        ],
        namespace: Namespace = None,
    ) -> Deleted:
        """Delete specific observations from entities in the knowledge graph"""
        done = await service.delete_observations(caller(ctx, "delete_observations"), deletions, namespace)
        if done.observations:
            await announce(ctx, done.namespace, done.versions)
        return done

    @server.tool(title="Delete Relations", annotations=DELETES)
    @session_needed_when(never_needs_session)
    async def delete_relations(
        ctx: Context[Any, Any],
        relations: Annotated[
            list[RelationInput], Field(max_length=10_000, description="An array of relations to delete")
        ],
        namespace: Namespace = None,
    ) -> Deleted:
        """Delete multiple relations from the knowledge graph"""
        done = await service.delete_relations(caller(ctx, "delete_relations"), relations, namespace)
        if done.relations:
            await announce(ctx, done.namespace, (n for r in relations for n in (r.source, r.target)))
        return done

    @server.tool(title="Supersede Observation", annotations=REPLACES)
    @session_needed_when(never_needs_session)
    async def supersede_observation(
        ctx: Context[Any, Any],
        entityName: EntityName,
        new_observation: Annotated[
            str, Field(min_length=1, max_length=1_000_000, description="the text that replaces it")
        ],
        old_observation: Annotated[
            str | None, Field(default=None, max_length=1_000_000, description="the current text to replace")
        ] = None,
        observation_id: Annotated[
            int | None, Field(default=None, ge=1, description="or its id (`history` lists them)")
        ] = None,
        expected_version: Annotated[
            int | None,
            Field(default=None, ge=1, description="refuse with version_conflict unless the entity is at this version"),
        ] = None,
        namespace: Namespace = None,
        ttl_seconds: TtlSeconds = None,
    ) -> SupersedeResult:
        """Replace one current observation with a new one, keeping the old in the entity's `history`."""
        if (old_observation is None) == (observation_id is None):
            raise MemoryToolError(
                "invalid_arguments",
                "name the observation to replace by old_observation or by observation_id (one of them)",
            )
        old: str | int = observation_id if observation_id is not None else old_observation  # type: ignore[assignment]
        done = await service.supersede_observation(
            caller(ctx, "supersede_observation"),
            entityName,
            old,
            new_observation,
            namespace,
            expected_version,
            ttl_seconds,
        )
        await announce(ctx, done.namespace, [entityName])
        return done

    @server.tool(title="Import Graph", annotations=ADDS)
    @session_needed_when(never_needs_session)
    async def import_graph(
        ctx: Context[Any, Any],
        jsonl: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64 * 1024 * 1024,
                description="JSON lines: the official memory server's memory.jsonl, or an `export_graph` output",
            ),
        ],
        namespace: Namespace = None,
        ttl_seconds: TtlSeconds = None,
    ) -> ImportResult:
        """Import entities, observations and relations from JSON lines; the whole text is checked before any write."""
        done = await service.import_graph(caller(ctx, "import_graph"), jsonl, namespace, ttl_seconds)
        await announce(ctx, done.namespace, ())
        return done
