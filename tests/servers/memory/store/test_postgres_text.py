"""The PostgreSQL store's full text: a tsvector per observation, and a store of the old layout migrated on open."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest

from servers.memory.store.base import NewEntity, Provenance
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.memory.store.text_index import content_hash
from tests.servers.memory.store.legacy_probe import MIGRATED_FINDS, what_a_migrated_store_finds
from tests.servers.memory.support import POSTGRES_DSN

pytestmark = pytest.mark.anyio


def legacy_ddl(s: str) -> list[str]:
    """The tables as the store made them before full text moved to each observation row."""
    return [
        f"CREATE SCHEMA {s}",
        f"""CREATE TABLE {s}.entities (id bigserial PRIMARY KEY, namespace text NOT NULL, name text NOT NULL,
            entity_type text NOT NULL, version bigint NOT NULL, created_at double precision NOT NULL,
            updated_at double precision NOT NULL, principal text NOT NULL, tool text NOT NULL,
            expires_at double precision, doc text NOT NULL DEFAULT '',
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', doc)) STORED, UNIQUE (namespace, name))""",
        f"CREATE INDEX entities_text ON {s}.entities USING gin (tsv)",
        f"""CREATE TABLE {s}.observations (id bigserial PRIMARY KEY, namespace text NOT NULL, entity text NOT NULL,
            content text NOT NULL, content_hash text NOT NULL, created_at double precision NOT NULL,
            principal text NOT NULL, tool text NOT NULL, expires_at double precision, superseded_by bigint,
            superseded_at double precision, vector bytea)""",
        f"""CREATE UNIQUE INDEX observations_current ON {s}.observations (namespace, entity, content_hash)
            WHERE superseded_by IS NULL""",
        f"CREATE INDEX observations_of_entity ON {s}.observations (namespace, entity, id)",
        f"""CREATE TABLE {s}.relations (namespace text NOT NULL, source text NOT NULL, target text NOT NULL,
            relation_type text NOT NULL, created_at double precision NOT NULL, principal text NOT NULL,
            tool text NOT NULL, PRIMARY KEY (namespace, source, target, relation_type))""",
    ]


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"memory_legacy_{uuid.uuid4().hex[:10]}"
    yield name
    db = await asyncpg.connect(POSTGRES_DSN)
    try:
        await db.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await db.close()


async def legacy_store(s: str, now: float) -> None:
    """A schema in the old layout, written as the old code wrote it: each entity's whole text in ``doc``."""
    db = await asyncpg.connect(POSTGRES_DSN)
    try:
        for statement in legacy_ddl(s):
            await db.execute(statement)
        facts = {
            "Ada": ("person", [("sails a dinghy", None), ("bakes sourdough", None), ("lived in Paris", 1)]),
            "Bob": ("person", [("sails a yacht", None)]),
        }
        for name, (entity_type, observations) in facts.items():
            current = [text for text, superseded in observations if superseded is None]
            await db.execute(
                f"INSERT INTO {s}.entities (namespace, name, entity_type, version, created_at, updated_at, principal, "
                "tool, doc) VALUES ('ns', $1, $2, 1, $3, $3, 'old', 'create_entities', $4)",
                name,
                entity_type,
                now,
                "\n".join([name, entity_type, *current]).lower(),
            )
            for text, superseded in observations:
                await db.execute(
                    f"INSERT INTO {s}.observations (namespace, entity, content, content_hash, created_at, principal, "
                    "tool, superseded_by) VALUES ('ns', $1, $2, $3, $4, 'old', 'create_entities', $5)",
                    name,
                    text,
                    content_hash(text),
                    now,
                    superseded,
                )
    finally:
        await db.close()


async def test_a_store_of_the_old_layout_opens_migrated_and_searches_correctly(schema: str) -> None:
    await legacy_store(schema, time.time())
    store = PostgresGraphStore(POSTGRES_DSN, schema, max_size=2)
    await store.open()
    try:
        found = await what_a_migrated_store_finds(store)
        docs = await store._read(lambda db: db.fetch(f"SELECT name, doc FROM {schema}.entities ORDER BY name"))
    finally:
        await store.close()
    assert found == MIGRATED_FINDS
    assert [(r["name"], r["doc"]) for r in docs] == [("Ada", "ada\nperson"), ("Bob", "bob\nperson")]


async def test_reopening_a_migrated_store_keeps_it_as_it_is(schema: str) -> None:
    await legacy_store(schema, time.time())
    for _ in range(2):
        store = PostgresGraphStore(POSTGRES_DSN, schema, max_size=1)
        await store.open()
        await store.close()
    store = PostgresGraphStore(POSTGRES_DSN, schema, max_size=1)
    await store.open()
    try:
        hits = [h.name for h in await store.search("ns", "sourdough", 10, 0, time.time())]
    finally:
        await store.close()
    assert hits == ["Ada"]


async def test_an_entity_keeps_a_small_document_however_many_observations_it_gains(schema: str) -> None:
    store = PostgresGraphStore(POSTGRES_DSN, schema, max_size=2)
    by = Provenance("t", "add_observations", time.time())
    await store.open()
    try:
        await store.create_entities("ns", [NewEntity("Log", "journal", ())], by)
        for n in range(50):
            await store.add_observations("ns", [("Log", [f"entry {n}"])], by)
        doc = await store._read(lambda db: db.fetchval(f"SELECT doc FROM {schema}.entities"))
        indexed = await store._read(
            lambda db: db.fetchval(
                f"SELECT count(*) FROM {schema}.observations WHERE tsv @@ to_tsquery('simple', 'entry')"
            )
        )
    finally:
        await store.drop_schema()
        await store.close()
    assert doc == "log\njournal" and indexed == 50
