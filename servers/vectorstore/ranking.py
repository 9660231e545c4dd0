"""Rank fusion and diversification for the query tool.

:func:`rrf` fuses several rankings (dense and BM25 for hybrid search) by reciprocal rank:
``score(d) = sum over rankings of 1 / (k + rank)`` with ranks from 1. :func:`mmr` re-orders
candidates by maximal marginal relevance: each pick maximises
``lambda_ * sim(query, d) - (1 - lambda_) * max sim(d, picked)``, cosine similarities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from servers.vectorstore.backends.base import Hit


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """The ids of ``rankings`` fused, best first; ties keep the order of first appearance.

    Raises:
        ValueError: ``k`` is negative.
    """
    if k < 0:
        raise ValueError("rrf's k must be zero or more")
    scores: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    order = {doc_id: index for index, doc_id in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def _unit(matrix: numpy.ndarray) -> numpy.ndarray:
    norms = numpy.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / numpy.where(norms == 0, 1.0, norms)


def mmr(query: numpy.ndarray, candidates: Sequence[Hit], k: int, lambda_: float = 0.5) -> list[Hit]:
    """Up to ``k`` of ``candidates`` by maximal marginal relevance (``lambda_`` 1 = relevance only, 0 = diversity only).

    Raises:
        ValueError: ``lambda_`` is outside [0, 1], or a candidate has no vector.
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError("mmr's lambda_ must be between 0 and 1")
    if k <= 0 or not candidates:
        return []
    if any(hit.vector is None for hit in candidates):
        raise ValueError("mmr needs every candidate's vector (query with include_vectors=True)")
    vectors = _unit(numpy.stack([numpy.asarray(hit.vector, dtype=numpy.float32).reshape(-1) for hit in candidates]))
    relevance = vectors @ _unit(numpy.asarray(query, dtype=numpy.float32).reshape(-1))
    similarity = vectors @ vectors.T
    picked: list[int] = []
    left = list(range(len(candidates)))
    redundancy = numpy.full(len(candidates), -numpy.inf, dtype=numpy.float32)
    while left and len(picked) < k:
        if picked:
            gains = [lambda_ * relevance[i] - (1.0 - lambda_) * redundancy[i] for i in left]
        else:
            gains = [float(relevance[i]) for i in left]
        best = left[int(numpy.argmax(gains))]
        picked.append(best)
        left.remove(best)
        redundancy = numpy.maximum(redundancy, similarity[best])
    return [candidates[i] for i in picked]
