"""One query suite on every backend over the same generated corpus: same counts, top hits, facets and pages.

The corpus (2,400 documents with text, keyword, number and date fields) is indexed once per session
on tantivy, PostgreSQL and OpenSearch (live with ``OPENSEARCH_URL``, else ``opensearch_double``); every expectation is also computed from the corpus itself, so a backend
that agreed with the other on a wrong answer would still fail.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from servers.search.request import FilterClause, SortKey
from servers.search.service import SearchService
from tests.servers.search.conftest import CORPUS_INDEX
from tests.servers.search.support import BACKENDS, RARE_WORD, CorpusDoc, contains_phrase

pytestmark = pytest.mark.anyio


async def count_on(service: SearchService, backend: str, text: str | None, **kw: object) -> int:
    result = await service.count(
        backend, CORPUS_INDEX, text, kw.get("fields"), kw.get("filters"), kw.get("operator", "and")
    )  # type: ignore[arg-type]
    return result.count


async def search_on(service: SearchService, backend: str, text: str | None, **kw: object):  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "text": text,
        "fields": None,
        "filters": None,
        "operator": "and",
        "sort": None,
        "return_fields": None,
        "highlight": None,
        "snippet_chars": None,
        "facets": None,
        "facet_size": 10,
        "limit": None,
        "cursor": None,
    } | kw
    return await service.search(backend, CORPUS_INDEX, **arguments)  # type: ignore[arg-type]


def expected(corpus: list[CorpusDoc], keep) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for doc in corpus if keep(doc))


async def test_counts_agree_with_the_corpus_on_every_backend(
    corpus_service: SearchService, corpus: list[CorpusDoc]
) -> None:
    cases = {
        "river": lambda d: "river" in d.words(),
        "river engine": lambda d: {"river", "engine"} <= set(d.words()),
        "river OR engine": lambda d: bool({"river", "engine"} & set(d.words())),
        "river -engine": lambda d: "river" in d.words() and "engine" not in d.words(),
        "(river OR comet) AND NOT tiger": lambda d: (
            bool({"river", "comet"} & set(d.words())) and "tiger" not in d.words()
        ),
    }
    for text, keep in cases.items():
        truth = expected(corpus, keep)
        assert truth > 0, text
        for backend in BACKENDS:
            assert await count_on(corpus_service, backend, text) == truth, (backend, text)


async def test_phrases_match_words_side_by_side_only(corpus_service: SearchService, corpus: list[CorpusDoc]) -> None:
    pairs = Counter((d.body[i], d.body[i + 1]) for d in corpus for i in range(len(d.body) - 1))
    (first, second), _ = pairs.most_common(1)[0]
    truth = expected(corpus, lambda d: contains_phrase(d.body, [first, second]))
    loose = expected(corpus, lambda d: {first, second} <= set(d.body))
    assert 0 < truth < loose
    for backend in BACKENDS:
        assert await count_on(corpus_service, backend, f'"{first} {second}"', fields=["body"]) == truth, backend


async def test_filters_on_keyword_number_and_date_fields_agree(
    corpus_service: SearchService, corpus: list[CorpusDoc]
) -> None:
    since, until = (
        datetime.fromisoformat("2021-01-01T00:00:00+00:00"),
        datetime.fromisoformat("2022-06-30T00:00:00+00:00"),
    )
    filters = [
        FilterClause(field="category", any_of=["botany", "music"]),
        FilterClause(field="price", gte=1000, lt=6000),
        FilterClause(field="published", gte="2021-01-01T00:00:00Z", lte="2022-06-30T00:00:00Z"),
    ]
    truth = expected(
        corpus,
        lambda d: d.category in ("botany", "music") and 1000 <= d.price < 6000 and since <= d.published <= until,
    )
    negated = [FilterClause(field="category", equals="music", negate=True)]
    not_music = expected(corpus, lambda d: d.category != "music" and "river" in d.words())
    assert truth > 0
    for backend in BACKENDS:
        assert await count_on(corpus_service, backend, None, filters=filters) == truth, backend
        assert await count_on(corpus_service, backend, "river", filters=negated) == not_music, backend


async def test_top_results_are_the_same_on_every_backend(
    corpus_service: SearchService, corpus: list[CorpusDoc]
) -> None:
    rare = {d.id for d in corpus if RARE_WORD in d.words()}
    for backend in BACKENDS:
        result = await search_on(corpus_service, backend, f"{RARE_WORD} OR river", limit=len(rare))
        assert {hit.id for hit in result.hits} == rare, backend
        assert all(hit.score is not None and hit.score > 0 for hit in result.hits)


async def test_sorted_pages_are_identical_and_follow_the_field(
    corpus_service: SearchService, corpus: list[CorpusDoc]
) -> None:
    truth = sorted((d for d in corpus if "garden" in d.words()), key=lambda d: d.price, reverse=True)[:20]
    for backend in BACKENDS:
        result = await search_on(
            corpus_service, backend, "garden", sort=[SortKey(field="price", order="desc")], limit=20
        )
        assert [hit.id for hit in result.hits] == [d.id for d in truth], backend
        assert [hit.sort_values[0] for hit in result.hits] == [d.price for d in truth]


async def test_facets_count_every_match_the_same_way(corpus_service: SearchService, corpus: list[CorpusDoc]) -> None:
    truth = Counter(d.category for d in corpus if "copper" in d.words())
    want = sorted(truth.items(), key=lambda item: (-item[1], item[0]))[:5]
    for backend in BACKENDS:
        result = await search_on(corpus_service, backend, "copper", facets=["category"], facet_size=5, limit=1)
        assert [(v.value, v.count) for v in result.facets["category"]] == want, backend


async def test_snippets_mark_the_matched_terms(corpus_service: SearchService) -> None:
    for backend in BACKENDS:
        result = await search_on(corpus_service, backend, "glacier", limit=10, highlight=["body", "title"])
        assert result.hits
        for hit in result.hits:
            marked = [s for texts in hit.snippets.values() for s in texts]
            assert marked, (backend, hit.id)
            assert all("<b>glacier</b>" in s.lower() for s in marked), (backend, marked)
            assert hit.fields == {}  # snippets, not whole documents


async def test_a_cursor_walks_every_hit_exactly_once(corpus_service: SearchService, corpus: list[CorpusDoc]) -> None:
    total = expected(corpus, lambda d: "meadow" in d.words() or "candle" in d.words())
    assert total > 150
    orders = {}
    for backend in BACKENDS:
        seen: list[str] = []
        cursor = None
        while True:
            page = await search_on(
                corpus_service,
                backend,
                "meadow OR candle",
                sort=[SortKey(field="published", order="asc")],
                limit=37,
                cursor=cursor,
            )
            assert page.total == total
            seen.extend(hit.id for hit in page.hits)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == total, backend
        orders[backend] = seen
    assert orders["tantivy"] == orders["postgres"] == orders["opensearch"]


async def test_fuzzy_words_run_on_tantivy_and_opensearch_and_postgres_refuses_them_naming_what_to_change(
    corpus_service: SearchService, corpus: list[CorpusDoc]
) -> None:
    truth = expected(corpus, lambda d: "glacier" in d.words())
    assert await count_on(corpus_service, "tantivy", "glaceir~1") == truth
    assert await count_on(corpus_service, "opensearch", "glaceir~1") == truth
    from servers.search.errors import SearchError

    with pytest.raises(SearchError) as refused:
        await count_on(corpus_service, "postgres", "glaceir~1")
    assert refused.value.code == "unsupported_query"
    assert "drop the ~" in refused.value.detail
