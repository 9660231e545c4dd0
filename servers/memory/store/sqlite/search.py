"""The SQLite store's full text: one FTS5 row per current observation and per entity name, and search over them.

``search_text`` holds, folded to lower case, each current observation (rowid: the observation's
id) and each entity's name and type (rowid: minus the entity's id), with the namespace, the
entity's name and the expiry beside it, unindexed. A write adds or removes only the rows of what
it changes, so its cost does not grow with the entity. A query runs one FTS5 match per word;
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

TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(body, namespace UNINDEXED, entity UNINDEXED, "
    "expires_at UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')"
)
_INSERT = "INSERT INTO search_text (rowid, body, namespace, entity, expires_at) VALUES (?, ?, ?, ?, ?)"
_LIVE_HIT = (
    "(search_text.expires_at IS NULL OR search_text.expires_at > ?) AND (e.expires_at IS NULL OR e.expires_at > ?)"
)
_JOIN = "JOIN entities e ON e.namespace = search_text.namespace AND e.name = search_text.entity"


def index_entity(
    db: sqlite3.Connection, entity_id: int, namespace: str, name: str, entity_type: str, expires_at: float | None
) -> None:
    db.execute(_INSERT, (-entity_id, folded(name_document(name, entity_type)), namespace, name, expires_at))


def index_observations(
    db: sqlite3.Connection, namespace: str, entity: str, rows: Iterable[tuple[int, str, float | None]]
) -> None:
    """Make the observations ``rows`` (id, text, expiry) searchable."""
    db.executemany(_INSERT, [(oid, folded(text), namespace, entity, expires) for oid, text, expires in rows])


def unindex(db: sqlite3.Connection, rowids: Iterable[int]) -> None:
    """Remove rows by rowid: observation ids, or minus an entity's id for its name (one lookup each)."""
    db.executemany("DELETE FROM search_text WHERE rowid = ?", [(r,) for r in rowids])


def _ranked(
    db: sqlite3.Connection, namespace: str, words: Sequence[str], now: float, any_word: bool, window: int
) -> list[tuple[str, float]]:
    per_word: list[dict[str, list[float]]] = []
    for word in words:
        hits: dict[str, list[float]] = {}
        for name, score in db.execute(
            f"SELECT search_text.entity, -bm25(search_text) FROM search_text {_JOIN} "
            f"WHERE search_text MATCH ? AND search_text.namespace = ? AND {_LIVE_HIT}",
            (f'"{word}"*', namespace, now, now),
        ):
            hits.setdefault(name, []).append(score)
        if not hits and not any_word:
            return []  # every word is needed and this one is nowhere
        per_word.append(hits)
    return rank_entities(per_word, any_word, window)


def _substring(db: sqlite3.Connection, namespace: str, query: str, now: float, limit: int) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT search_text.entity FROM search_text {_JOIN} WHERE search_text.namespace = ? "
            f"AND instr(search_text.body, ?) > 0 AND {_LIVE_HIT} ORDER BY 1 LIMIT ?",
            (namespace, folded(query), now, now, limit),
        )
    ]


def search(
    db: sqlite3.Connection, namespace: str, query: str, limit: int, offset: int, now: float, any_word: bool
) -> list[SearchHit]:
    """Full-text hits by relevance, then substring-only matches by name; one page of them."""
    window = offset + limit
    words = query_words(query)
    ranked = _ranked(db, namespace, words, now, any_word, window) if words else []
    substring = _substring(db, namespace, query, now, window + len(ranked)) if needs_substring(ranked, window) else []
    return [SearchHit(name, score) for name, score in merge_ranked(ranked, substring, limit, offset)]


def migrate(db: sqlite3.Connection) -> bool:
    """Index an existing store written with one text per entity (``entity_text``); ``True`` if it was one.

    Runs in the transaction that opens the store, after :data:`TABLE` is created.
    """
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entity_text'").fetchone() is None:
        return False
    for entity_id, namespace, name, entity_type, expires_at in db.execute(
        "SELECT id, namespace, name, entity_type, expires_at FROM entities"
    ).fetchall():
        index_entity(db, entity_id, namespace, name, entity_type, expires_at)
    rows = db.execute(
        "SELECT id, content, namespace, entity, expires_at FROM observations WHERE superseded_by IS NULL"
    ).fetchall()
    db.executemany(_INSERT, [(oid, folded(text), ns, entity, expires) for oid, text, ns, entity, expires in rows])
    db.execute("DROP TABLE entity_text")
    columns = {r[1] for r in db.execute("PRAGMA table_info(entities)")}
    if "doc" in columns:
        db.execute("UPDATE entities SET doc = ''")  # the old whole-entity text, no longer read
    return True
