"""Full-text ranking done in the server, for stores without a text index of their own (Redis, Neo4j's fallback).

An entity's document (:func:`~servers.memory.store.text_index.entity_document`) becomes a bag of
words (:func:`term_counts`) and a set of character trigrams (:func:`trigrams`, for substring
matching without reading every document). :func:`bm25` scores the entities that hold the query's
words from their postings: the term frequencies of each query word's expansions (the indexed words
it is a prefix of), the document lengths and the collection's size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from servers.memory.store.text_index import WORD

K1 = 1.2
B = 0.75
GRAM = 3
MAX_EXPANSIONS = 64
"""Indexed words one query word may stand for as a prefix: the most postings one word reads."""


def term_counts(document: str) -> Counter[str]:
    """How often each lower-cased word occurs in ``document``."""
    return Counter(WORD.findall(document.lower()))


def trigrams(folded_text: str) -> set[str]:
    """The distinct three-character pieces of an already case-folded text."""
    return {folded_text[i : i + GRAM] for i in range(len(folded_text) - GRAM + 1)}


def bm25(
    postings: Mapping[str, Mapping[str, int]],
    lengths: Mapping[str, int],
    documents: int,
    average_length: float,
    *,
    any_word: bool = False,
) -> list[tuple[str, float]]:
    """Entities by BM25 score, best first (ties by name).

    ``postings`` maps each query word to ``{entity: frequency}`` (the frequencies of its prefix
    expansions summed); an entity must hold every query word, or any of them with ``any_word``.
    """
    if not postings:
        return []
    holders: set[str] | None = None
    for per_word in postings.values():
        names = set(per_word)
        holders = names if holders is None else (holders | names if any_word else holders & names)
    scores: dict[str, float] = {}
    average = average_length or 1.0
    for per_word in postings.values():
        frequency = len(per_word)
        idf = math.log(1.0 + (documents - frequency + 0.5) / (frequency + 0.5))
        for name, tf in per_word.items():
            if name not in (holders or ()):
                continue
            norm = tf + K1 * (1.0 - B + B * lengths.get(name, 0) / average)
            scores[name] = scores.get(name, 0.0) + idf * tf * (K1 + 1.0) / norm
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def expansions(word: str, vocabulary: Iterable[str]) -> list[str]:
    """The indexed words ``word`` is a prefix of, at most :data:`MAX_EXPANSIONS` (the word itself first)."""
    found = [w for w in vocabulary if w.startswith(word)]
    found.sort(key=lambda w: (w != word, len(w), w))
    return found[:MAX_EXPANSIONS]
