"""Retrieval quality on the labelled set, per backend, through the server's service with the bundled model.

Every backend ingests the 220 labelled sentences (:mod:`tests.support.labelled_corpus`) with the
bundled all-MiniLM-L6-v2 and answers every query in dense, keyword and hybrid mode. A query counts
as found when a sentence of its topic is among the first three hits. Dense and hybrid must find at
least 90 % of the queries on every backend, and hybrid at least as many as dense; keyword mode is
measured and printed, not held to a floor (the queries are paraphrases, written to share few words
with the sentences).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers.vectorstore import writes
from servers.vectorstore.backends import BackendSettings
from servers.vectorstore.service import Mode, VectorService
from servers.vectorstore.settings import VectorstoreSettings
from tests.support.chroma_server import chroma_server
from tests.support.labelled_corpus import DOCUMENTS, QUERIES, TOPIC_SENTENCES, topic_in_top

__all__ = ["chroma_server"]

pytestmark = pytest.mark.anyio

BACKENDS = ("chroma-embedded", "chroma-server", "qdrant-local")
MODES: tuple[Mode, ...] = ("dense", "keyword", "hybrid")
FLOOR = 0.9
TOP = 3
COLLECTION = "labelled"


@dataclass
class Figures:
    """How many queries found their topic in the top three, per mode, and which ones did not."""

    backend: str
    found: dict[str, int] = field(default_factory=dict)
    misses: dict[str, list[str]] = field(default_factory=dict)

    def share(self, mode: str) -> float:
        return self.found[mode] / len(QUERIES)

    def report(self) -> str:
        lines = [f"retrieval quality on {self.backend} ({len(QUERIES)} queries, topic in the top {TOP}):"]
        for mode in MODES:
            lines.append(f"  {mode:<8} {self.found[mode]:>3}/{len(QUERIES)} = {self.share(mode):.1%}")
            lines.extend(f"    missed: {miss}" for miss in self.misses[mode])
        return "\n".join(lines)


def settings_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> BackendSettings:
    if kind == "chroma-embedded":
        return BackendSettings(kind="chroma", path=tmp_path / "chroma")
    if kind == "chroma-server":
        return BackendSettings(kind="chroma", url=request.getfixturevalue("chroma_server"))
    return BackendSettings(kind="qdrant", path=tmp_path / "qdrant")


@pytest.fixture(params=BACKENDS)
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorService]:
    kind = str(request.param)
    settings = VectorstoreSettings(backends={kind: settings_for(kind, request, tmp_path)})
    opened = VectorService(settings, tmp_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.delete_collection(kind, COLLECTION)
        await opened.aclose()


async def measure(service: VectorService) -> Figures:
    backend = service.settings.backend_default
    await service.create_collection(
        backend, COLLECTION, embedder=None, distance="cosine", metadata_fields=("topic",), description="labelled set"
    )
    documents = [writes.NewDocument(text=d.text, id=d.id, metadata={"topic": d.topic}) for d in DOCUMENTS]
    await writes.upsert_documents(service, backend, COLLECTION, documents)
    assert (await service.count(backend, COLLECTION, None)).count == len(DOCUMENTS)
    figures = Figures(backend)
    for mode in MODES:
        figures.found[mode], figures.misses[mode] = 0, []
        for query in QUERIES:
            result = await service.query(
                backend,
                COLLECTION,
                text=query.text,
                vector=None,
                top_k=TOP,
                mode=mode,
                where=None,
                score_threshold=None,
                use_mmr=False,
                mmr_lambda=0.5,
                embedder=None,
                max_text_chars=200,
            )
            ids = [hit.id for hit in result.hits]
            if topic_in_top(ids, query.topic, TOP):
                figures.found[mode] += 1
            else:
                figures.misses[mode].append(f"[{query.topic}] {query.text!r} -> {ids}")
    print(figures.report())
    return figures


def test_the_labelled_set_has_ten_topics_of_twenty_distinct_sentences_and_five_queries_each() -> None:
    assert len(TOPIC_SENTENCES) == 10
    assert all(len(set(texts)) >= 20 for texts in TOPIC_SENTENCES.values())
    texts = [document.text for document in DOCUMENTS]
    assert len(set(texts)) == len(texts) >= 200
    assert len({document.id for document in DOCUMENTS}) == len(DOCUMENTS)
    per_topic = {topic: sum(query.topic == topic for query in QUERIES) for topic in TOPIC_SENTENCES}
    assert min(per_topic.values()) >= 5
    assert not {query.text for query in QUERIES} & set(texts), "a query copies a sentence"


def test_topic_in_top_looks_only_at_the_first_k_ids() -> None:
    ids = ["music-01", "cars-02", "history-03", "cooking-04"]
    assert topic_in_top(ids, "history", 3)
    assert not topic_in_top(ids, "cooking", 3)
    assert not topic_in_top(["no-such-id"], "cooking", 3)


async def test_dense_and_hybrid_find_the_topic_in_the_top_three_for_nine_queries_in_ten(
    service: VectorService,
) -> None:
    figures = await measure(service)
    assert figures.share("dense") >= FLOOR, figures.report()
    assert figures.share("hybrid") >= FLOOR, figures.report()


async def test_hybrid_finds_the_topic_for_at_least_as_many_queries_as_dense(service: VectorService) -> None:
    figures = await measure(service)
    assert figures.found["hybrid"] >= figures.found["dense"], "hybrid found fewer than dense\n" + figures.report()
