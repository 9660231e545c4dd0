"""The structured results of the Neo4j tools (each becomes the tool's outputSchema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

OptStr = Annotated[str | None, WithJsonSchema({"type": ["string", "null"]})]
Reason = Annotated[Literal["max_rows", "max_bytes"] | None, WithJsonSchema({"enum": ["max_rows", "max_bytes", None]})]


class CypherResult(BaseModel):
    """Rows of a Cypher query (nodes, relationships and paths as JSON objects) and what it changed."""

    connection: str
    database: OptStr = Field(default=None, description="the database it ran on (null: the server's default)")
    query_type: str = Field(description="Neo4j's classification: r (read), rw, w (write) or s (schema)")
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int = Field(description="rows returned here")
    truncated: bool = Field(description="true when the row or byte budget stopped the result early")
    truncated_reason: Reason = None
    hint: OptStr = None
    counters: dict[str, int] = Field(
        default_factory=dict, description="what a write changed (nodes_created, properties_set...); empty for reads"
    )


class PropertySchema(BaseModel):
    name: str
    types: list[str] = Field(description="the property's value types seen, e.g. String, Long")
    mandatory: bool = Field(description="true when every node/relationship of the label/type has it")


class LabelSchema(BaseModel):
    label: str
    properties: list[PropertySchema]


class RelationshipSchema(BaseModel):
    type: str
    properties: list[PropertySchema]


class GraphSchema(BaseModel):
    """Labels and relationship types with their property keys, read without APOC."""

    connection: str
    labels: list[LabelSchema]
    relationship_types: list[RelationshipSchema]
    truncated: bool = Field(description="true when the row budget cut the lists short")
