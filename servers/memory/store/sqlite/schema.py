"""The SQLite store's tables: entities, observations (with their history and vectors), relations, full text."""

from __future__ import annotations

from servers.memory.store.sqlite import search

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of a store with one full-text row per observation (1: one per entity)."""

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS entities (
        id INTEGER PRIMARY KEY,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        principal TEXT NOT NULL,
        tool TEXT NOT NULL,
        expires_at REAL,
        UNIQUE (namespace, name)
    )""",
    """CREATE TABLE IF NOT EXISTS observations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        entity TEXT NOT NULL,
        content TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        principal TEXT NOT NULL,
        tool TEXT NOT NULL,
        expires_at REAL,
        superseded_by INTEGER,
        superseded_at REAL,
        vector BLOB
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS observations_current
        ON observations (namespace, entity, content_hash) WHERE superseded_by IS NULL""",
    "CREATE INDEX IF NOT EXISTS observations_of_entity ON observations (namespace, entity, id)",
    "CREATE INDEX IF NOT EXISTS observations_unembedded ON observations (id) WHERE vector IS NULL",
    "CREATE INDEX IF NOT EXISTS observations_expiring ON observations (expires_at) WHERE expires_at IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS relations (
        namespace TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        relation_type TEXT NOT NULL,
        created_at REAL NOT NULL,
        principal TEXT NOT NULL,
        tool TEXT NOT NULL,
        PRIMARY KEY (namespace, source, target, relation_type)
    )""",
    "CREATE INDEX IF NOT EXISTS relations_to ON relations (namespace, target)",
    *search.TABLES,
)
