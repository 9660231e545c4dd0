"""The SQLite store's full text: one FTS5 row per current observation, and a store of the old layout migrated on open."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from servers.memory.store.base import NewEntity, Provenance
from servers.memory.store.sqlite.schema import SCHEMA_VERSION
from servers.memory.store.sqlite.store import SqliteGraphStore
from servers.memory.store.text_index import content_hash
from tests.servers.memory.store.legacy_probe import MIGRATED_FINDS, what_a_migrated_store_finds

pytestmark = pytest.mark.anyio

LEGACY_DDL = (
    """CREATE TABLE entities (id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,
        entity_type TEXT NOT NULL, version INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
        principal TEXT NOT NULL, tool TEXT NOT NULL, expires_at REAL, doc TEXT NOT NULL DEFAULT '',
        UNIQUE (namespace, name))""",
    """CREATE TABLE observations (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL,
        entity TEXT NOT NULL, content TEXT NOT NULL, content_hash TEXT NOT NULL, created_at REAL NOT NULL,
        principal TEXT NOT NULL, tool TEXT NOT NULL, expires_at REAL, superseded_by INTEGER, superseded_at REAL,
        vector BLOB)""",
    """CREATE UNIQUE INDEX observations_current ON observations (namespace, entity, content_hash)
        WHERE superseded_by IS NULL""",
    "CREATE INDEX observations_of_entity ON observations (namespace, entity, id)",
    "CREATE INDEX observations_unembedded ON observations (id) WHERE vector IS NULL",
    "CREATE INDEX observations_expiring ON observations (expires_at) WHERE expires_at IS NOT NULL",
    """CREATE TABLE relations (namespace TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
        relation_type TEXT NOT NULL, created_at REAL NOT NULL, principal TEXT NOT NULL, tool TEXT NOT NULL,
        PRIMARY KEY (namespace, source, target, relation_type))""",
    "CREATE INDEX relations_to ON relations (namespace, target)",
    "CREATE VIRTUAL TABLE entity_text USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
)
"""The tables as the store made them before full text moved to one row per observation."""


def legacy_store(path: Path, now: float) -> None:
    """A store in the old layout, written as the old code wrote it: each entity's whole text in ``entity_text``."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in LEGACY_DDL:
        db.execute(statement)
    facts = {
        "Ada": ("person", [("sails a dinghy", None), ("bakes sourdough", None), ("lived in Paris", 1)]),
        "Bob": ("person", [("sails a yacht", None)]),
    }
    for entity_id, (name, (entity_type, observations)) in enumerate(facts.items(), start=1):
        current = [text for text, superseded in observations if superseded is None]
        body = "\n".join([name, entity_type, *current])
        db.execute(
            "INSERT INTO entities VALUES (?, 'ns', ?, ?, 1, ?, ?, 'old', 'create_entities', NULL, ?)",
            (entity_id, name, entity_type, now, now, body.lower()),
        )
        db.execute("INSERT INTO entity_text (rowid, body) VALUES (?, ?)", (entity_id, body))
        for text, superseded in observations:
            db.execute(
                "INSERT INTO observations (namespace, entity, content, content_hash, created_at, principal, tool, "
                "superseded_by) VALUES ('ns', ?, ?, ?, ?, 'old', 'create_entities', ?)",
                (name, text, content_hash(text), now, superseded),
            )
    db.close()


async def test_a_store_of_the_old_layout_opens_migrated_and_searches_correctly(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    legacy_store(path, time.time())
    store = SqliteGraphStore(path)
    await store.open()
    try:
        found = await what_a_migrated_store_finds(store)
    finally:
        await store.close()
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert found == MIGRATED_FINDS
    assert "entity_text" not in tables and "search_text" in tables and version == SCHEMA_VERSION


async def test_reopening_a_migrated_store_indexes_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    legacy_store(path, time.time())
    for _ in range(2):
        store = SqliteGraphStore(path)
        await store.open()
        await store.close()
    db = sqlite3.connect(path)
    rows = db.execute("SELECT count(*) FROM search_text").fetchone()[0]
    db.close()
    assert rows == 2 + 3  # two names, three current observations


async def test_a_write_indexes_only_the_texts_it_adds_whatever_the_entity_holds(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    store = SqliteGraphStore(path)
    now = time.time()
    by = Provenance("t", "add_observations", now)
    await store.open()
    try:
        await store.create_entities("ns", [NewEntity("Log", "journal", ())], by)
        for n in range(50):
            await store.add_observations("ns", [("Log", [f"entry {n}"])], by)
        db = sqlite3.connect(path)
        bodies = [r[0] for r in db.execute("SELECT body FROM search_text ORDER BY rowid")]
        db.close()
    finally:
        await store.close()
    assert bodies == ["log\njournal", *(f"entry {n}" for n in range(50))]  # no text grows with the entity
