"""The PostgreSQL store's two hot writes, each one statement: ``create_entities`` and ``add_observations``.

A single statement runs as its own transaction, so the answer arrives once it is committed, in one
round trip. Inside it, a data-modifying ``WITH`` locks the entity rows first (:func:`locked_entities_sql`,
materialized before anything is written), inserts against the unique keys (``ON CONFLICT``: concurrent
writers of the same item store it once) and bumps each changed entity's version. An expired entity
of a name being created is deleted with its observations first; an expired observation of a text
being added again is written over, under a new id. Each step reads the one before it, which makes
PostgreSQL run them in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from servers.memory.store.base import EntityWrite, NewEntity, ObservationRecord, Provenance, UnknownEntity
from servers.memory.store.text_index import content_hash

LOCKED_COLUMNS = ("name", "entity_type", "version", "expires_at")
"""What a write reads of each entity it locks."""


def locked_entities_sql(s: str, names: str, columns: Sequence[str]) -> str:
    """The rows (live or expired) of the entities named in ``names``, a ``text[]`` sorted in Python, locked
    ``FOR UPDATE`` in that order. Each name is its own unique-index lookup whatever statistics the planner has
    (a ``FOR UPDATE`` subquery is never flattened into a join); with none, ``name = ANY(...)`` on the second
    key column was planned as a filter over the namespace's every row. Every locker in the store takes this
    one order, so two writers never deadlock."""
    outer, inner = ", ".join(f"e.{c}" for c in columns), ", ".join(columns)
    return f"""SELECT {outer} FROM unnest({names}) AS k(name) CROSS JOIN LATERAL (
        SELECT {inner} FROM {s}.entities WHERE namespace = $1 AND name = k.name FOR UPDATE
    ) e"""


def add_observations_sql(s: str) -> str:
    """``$1`` namespace, ``$2``-``$4`` entity, text and hash per text, ``$5`` the entities' names sorted,
    ``$6``-``$9`` the provenance (at, principal, tool, expires_at)."""
    return f"""
WITH input AS MATERIALIZED (
    SELECT t.entity, t.content, t.hash, t.n
    FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(entity, content, hash, n)
), locked AS MATERIALIZED (
    {locked_entities_sql(s, "$5::text[]", LOCKED_COLUMNS)}
), live AS MATERIALIZED (
    SELECT name, entity_type, version FROM locked WHERE expires_at IS NULL OR expires_at > $6
), ready AS MATERIALIZED (
    SELECT count(*) = cardinality($5::text[]) AS ok FROM live
), added AS (
    INSERT INTO {s}.observations AS o (namespace, entity, content, content_hash, created_at, principal, tool,
        expires_at)
    SELECT $1, i.entity, i.content, i.hash, $6, $7, $8, $9 FROM input i, ready WHERE ready.ok ORDER BY i.n
    ON CONFLICT (namespace, entity, content_hash) WHERE superseded_by IS NULL DO UPDATE
    SET id = DEFAULT, content = excluded.content, created_at = excluded.created_at,
        principal = excluded.principal, tool = excluded.tool, expires_at = excluded.expires_at, vector = NULL
    WHERE o.expires_at <= $6
    RETURNING o.id, o.entity, o.content
), bumped AS (
    UPDATE {s}.entities e SET version = e.version + 1, updated_at = $6
    WHERE e.namespace = $1 AND e.name IN (SELECT entity FROM added)
    RETURNING e.name, e.version
)
SELECT false AS added, l.name AS entity, l.entity_type AS text, coalesce(b.version, l.version) AS number
FROM live l LEFT JOIN bumped b ON b.name = l.name
UNION ALL
SELECT true, a.entity, a.content, a.id FROM added a"""


def create_entities_sql(s: str) -> str:
    """``$1`` namespace, ``$2``/``$3`` names (sorted) and types, ``$4``-``$7`` the provenance,
    ``$8``-``$10`` entity, text and hash of each observation."""
    return f"""
WITH locked AS MATERIALIZED (
    {locked_entities_sql(s, "$2::text[]", ("name", "expires_at"))}
), dropped AS (
    DELETE FROM {s}.entities WHERE namespace = $1 AND name IN (SELECT name FROM locked WHERE expires_at <= $4)
    RETURNING name
), dropped_observations AS (
    DELETE FROM {s}.observations WHERE namespace = $1 AND entity IN (SELECT name FROM dropped) RETURNING id
), created AS (
    INSERT INTO {s}.entities (namespace, name, entity_type, version, created_at, updated_at, principal, tool,
        expires_at, doc)
    SELECT $1, t.name, t.entity_type, 1, $4, $4, $5, $6, $7, lower(t.name || E'\\n' || t.entity_type)
    FROM unnest($2::text[], $3::text[]) AS t(name, entity_type)
    WHERE (SELECT count(*) FROM dropped_observations) >= 0 ORDER BY t.name
    ON CONFLICT (namespace, name) DO NOTHING
    RETURNING name
), added AS (
    INSERT INTO {s}.observations (namespace, entity, content, content_hash, created_at, principal, tool, expires_at)
    SELECT $1, o.entity, o.content, o.hash, $4, $5, $6, $7
    FROM unnest($8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS o(entity, content, hash, n)
    WHERE o.entity IN (SELECT name FROM created) ORDER BY o.n
    ON CONFLICT (namespace, entity, content_hash) WHERE superseded_by IS NULL DO NOTHING
    RETURNING id, entity, content
)
SELECT false AS added, name AS entity, NULL::text AS text, NULL::bigint AS number FROM created
UNION ALL
SELECT true, entity, content, id FROM added"""


def _record(row: Any, by: Provenance) -> ObservationRecord:
    return ObservationRecord(row["number"], row["entity"], row["text"], by.at, by.principal, by.tool, by.expires_at)


async def add_observations(
    db: Any, s: str, namespace: str, additions: Sequence[tuple[str, Sequence[str]]], by: Provenance
) -> list[EntityWrite]:
    """One statement; each addition's entity with its version after the write and the texts it added.

    Raises:
        UnknownEntity: an entity is not there (or expired); nothing is written.
    """
    texts: dict[str, list[str]] = {}
    for name, contents in additions:
        held = texts.setdefault(name, [])
        held.extend(c for c in dict.fromkeys(contents) if c not in held)
    pairs = [(name, c) for name, contents in texts.items() for c in contents]
    rows = await db.fetch(
        add_observations_sql(s),
        namespace,
        [name for name, _ in pairs],
        [c for _, c in pairs],
        [content_hash(c) for _, c in pairs],
        sorted(texts),
        by.at,
        by.principal,
        by.tool,
        by.expires_at,
    )
    entities = {r["entity"]: r for r in rows if not r["added"]}
    for name, _ in additions:
        if name not in entities:
            raise UnknownEntity(name)
    added = {(r["entity"], r["text"]): _record(r, by) for r in rows if r["added"]}
    written: list[EntityWrite] = []
    for name, contents in additions:
        mine = [added.pop((name, c)) for c in dict.fromkeys(contents) if (name, c) in added]
        row = entities[name]
        written.append(EntityWrite(name, row["text"], int(row["number"]), tuple(mine)))
    return written


async def create_entities(
    db: Any, s: str, namespace: str, entities: Sequence[NewEntity], by: Provenance
) -> list[EntityWrite]:
    """One statement; the entities created (a live name already there is skipped), in the order given."""
    first = {e.name: e for e in reversed(entities)}  # the first of each name wins
    names = sorted(first)
    pairs = [(name, c) for name in names for c in dict.fromkeys(first[name].observations)]
    rows = await db.fetch(
        create_entities_sql(s),
        namespace,
        names,
        [first[n].entity_type for n in names],
        by.at,
        by.principal,
        by.tool,
        by.expires_at,
        [name for name, _ in pairs],
        [c for _, c in pairs],
        [content_hash(c) for _, c in pairs],
    )
    created = {r["entity"] for r in rows if not r["added"]}
    added: dict[str, list[ObservationRecord]] = {}
    for row in rows:
        if row["added"]:
            added.setdefault(row["entity"], []).append(_record(row, by))
    order = {name: i for i, name in enumerate(dict.fromkeys(e.name for e in entities))}
    written = []
    for name in sorted(created, key=order.__getitem__):
        mine = sorted(added.get(name, []), key=lambda o: o.id)
        written.append(EntityWrite(name, first[name].entity_type, 1, tuple(mine)))
    return written
