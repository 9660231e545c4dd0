"""The PostgreSQL store's search statements: per-word full-text ranking and the substring fallback.

Each query word is a prefix ``tsquery`` matched against the current observations (their GIN
index holds current rows only) and the entities' name-and-type documents. Per entity and word the
:data:`~servers.memory.store.text_index.BEST_TEXTS` best ``ts_rank`` scores count, squashed as
``r / (1 + r)``; an entity's score is the sum over the words, and without ``any_word`` it must
have every word somewhere (the same rule as :func:`~servers.memory.store.text_index.rank_entities`).
Observations of an expired entity not purged yet are left out through ``entities_expiring``, a
partial index that stays small while few entities have a TTL.
"""

from __future__ import annotations

from servers.memory.store.text_index import BEST_TEXTS


def search_sql(s: str) -> str:
    """``$1`` namespace, ``$2`` the words, ``$3`` now, ``$4`` the words an entity must have, ``$5`` how many."""
    return f"""
WITH words AS MATERIALIZED (
    SELECT w, to_tsquery('simple', w || ':*') AS q FROM unnest($2::text[]) AS w
), expired AS MATERIALIZED (
    SELECT name FROM {s}.entities WHERE namespace = $1 AND expires_at IS NOT NULL AND expires_at <= $3
), hits AS (
    SELECT o.entity AS name, words.w, ts_rank(o.tsv, words.q) AS r
    FROM words JOIN {s}.observations o ON o.tsv @@ words.q
    WHERE o.namespace = $1 AND o.superseded_by IS NULL AND (o.expires_at IS NULL OR o.expires_at > $3)
    AND o.entity NOT IN (SELECT name FROM expired)
    UNION ALL
    SELECT e.name, words.w, ts_rank(e.tsv, words.q)
    FROM words JOIN {s}.entities e ON e.tsv @@ words.q
    WHERE e.namespace = $1 AND (e.expires_at IS NULL OR e.expires_at > $3)
), best AS (
    SELECT name, w, r, row_number() OVER (PARTITION BY name, w ORDER BY r DESC) AS k FROM hits
), per_word AS (
    SELECT name, sum(r / (1 + r)) AS s FROM best WHERE k <= {BEST_TEXTS} GROUP BY name, w
)
SELECT name, sum(s) AS score FROM per_word GROUP BY name HAVING count(*) >= $4
ORDER BY score DESC, name COLLATE "C" LIMIT $5"""


def substring_sql(s: str) -> str:
    """``$1`` namespace, ``$2`` the query, ``$3`` now, ``$4`` how many: names whose name, type or a current
    observation holds the query, case-insensitively, by name."""
    return f"""
SELECT name FROM (
    SELECT e.name FROM {s}.entities e
    WHERE e.namespace = $1 AND strpos(e.doc, lower($2)) > 0 AND (e.expires_at IS NULL OR e.expires_at > $3)
    UNION
    SELECT o.entity FROM {s}.observations o
    WHERE o.namespace = $1 AND o.superseded_by IS NULL AND (o.expires_at IS NULL OR o.expires_at > $3)
    AND strpos(lower(o.content), lower($2)) > 0 AND o.entity NOT IN (
        SELECT name FROM {s}.entities WHERE namespace = $1 AND expires_at IS NOT NULL AND expires_at <= $3
    )
) m ORDER BY name COLLATE "C" LIMIT $4"""
