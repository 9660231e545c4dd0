"""The memory server's argument items and result models.

The official server's shapes come first and keep its field names (``entityType``, ``from``,
``relationType``, ``entityName``, ``addedObservations``), so a client written for it reads these
results unchanged; what this server adds (namespace, versions, ids, cursors, provenance) sits
beside them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


# -- argument items --------------------------------------------------------------------------------


class EntityInput(Wire):
    name: str = Field(min_length=1, max_length=1000, description="The name of the entity")
    entityType: str = Field(min_length=1, max_length=1000, description="The type of the entity")
    observations: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="An array of observation contents associated with the entity",
    )


class RelationInput(Wire):
    source: str = Field(
        alias="from", min_length=1, max_length=1000, description="The name of the entity where the relation starts"
    )
    target: str = Field(
        alias="to", min_length=1, max_length=1000, description="The name of the entity where the relation ends"
    )
    relationType: str = Field(min_length=1, max_length=1000, description="The type of the relation")


class ObservationAddition(Wire):
    entityName: str = Field(
        min_length=1, max_length=1000, description="The name of the entity to add the observations to"
    )
    contents: list[str] = Field(max_length=1000, description="An array of observation contents to add")


class ObservationDeletion(Wire):
    entityName: str = Field(
        min_length=1, max_length=1000, description="The name of the entity containing the observations"
    )
    observations: list[str] = Field(max_length=1000, description="An array of observations to delete")


# -- results ---------------------------------------------------------------------------------------


class Entity(Wire):
    name: str
    entityType: str
    observations: list[str]


class Relation(Wire):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    relationType: str


class EntityReceipt(Wire):
    """What a write left on one entity: its version now and the ids of the observations it added."""

    name: str
    version: int
    observation_ids: list[int] = Field(default_factory=list)


class CreatedEntities(Wire):
    entities: list[Entity] = Field(description="the entities created (names already there are skipped)")
    written: list[EntityReceipt] = Field(description="version and observation ids of each created entity")
    namespace: str
    durable: bool = Field(default=True, description="true: committed to the store before this answer")


class CreatedRelations(Wire):
    relations: list[Relation] = Field(description="the relations created (ones already there are skipped)")
    namespace: str
    durable: bool = True


class AddedObservations(Wire):
    entityName: str
    addedObservations: list[str]
    version: int
    observation_ids: list[int]


class AddedObservationsResult(Wire):
    results: list[AddedObservations]
    namespace: str
    durable: bool = True


class Deleted(Wire):
    success: bool
    message: str
    namespace: str
    entities: int = 0
    observations: int = 0
    relations: int = 0
    versions: dict[str, int] = Field(default_factory=dict, description="the version of each entity changed")
    durable: bool = True


class GraphPage(Wire):
    """A page of the graph: entities, the relations that belong with them, and where to go on."""

    entities: list[Entity]
    relations: list[Relation]
    namespace: str
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null: no more")
    truncated_by: Literal["max_entities", "max_tokens"] | None = None
    approx_tokens: int = Field(description="the page's size in tokens (bytes of JSON / 4)")
    scores: dict[str, float] | None = Field(default=None, description="search_nodes: relevance of each entity")


class ObservationDetail(Wire):
    id: int
    content: str
    created_at: str
    principal: str
    tool: str
    expires_at: str | None = None
    superseded_by: int | None = None
    superseded_at: str | None = None


class EntityHistory(Wire):
    name: str
    namespace: str
    observations: list[ObservationDetail] = Field(description="current and superseded, oldest first")
    next_cursor: str | None = None


class SupersedeResult(Wire):
    entityName: str
    namespace: str
    superseded: ObservationDetail
    current: ObservationDetail
    version: int
    durable: bool = True


class RecalledEntity(Wire):
    name: str
    entityType: str
    score: float
    via: list[Literal["keyword", "vector", "neighbour"]]
    observations: list[str] = Field(default_factory=list, description="the most relevant first, within the budget")


class RecallResult(Wire):
    query: str
    namespace: str
    entities: list[RecalledEntity]
    relations: list[Relation]
    approx_tokens: int
    omitted_observations: int = Field(description="relevant observations left out to stay within the budget")
    vector_search: Literal["used", "off", "unavailable"]


class ExportPage(Wire):
    lines: list[str] = Field(description="JSON lines in the official server's format, with provenance")
    namespace: str
    next_cursor: str | None = None


class ImportResult(Wire):
    namespace: str
    entities_created: int
    entities_existing: int
    observations_added: int
    relations_created: int
    durable: bool = True


class NamespaceInfo(Wire):
    namespace: str
    kind: str
    can_write: bool
    entities: int
    observations: int
    relations: int


class NamespaceList(Wire):
    principal: str
    namespaces: list[NamespaceInfo]
