"""The tables of the PostgreSQL backend: a registry of indexes and one table per index.

Every index is a table ``ix_<name>`` in the backend's schema: the id, the document as ``jsonb``,
one typed column per keyword, number and date field (B-tree indexed, for filters, sort and
facets), and generated ``tsvector`` columns: one over all text fields and one per text field when
there are several (each GIN indexed). The registry ``search_indexes`` keeps each index's schema.
"""

from __future__ import annotations

from servers.search.schema import IndexSchema

REGISTRY = "search_indexes"
PG_CONFIGS = {
    "english": "english",
    "french": "french",
    "german": "german",
    "spanish": "spanish",
    "italian": "italian",
    "portuguese": "portuguese",
    "dutch": "dutch",
    "simple": "simple",
}


def ident(name: str) -> str:
    """A quoted identifier; names were checked against the schema's patterns before they get here."""
    return '"' + name.replace('"', '""') + '"'


def table_of(schema_name: str, index: str) -> str:
    return f"{ident(schema_name)}.{ident('ix_' + index)}"


def config_of(schema: IndexSchema) -> str:
    return PG_CONFIGS[schema.language] if schema.stems else "simple"


def column_of(schema: IndexSchema, field: str) -> str:
    kind = schema.type_of(field)
    prefix = {"keyword": "k_", "number": "n_", "date": "d_", "text": "tsv_"}[kind or "text"]
    return ident(prefix + field)


def text_vector(schema: IndexSchema, fields: list[str]) -> str:
    config = config_of(schema)
    parts = " || ' ' || ".join(f"coalesce(doc->>'{name}', '')" for name in fields)
    return f"to_tsvector('{config}'::regconfig, {parts})"


def vector_column(schema: IndexSchema, fields: tuple[str, ...]) -> str:
    """The tsvector column (or expression) over ``fields``: the all-fields column when they are all."""
    if set(fields) == set(schema.text_fields) or len(schema.text_fields) == 1:
        return "tsv_all"
    if len(fields) == 1:
        return column_of(schema, fields[0])
    return "(" + " || ".join(f"coalesce({column_of(schema, f)}, '')" for f in fields) + ")"


def create_statements(schema_name: str, index: str, schema: IndexSchema) -> list[str]:
    table = table_of(schema_name, index)
    columns = ["id text PRIMARY KEY", "doc jsonb NOT NULL"]
    indexes: list[str] = []
    for spec in schema.fields:
        column = column_of(schema, spec.name)
        if spec.type == "keyword":
            columns.append(f"{column} text")
        elif spec.type == "number":
            columns.append(f"{column} double precision")
        elif spec.type == "date":
            columns.append(f"{column} timestamptz")
        elif len(schema.text_fields) > 1:
            columns.append(f"{column} tsvector GENERATED ALWAYS AS ({text_vector(schema, [spec.name])}) STORED")
            indexes.append(f"CREATE INDEX ON {table} USING gin ({column})")
            continue
        else:
            continue
        indexes.append(f"CREATE INDEX ON {table} ({column})")
    columns.append(f"tsv_all tsvector GENERATED ALWAYS AS ({text_vector(schema, schema.text_fields)}) STORED")
    indexes.append(f"CREATE INDEX ON {table} USING gin (tsv_all)")
    return [f"CREATE TABLE {table} ({', '.join(columns)})", *indexes]


def registry_statements(schema_name: str) -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {ident(schema_name)}",
        f"CREATE TABLE IF NOT EXISTS {ident(schema_name)}.{REGISTRY} "
        "(name text PRIMARY KEY, spec jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    ]
