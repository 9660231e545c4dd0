"""Reciprocal rank fusion and maximal marginal relevance."""

from __future__ import annotations

import numpy
import pytest

from servers.vectorstore.backends.base import Hit
from servers.vectorstore.ranking import mmr, rrf


def test_rrf_sums_reciprocal_ranks_and_favours_agreement() -> None:
    fused = rrf([["a", "b", "c"], ["b", "c", "d"]], k=60)
    assert [doc_id for doc_id, _ in fused] == ["b", "c", "a", "d"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)


def test_rrf_counts_an_id_once_per_ranking_and_breaks_ties_by_first_appearance() -> None:
    assert rrf([["x", "x", "y"]], k=0) == [("x", 1.0), ("y", pytest.approx(1 / 3))]
    assert [doc_id for doc_id, _ in rrf([["p"], ["q"]])] == ["p", "q"]
    assert rrf([]) == []
    with pytest.raises(ValueError, match="k"):
        rrf([["a"]], k=-1)


def hit(doc_id: str, vector: list[float]) -> Hit:
    return Hit(doc_id, None, {}, 0.0, numpy.asarray(vector, dtype=numpy.float32))


def test_mmr_skips_a_near_duplicate_for_a_diverse_second_pick() -> None:
    query = numpy.asarray([1.0, 0.0, 0.0])
    candidates = [hit("twin", [1.0, 0.12, 0.0]), hit("best", [1.0, 0.1, 0.0]), hit("other", [0.7, 0.0, 0.714])]
    assert [h.id for h in mmr(query, candidates, 2, lambda_=0.3)] == ["best", "other"]
    assert [h.id for h in mmr(query, candidates, 2, lambda_=1.0)] == ["best", "twin"]
    assert [h.id for h in mmr(query, candidates, 10, lambda_=0.3)] == ["best", "other", "twin"]


def test_mmr_refuses_candidates_without_vectors_and_bad_lambdas() -> None:
    with pytest.raises(ValueError, match="vector"):
        mmr(numpy.ones(2), [Hit("a", None, {}, 1.0)], 1)
    with pytest.raises(ValueError, match="lambda_"):
        mmr(numpy.ones(2), [hit("a", [1, 0])], 1, lambda_=1.5)
    assert mmr(numpy.ones(2), [], 3) == []
