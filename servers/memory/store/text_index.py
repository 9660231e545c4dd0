"""What the stores share about full text: the searchable texts, the words of a query, and how hits rank.

Each current observation is a searchable text of its own, and so is each entity's name and type:
a write indexes only what it adds, whatever the entity already holds. An entity matches a query
when every word (as a prefix) is in its name, its type or any of its current observations (any of
the words with ``any_word``); it ranks by :func:`entity_score` over its texts' scores per word.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable

WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 16
BEST_TEXTS = 3
"""Per query word, the number of an entity's best-scoring texts that count towards its rank."""


def entity_document(name: str, entity_type: str, observations: Iterable[str]) -> str:
    """An entity's name, type and current observations as one text (the Redis store's index unit)."""
    return "\n".join([name, entity_type, *observations])


def name_document(name: str, entity_type: str) -> str:
    """The text an entity is found by besides its observations: its name and its type."""
    return f"{name}\n{entity_type}"


def folded(text: str) -> str:
    """The case-folded form substring matching compares (the official server lower-cases both sides)."""
    return text.lower()


def query_words(query: str) -> list[str]:
    """The distinct words of ``query``, lower-cased, at most :data:`MAX_QUERY_WORDS`."""
    words: list[str] = []
    for word in WORD.findall(query.lower()):
        if word not in words:
            words.append(word)
    return words[:MAX_QUERY_WORDS]


def content_hash(content: str) -> str:
    """The key an observation is unique by within its entity (texts may be long)."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def squashed(score: float) -> float:
    """One text's relevance to one word, bounded below 1 so many weak texts do not outweigh a few strong ones."""
    return score / (1.0 + score) if score > 0 else 0.0


def word_score(text_scores: list[float]) -> float:
    """An entity's score for one word: the squashed scores of its :data:`BEST_TEXTS` best texts, summed."""
    if len(text_scores) == 1:  # most entities: one text per word (the same sum, without the sort)
        return squashed(text_scores[0])
    return sum(squashed(s) for s in sorted(text_scores, reverse=True)[:BEST_TEXTS])


def rank_entities(per_word: list[dict[str, list[float]]], any_word: bool, window: int) -> list[tuple[str, float]]:
    """Entities by relevance from each query word's ``{entity: [text scores]}``; the first ``window``.

    Without ``any_word`` an entity must have a text for every word (not necessarily the same text).
    Ties go by name.
    """
    if not per_word:
        return []
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for hits in per_word:
        for name, scores in hits.items():
            totals[name] = totals.get(name, 0.0) + word_score(scores)
            counts[name] = counts.get(name, 0) + 1
    needed = 1 if any_word else len(per_word)
    matched = totals.items() if needed == 1 else [(n, s) for n, s in totals.items() if counts[n] >= needed]
    return heapq.nsmallest(window, matched, key=lambda item: (-item[1], item[0]))


def merge_ranked(
    ranked: list[tuple[str, float]], substring: list[str], limit: int, offset: int
) -> list[tuple[str, float]]:
    """Full-text hits by relevance first, then substring-only matches in the order given; one page of it."""
    seen = {name for name, _ in ranked}
    merged = [*ranked, *((name, 0.0) for name in substring if name not in seen)]
    return merged[offset : offset + limit]


def needs_substring(ranked: list[tuple[str, float]], window: int) -> bool:
    """Whether substring matches can reach the page: only when the full-text hits do not fill ``window``."""
    return len(ranked) < window
