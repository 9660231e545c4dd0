"""BM25 over a collection's texts, for keyword and hybrid search.

The index is built from ``backend.scan()`` and cached per (backend, collection, record revision):
the backends replace the revision after every write, so a cached index is reused until the
collection changes and rebuilt on the next search after that. Past ``max_documents`` a build is
refused with ``keyword_index_too_large`` naming the setting. Scoring is Okapi BM25 (``k1`` 1.2,
``b`` 0.75, idf ``ln(1 + (N - n + 0.5) / (n + 0.5))``); the tokenizer lower-cases, splits on
non-word characters and drops a small English stop list.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass

import anyio
import numpy
import numpy.typing as npt

from servers.kit.tool_errors import CodedToolError
from servers.vectorstore.backends.base import VectorBackend

K1 = 1.2
B = 0.75
WORD = re.compile(r"\w+")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)


class KeywordIndexError(CodedToolError):
    """``keyword_index_too_large``: the collection has more documents than the index may hold."""


def tokenize(text: str) -> list[str]:
    return [word for word in WORD.findall(text.lower()) if word not in STOP_WORDS]


@dataclass
class Bm25:
    """An immutable BM25 index over (id, text) pairs.

    Each term's posting holds its documents' positions and their BM25 term weights (everything but
    the idf, which depends only on the posting's length), so a search is a few array additions.
    """

    ids: list[str]
    positions: dict[str, int]  # id -> position in ``ids``
    postings: dict[str, tuple[npt.NDArray[numpy.int64], npt.NDArray[numpy.float64]]]
    idf: dict[str, float]

    @classmethod
    def build(cls, documents: list[tuple[str, str]]) -> Bm25:
        ids: list[str] = []
        counted: list[Counter[str]] = []
        for doc_id, text in documents:
            ids.append(doc_id)
            counted.append(Counter(tokenize(text)))
        lengths = numpy.fromiter((sum(c.values()) for c in counted), dtype=numpy.float64, count=len(counted))
        average = float(lengths.mean()) if len(lengths) else 0.0
        norms = K1 * (1.0 - B + B * lengths / (average or 1.0))
        raw: dict[str, tuple[list[int], list[int]]] = {}
        for index, counts in enumerate(counted):
            for term, frequency in counts.items():
                where, how_often = raw.setdefault(term, ([], []))
                where.append(index)
                how_often.append(frequency)
        total = len(ids)
        postings: dict[str, tuple[npt.NDArray[numpy.int64], npt.NDArray[numpy.float64]]] = {}
        idf: dict[str, float] = {}
        for term, (where, how_often) in raw.items():
            at = numpy.asarray(where, dtype=numpy.int64)
            tf = numpy.asarray(how_often, dtype=numpy.float64)
            postings[term] = (at, tf * (K1 + 1.0) / (tf + norms[at]))
            idf[term] = math.log(1.0 + (total - len(where) + 0.5) / (len(where) + 0.5))
        return cls(ids, {doc_id: i for i, doc_id in enumerate(ids)}, postings, idf)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query_text: str, k: int, allowed_ids: set[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``query_text`` (only those in ``allowed_ids`` when given), best
        first; equal scores in the order the documents were indexed."""
        if k <= 0 or not self.ids:
            return []
        scores = numpy.zeros(len(self.ids), dtype=numpy.float64)
        matched = False
        for term in set(tokenize(query_text)):
            posting = self.postings.get(term)
            if posting is not None:
                at, weights = posting
                scores[at] += self.idf[term] * weights  # a document appears once per posting
                matched = True
        if not matched:
            return []
        if allowed_ids is not None:
            allowed = numpy.zeros(len(self.ids), dtype=bool)
            allowed[[self.positions[i] for i in allowed_ids if i in self.positions]] = True
            scores[~allowed] = 0.0
        candidates = numpy.flatnonzero(scores > 0.0)
        if len(candidates) > k:  # keep every candidate tied with the k-th, then order exactly
            kth = numpy.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[scores[candidates] >= kth]
        order = candidates[numpy.lexsort((candidates, -scores[candidates]))][:k]
        return [(self.ids[i], float(scores[i])) for i in order]


class KeywordIndexCache:
    """BM25 indexes by (backend, collection, revision), the least recently used dropped past ``max_indexes``."""

    def __init__(self, max_documents: int, max_indexes: int = 8, setting: str = "keyword_index_max_documents") -> None:
        self.max_documents = max_documents
        self.max_indexes = max_indexes
        self.setting = setting
        self.builds = 0
        self._indexes: OrderedDict[tuple[str, str], tuple[str, Bm25]] = OrderedDict()
        self._locks: dict[tuple[str, str], anyio.Lock] = {}

    async def index(self, backend: VectorBackend, collection: str, revision: str | None = None) -> Bm25:
        """The index of ``collection`` at ``revision`` (read from the record when not given), built if needed.

        Raises:
            KeywordIndexError: ``keyword_index_too_large`` when the collection has more than ``max_documents``.
            BackendError: from the backend.
        """
        key = (backend.name, collection)
        if revision is None:
            revision = (await backend.record(collection)).revision
        cached = self._indexes.get(key)
        if cached is not None and cached[0] == revision:
            self._indexes.move_to_end(key)
            return cached[1]
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            cached = self._indexes.get(key)
            if cached is not None and cached[0] == revision:
                return cached[1]
            index = await self._build(backend, collection)
            self._indexes[key] = (revision, index)
            self._indexes.move_to_end(key)
            while len(self._indexes) > self.max_indexes:
                self._indexes.popitem(last=False)
            return index

    async def search(
        self,
        backend: VectorBackend,
        collection: str,
        query_text: str,
        k: int,
        allowed_ids: set[str] | None = None,
        revision: str | None = None,
    ) -> list[tuple[str, float]]:
        index = await self.index(backend, collection, revision)
        return index.search(query_text, k, allowed_ids)

    def forget(self, backend: str, collection: str) -> None:
        self._indexes.pop((backend, collection), None)

    async def _build(self, backend: VectorBackend, collection: str) -> Bm25:
        count = await backend.count(collection)
        if count > self.max_documents:
            raise self._too_large(collection, count)
        documents: list[tuple[str, str]] = []
        async for batch in backend.scan(collection):
            documents.extend((doc.id, doc.text) for doc in batch if doc.text)
            if len(documents) > self.max_documents:
                raise self._too_large(collection, len(documents))
        self.builds += 1
        return Bm25.build(documents)

    def _too_large(self, collection: str, count: int) -> KeywordIndexError:
        return KeywordIndexError(
            "keyword_index_too_large",
            f"collection {collection!r} has {count} documents, more than the keyword index may hold "
            f"({self.setting} = {self.max_documents}); use `query` with mode dense, or raise {self.setting}",
        )
