"""The PostgreSQL store's tables, in the operator's schema (``memory.postgres.schema_name``).

Full text lives per observation: a generated ``tsvector`` on each observation row, indexed (GIN)
for current rows only; an entity's ``doc`` is its lower-cased name and type alone, so a write
indexes what it adds and never rebuilds what the entity already holds.
"""

from __future__ import annotations

OBSERVATION_TSV = "tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED"


def statements(schema: str) -> list[str]:
    s = schema
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"""CREATE TABLE IF NOT EXISTS {s}.entities (
            id bigserial PRIMARY KEY,
            namespace text NOT NULL,
            name text NOT NULL,
            entity_type text NOT NULL,
            version bigint NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            principal text NOT NULL,
            tool text NOT NULL,
            expires_at double precision,
            doc text NOT NULL DEFAULT '',
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', doc)) STORED,
            UNIQUE (namespace, name)
        )""",
        f"CREATE INDEX IF NOT EXISTS entities_text ON {s}.entities USING gin (tsv)",
        f"""CREATE INDEX IF NOT EXISTS entities_expiring
            ON {s}.entities (namespace, expires_at) WHERE expires_at IS NOT NULL""",
        f"""CREATE TABLE IF NOT EXISTS {s}.observations (
            id bigserial PRIMARY KEY,
            namespace text NOT NULL,
            entity text NOT NULL,
            content text NOT NULL,
            content_hash text NOT NULL,
            created_at double precision NOT NULL,
            principal text NOT NULL,
            tool text NOT NULL,
            expires_at double precision,
            superseded_by bigint,
            superseded_at double precision,
            vector bytea,
            {OBSERVATION_TSV}
        )""",
        f"""CREATE UNIQUE INDEX IF NOT EXISTS observations_current
            ON {s}.observations (namespace, entity, content_hash) WHERE superseded_by IS NULL""",
        f"CREATE INDEX IF NOT EXISTS observations_of_entity ON {s}.observations (namespace, entity, id)",
        f"CREATE INDEX IF NOT EXISTS observations_text ON {s}.observations USING gin (tsv) WHERE superseded_by IS NULL",
        f"CREATE INDEX IF NOT EXISTS observations_unembedded ON {s}.observations (id) WHERE vector IS NULL",
        f"""CREATE INDEX IF NOT EXISTS observations_expiring
            ON {s}.observations (expires_at) WHERE expires_at IS NOT NULL""",
        f"""CREATE TABLE IF NOT EXISTS {s}.relations (
            namespace text NOT NULL,
            source text NOT NULL,
            target text NOT NULL,
            relation_type text NOT NULL,
            created_at double precision NOT NULL,
            principal text NOT NULL,
            tool text NOT NULL,
            PRIMARY KEY (namespace, source, target, relation_type)
        )""",
        f"CREATE INDEX IF NOT EXISTS relations_to ON {s}.relations (namespace, target)",
    ]


LEGACY_QUERY = (
    "SELECT to_regclass($1) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute "
    "WHERE attrelid = to_regclass($1) AND attname = 'tsv' AND NOT attisdropped)"
)
"""``$1``: ``<schema>.observations``. True for a store that predates per-observation full text."""


def migration(schema: str) -> list[str]:
    """What turns a store with one text per entity into one with a text per observation (before :func:`statements`)."""
    s = schema
    return [
        f"ALTER TABLE {s}.observations ADD COLUMN IF NOT EXISTS {OBSERVATION_TSV}",
        f"UPDATE {s}.entities SET doc = lower(name || E'\\n' || entity_type)",
        f"ANALYZE {s}.observations",  # statistics of the new column, so searches plan on its index at once
    ]
