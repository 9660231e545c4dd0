"""BM25 over a collection's texts: ranking, the cache by revision, and the size cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy
import pytest

from servers.vectorstore.backends import BackendSettings, StoredDocument, VectorBackend, open_backend
from servers.vectorstore.keyword_index import Bm25, KeywordIndexCache, KeywordIndexError, tokenize
from servers.vectorstore.record import CollectionRecord

TEXTS = {
    "cats": "The cat sat on the mat and the cat purred",
    "dogs": "A dog barked at the postman in the morning",
    "stocks": "Stock markets fell as interest rates rose",
    "cooking": "Simmer the tomato sauce and season the pasta",
}


def test_the_tokenizer_lower_cases_splits_on_non_words_and_drops_stop_words() -> None:
    assert tokenize("The Cat's mat, and THE dog!") == ["cat", "s", "mat", "dog"]


def test_bm25_ranks_the_obvious_document_first() -> None:
    index = Bm25.build(list(TEXTS.items()))
    assert index.search("cat on a mat", 2)[0][0] == "cats"
    assert index.search("interest rates", 1)[0][0] == "stocks"
    assert index.search("the and of", 5) == []
    assert index.search("cat", 5, allowed_ids={"dogs"}) == []
    ranked = index.search("the dog and the cat", 4)
    assert {doc_id for doc_id, _ in ranked} == {"cats", "dogs"}
    assert all(score > 0 for _, score in ranked)


def test_a_rarer_term_weighs_more_than_a_common_one() -> None:
    index = Bm25.build([("a", "apple banana"), ("b", "apple cherry"), ("c", "apple date")])
    assert index.search("apple cherry", 1) == [
        ("b", pytest.approx(index.search("cherry", 1)[0][1] + index.search("apple", 3)[0][1]))
    ]


@pytest.fixture
async def chroma(tmp_path: Path) -> AsyncIterator[VectorBackend]:
    backend = open_backend("chroma", BackendSettings(path=tmp_path / "c"), tmp_path)
    await backend.open()
    await backend.create_collection("notes", CollectionRecord.new(embedder_kind="local", model="m", dimension=2))
    vector = numpy.ones(2, dtype=numpy.float32)
    await backend.upsert("notes", [StoredDocument(doc_id, text, {}, vector) for doc_id, text in TEXTS.items()])
    yield backend
    await backend.aclose()


@pytest.mark.anyio
async def test_the_index_is_reused_for_a_revision_and_rebuilt_after_a_write(chroma: VectorBackend) -> None:
    cache = KeywordIndexCache(max_documents=100)
    assert (await cache.search(chroma, "notes", "tomato pasta", 1))[0][0] == "cooking"
    assert (await cache.search(chroma, "notes", "dog", 1))[0][0] == "dogs"
    assert cache.builds == 1
    await chroma.upsert("notes", [StoredDocument("birds", "a bird sang a tomato song", {}, numpy.ones(2))])
    found = await cache.search(chroma, "notes", "bird", 3)
    assert cache.builds == 2
    assert found[0][0] == "birds"


@pytest.mark.anyio
async def test_a_collection_past_the_cap_is_refused_naming_the_setting(chroma: VectorBackend) -> None:
    cache = KeywordIndexCache(max_documents=3)
    with pytest.raises(KeywordIndexError) as refused:
        await cache.search(chroma, "notes", "cat", 1)
    assert refused.value.code == "keyword_index_too_large"
    assert "keyword_index_max_documents = 3" in refused.value.detail and "4 documents" in refused.value.detail
    assert cache.builds == 0
