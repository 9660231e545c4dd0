"""What the stores share about full text: an entity's searchable document and the words of a query."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 16


def entity_document(name: str, entity_type: str, observations: Iterable[str]) -> str:
    """The text an entity is found by: its name, its type and its current observations."""
    return "\n".join([name, entity_type, *observations])


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


def merge_ranked(
    ranked: list[tuple[str, float]], substring: list[str], limit: int, offset: int
) -> list[tuple[str, float]]:
    """Full-text hits by relevance first, then substring-only matches in the order given; one page of it."""
    seen = {name for name, _ in ranked}
    merged = [*ranked, *((name, 0.0) for name in substring if name not in seen)]
    return merged[offset : offset + limit]
