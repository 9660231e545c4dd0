"""A labelled retrieval set made in code: natural sentences on ten clearly different topics, and queries.

Nothing is downloaded. Every sentence was written for one topic, with its own vocabulary, and the
queries are worded as a person would ask (paraphrases, not fill-ins of the sentences), so dense
retrieval has to match meaning while keyword retrieval still finds some shared terms.

:data:`DOCUMENTS` holds one :class:`LabelledDocument` per sentence (ids ``<topic>-<nn>``),
:data:`QUERIES` one :class:`LabelledQuery` per query; :func:`topic_in_top` says whether a ranked
list of ids has a document of the query's topic among its first ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tests.support.labelled_corpus import queries, sentences_a, sentences_b


@dataclass(frozen=True)
class LabelledDocument:
    id: str
    text: str
    topic: str


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    topic: str


TOPIC_SENTENCES: dict[str, tuple[str, ...]] = {
    "cooking": sentences_a.COOKING,
    "astronomy": sentences_a.ASTRONOMY,
    "gardening": sentences_a.GARDENING,
    "programming": sentences_a.PROGRAMMING,
    "finance": sentences_a.FINANCE,
    "medicine": sentences_b.MEDICINE,
    "music": sentences_b.MUSIC,
    "marine": sentences_b.MARINE,
    "cars": sentences_b.CARS,
    "history": sentences_b.HISTORY,
}

DOCUMENTS: tuple[LabelledDocument, ...] = tuple(
    LabelledDocument(f"{topic}-{number:02d}", text, topic)
    for topic, texts in TOPIC_SENTENCES.items()
    for number, text in enumerate(texts, start=1)
)

QUERIES: tuple[LabelledQuery, ...] = tuple(
    LabelledQuery(text, topic) for topic, texts in queries.QUERIES.items() for text in texts
)

TOPIC_OF: dict[str, str] = {document.id: document.topic for document in DOCUMENTS}


def topic_in_top(ranked_ids: Sequence[str], topic: str, k: int = 3) -> bool:
    """Whether a document of ``topic`` is among the first ``k`` of ``ranked_ids``."""
    return any(TOPIC_OF.get(document_id) == topic for document_id in ranked_ids[:k])
