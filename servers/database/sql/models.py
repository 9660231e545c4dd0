"""The SQL tools' results: schemas, tables, rows, plans and writes (each becomes the tool's outputSchema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class SchemaInfo(BaseModel):
    name: str
    tables: int = Field(description="tables and views in the schema")


class SchemaList(BaseModel):
    connection: str
    schemas: list[SchemaInfo]


class TableInfo(BaseModel):
    schema_name: str
    name: str
    kind: str = Field(description="table, view, materialized view, foreign table or partitioned table")
    row_estimate: int | None = Field(description="the planner's estimate (PostgreSQL) or a count (SQLite)")
    comment: str | None = None


class TableList(BaseModel):
    connection: str
    tables: list[TableInfo]
    next_cursor: str | None = None


class ColumnInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    default: str | None = None
    primary_key: bool = False
    comment: str | None = None


class ForeignKeyInfo(BaseModel):
    name: str | None
    columns: list[str]
    references_table: str
    references_columns: list[str]


class IndexInfo(BaseModel):
    name: str
    columns: list[str]
    unique: bool
    primary: bool = False
    definition: str | None = None


class TableDescription(BaseModel):
    connection: str
    schema_name: str
    table: str
    kind: str
    columns: list[ColumnInfo]
    primary_key: list[str]
    foreign_keys: list[ForeignKeyInfo]
    indexes: list[IndexInfo]
    row_estimate: int | None
    comment: str | None = None


class ResultColumn(BaseModel):
    name: str
    type: str | None = None


class QueryResult(BaseModel):
    connection: str
    columns: list[ResultColumn]
    rows: list[list[Any]] = Field(description="one list of cell values per row, in the order of `columns`")
    row_count: int = Field(description="rows in this page")
    offset: int = Field(description="rows returned by the earlier pages of this query")
    next_cursor: str | None = Field(description="pass it back as `cursor` with the same sql and params for more")
    paging: Literal["keyset", "offset", "single"] = Field(
        description="keyset: the next page seeks past the last key; offset: it skips the rows already seen"
    )
    stopped_by: Literal["end", "row_limit", "byte_budget"]
    notes: list[str] = Field(default_factory=list)
    elapsed_ms: float


class ExplainResult(BaseModel):
    connection: str
    statement: str
    analyze: bool
    plan: list[str] = Field(description="the plan as PostgreSQL or SQLite prints it, one line per entry")
    estimated_rows: int | None = None
    total_cost: float | None = None
    notes: list[str] = Field(default_factory=list)


class ExecuteResult(BaseModel):
    connection: str
    statement_kind: str
    preview: bool
    rows_affected: int | None = Field(description="rows changed (None for a preview or a statement without a count)")
    estimated_rows: int | None = Field(default=None, description="for a preview: rows the statement would touch")
    estimate_source: Literal["planner", "dry_run_rolled_back", "none"] | None = None
    plan: list[str] | None = None
    columns: list[ResultColumn] = Field(default_factory=list, description="RETURNING columns, if any")
    rows: list[list[Any]] = Field(default_factory=list, description="RETURNING rows, capped by the row/byte budget")
    notes: list[str] = Field(default_factory=list)
    elapsed_ms: float
