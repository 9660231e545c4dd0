"""The SQLite store's full text: one FTS5 row per current observation and per entity name, and search over them.

``search_body`` holds, folded to lower case, each current observation (id: the observation's id)
and each entity's name and type (id: minus the entity's id); ``search_text`` indexes it. A write
adds or removes only the rows of what it changes, so its cost does not grow with the entity. A query runs one FTS5 match per word;
:func:`~servers.memory.store.text_index.rank_entities` joins the words per entity, so word A in
one observation and word B in another still match. Every function runs inside the store's lock,
on its connection (and within the write's transaction for the writes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from servers.memory.store.base import SearchHit
from servers.memory.store.text_index import (
    folded,
    merge_ranked,
    name_document,
    needs_substring,
    query_words,
    rank_entities,
)

TABLES = (
    "CREATE TABLE IF NOT EXISTS search_body (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(body, content = 'search_body', content_rowid = 'id', "
    "tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE INDEX IF NOT EXISTS entities_expiring ON entities (namespace, expires_at) WHERE expires_at IS NOT NULL",
)
"""``search_body`` holds the folded texts (a plain table: substring matching scans it); ``search_text``
indexes it (FTS5 over external content, kept in step here, in the write's transaction)."""
_LIVE_OBSERVATION = "o.namespace = ? AND o.superseded_by IS NULL AND (o.expires_at IS NULL OR o.expires_at > ?)"
_LIVE_ENTITY = "e.namespace = ? AND (e.expires_at IS NULL OR e.expires_at > ?)"
# CROSS JOIN keeps the full-text match (or the scan of the texts) as the outer loop: a few hundred
# rows looked up by id, rather than every observation of the namespace probed against the index.
_HITS = (
    "SELECT o.entity, -bm25(search_text) FROM search_text CROSS JOIN observations o ON o.id = search_text.rowid "
    f"WHERE search_text MATCH ? AND search_text.rowid > 0 AND {_LIVE_OBSERVATION} "
    "UNION ALL "
    "SELECT e.name, -bm25(search_text) FROM search_text CROSS JOIN entities e ON e.id = -search_text.rowid "
    f"WHERE search_text MATCH ? AND search_text.rowid < 0 AND {_LIVE_ENTITY}"
)
_CONTAINING = (
    "SELECT o.entity FROM search_body b CROSS JOIN observations o ON o.id = b.id "
    f"WHERE b.id > 0 AND instr(b.body, ?) > 0 AND {_LIVE_OBSERVATION} "
    "UNION "
    "SELECT e.name FROM search_body b CROSS JOIN entities e ON e.id = -b.id "
    f"WHERE b.id < 0 AND instr(b.body, ?) > 0 AND {_LIVE_ENTITY} ORDER BY 1 LIMIT ?"
)


def _index(db: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> None:
    db.executemany("INSERT INTO search_body (id, body) VALUES (?, ?)", rows)
    db.executemany("INSERT INTO search_text (rowid, body) VALUES (?, ?)", rows)


def index_entity(db: sqlite3.Connection, entity_id: int, name: str, entity_type: str) -> None:
    _index(db, [(-entity_id, folded(name_document(name, entity_type)))])


def index_observations(db: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> None:
    """Make the observations ``rows`` (id, text) searchable."""
    _index(db, [(oid, folded(text)) for oid, text in rows])


def unindex(db: sqlite3.Connection, rowids: Iterable[int]) -> None:
    """Remove texts by id: observation ids, or minus an entity's id for its name (one lookup each)."""
    for rowid in rowids:
        db.execute(
            "INSERT INTO search_text (search_text, rowid, body) SELECT 'delete', id, body FROM search_body WHERE id = ?",
            (rowid,),
        )
        db.execute("DELETE FROM search_body WHERE id = ?", (rowid,))


def _expired_entities(db: sqlite3.Connection, namespace: str, now: float) -> set[str]:
    """The namespace's expired entities not purged yet (a partial index: cheap while few entities have a TTL)."""
    return {
        r[0]
        for r in db.execute(
            "SELECT name FROM entities WHERE namespace = ? AND expires_at IS NOT NULL AND expires_at <= ?",
            (namespace, now),
        )
    }


def _ranked(
    db: sqlite3.Connection,
    namespace: str,
    words: Sequence[str],
    now: float,
    any_word: bool,
    window: int,
    expired: set[str],
) -> list[tuple[str, float]]:
    per_word: list[dict[str, list[float]]] = []
    for word in words:
        match = f'"{word}"*'
        hits: dict[str, list[float]] = {}
        for name, score in db.execute(_HITS, (match, namespace, now, match, namespace, now)).fetchall():
            scores = hits.get(name)
            if scores is None:
                hits[name] = [score]
            else:
                scores.append(score)
        for name in expired.intersection(hits):
            del hits[name]
        if not hits and not any_word:
            return []  # every word is needed and this one is nowhere
        per_word.append(hits)
    return rank_entities(per_word, any_word, window)


def _substring(
    db: sqlite3.Connection, namespace: str, query: str, now: float, limit: int, expired: set[str]
) -> list[str]:
    needle = folded(query)
    rows = db.execute(_CONTAINING, (needle, namespace, now, needle, namespace, now, limit + len(expired)))
    return [r[0] for r in rows if r[0] not in expired][:limit]


def search(
    db: sqlite3.Connection, namespace: str, query: str, limit: int, offset: int, now: float, any_word: bool
) -> list[SearchHit]:
    """Full-text hits by relevance, then substring-only matches by name; one page of them."""
    window = offset + limit
    words = query_words(query)
    expired = _expired_entities(db, namespace, now)
    ranked = _ranked(db, namespace, words, now, any_word, window, expired) if words else []
    substring: list[str] = []
    if needs_substring(ranked, window):
        substring = _substring(db, namespace, query, now, window + len(ranked), expired)
    return [SearchHit(name, score) for name, score in merge_ranked(ranked, substring, limit, offset)]


def migrate(db: sqlite3.Connection) -> bool:
    """Index an existing store written with one text per entity (``entity_text``); ``True`` if it was one.

    Runs in the transaction that opens the store, after :data:`TABLES` are created.
    """
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entity_text'").fetchone() is None:
        return False
    for entity_id, name, entity_type in db.execute("SELECT id, name, entity_type FROM entities").fetchall():
        index_entity(db, entity_id, name, entity_type)
    index_observations(db, db.execute("SELECT id, content FROM observations WHERE superseded_by IS NULL").fetchall())
    db.execute("DROP TABLE entity_text")
    columns = {r[1] for r in db.execute("PRAGMA table_info(entities)")}
    if "doc" in columns:
        db.execute("UPDATE entities SET doc = ''")  # the old whole-entity text, no longer read
    return True
