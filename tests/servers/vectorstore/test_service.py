"""The vectorstore service without MCP, on Chroma embedded and Qdrant local with the real local embedder."""

from __future__ import annotations

from typing import Any

import anyio
import numpy
import pytest

from servers.kit.tool_errors import CodedToolError
from servers.vectorstore import writes
from servers.vectorstore.chunking import content_id
from servers.vectorstore.record import CollectionRecord
from servers.vectorstore.service import VectorService
from servers.vectorstore.writes import DocumentChange, NewDocument
from tests.servers.vectorstore.support import ANIMALS, CORPUS, FINANCE, QUERY_DEFAULTS

pytestmark = pytest.mark.anyio


async def made(service: VectorService, backend: str, name: str = "notes", texts: list[str] | None = None) -> None:
    await service.create_collection(
        backend, name, embedder=None, distance="cosine", metadata_fields=["topic"], description="test notes"
    )
    docs = [
        NewDocument(text=t, metadata={"topic": "animals" if t in ANIMALS else "other", "n": i})
        for i, t in enumerate(texts if texts is not None else CORPUS)
    ]
    await writes.upsert_documents(service, backend, name, docs)


async def query(service: VectorService, backend: str, text: str, **options: Any) -> list[str]:
    result = await service.query(backend, "notes", **{**QUERY_DEFAULTS, "text": text, **options})
    return [hit.text or "" for hit in result.hits]


async def test_a_collection_records_the_embedder_it_was_made_with(service: VectorService, backend_name: str) -> None:
    info = await service.create_collection(
        backend_name, "pinned", embedder=None, distance="cosine", metadata_fields=[], description=""
    )
    assert (info.embedder_kind, info.model, info.dimension) == ("local", "all-MiniLM-L6-v2", 384)
    assert info.served_by == "default" and info.count == 0


async def test_documents_without_ids_get_content_hash_ids_so_sending_them_again_adds_nothing(
    service: VectorService, backend_name: str
) -> None:
    await made(service, backend_name)
    again = await writes.upsert_documents(service, backend_name, "notes", [NewDocument(text=t) for t in CORPUS])
    assert again.ids == [content_id(t) for t in CORPUS]
    assert (await service.count(backend_name, "notes", None)).count == len(CORPUS)


async def test_an_upsert_reports_progress_after_every_batch(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name, texts=[])
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        seen.append((done, total))

    result = await writes.upsert_documents(
        service, backend_name, "notes", [NewDocument(text=t) for t in CORPUS], progress=progress
    )
    assert seen == [(2, 6), (4, 6), (6, 6)] and result.batches == 3


async def test_a_cancelled_upsert_stops_between_batches_with_every_written_batch_whole(
    service: VectorService, backend_name: str
) -> None:
    await made(service, backend_name, texts=[])
    with anyio.CancelScope() as scope:

        async def progress(done: float, total: float | None, message: str) -> None:
            scope.cancel()  # the cancellation arrives while the first batch is being reported

        await writes.upsert_documents(
            service, backend_name, "notes", [NewDocument(text=t) for t in CORPUS], progress=progress
        )
    assert scope.cancelled_caught
    assert (await service.count(backend_name, "notes", None)).count == 2


async def test_a_collection_made_with_another_model_refuses_upserts_and_queries_and_changes_nothing(
    service: VectorService, backend_name: str
) -> None:
    engine = await service.backend(backend_name)
    record = CollectionRecord.new(embedder_kind="ollama", model="mxbai-embed-large", dimension=1024)
    await engine.create_collection("foreign", record)
    with pytest.raises(CodedToolError) as upsert:
        await writes.upsert_documents(service, backend_name, "foreign", [NewDocument(text="hello")])
    assert upsert.value.code == "embedder_mismatch"
    assert "ollama:mxbai-embed-large" in str(upsert.value) and "`reembed_collection`" in str(upsert.value)
    assert await engine.count("foreign") == 0
    with pytest.raises(CodedToolError) as asked:
        await service.query(
            backend_name,
            "foreign",
            text="hello",
            vector=None,
            top_k=3,
            mode="dense",
            where=None,
            score_threshold=None,
            use_mmr=False,
            mmr_lambda=0.5,
            embedder=None,
            max_text_chars=100,
        )
    assert asked.value.code == "embedder_mismatch"


async def test_an_unknown_collection_or_backend_is_named_in_the_error(
    service: VectorService, backend_name: str
) -> None:
    with pytest.raises(CodedToolError) as missing:
        await service.describe(backend_name, "nowhere")
    assert missing.value.code == "unknown_collection"
    with pytest.raises(CodedToolError) as backend:
        await service.describe("elasticsearch", "nowhere")
    assert backend.value.code == "unknown_backend" and "chroma" in str(backend.value)


async def test_a_bad_filter_is_refused_and_deletes_nothing(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name)
    with pytest.raises(CodedToolError) as refused:
        await writes.delete_documents(service, backend_name, "notes", None, {"n": {"$between": [1, 2]}})
    assert refused.value.code == "invalid_filter"
    assert (await service.count(backend_name, "notes", None)).count == len(CORPUS)


async def test_querying_an_empty_collection_says_so(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name, texts=[])
    with pytest.raises(CodedToolError) as empty:
        await query(service, backend_name, "anything")
    assert empty.value.code == "empty_collection"


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
async def test_dense_and_hybrid_queries_find_the_document_by_meaning(
    service: VectorService, backend_name: str, mode: str
) -> None:
    await made(service, backend_name)
    texts = await query(service, backend_name, "Which pet purrs when it is happy?", mode=mode)
    assert texts[0] == ANIMALS[0]


async def test_a_keyword_query_ranks_by_bm25_and_honours_the_filter(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name)
    assert (await query(service, backend_name, "interest rates", mode="keyword"))[0] == FINANCE[0]
    filtered = await query(service, backend_name, "interest rates park", mode="keyword", where={"topic": "animals"})
    assert filtered == [ANIMALS[1]]


async def test_a_score_threshold_drops_weak_hits_and_mmr_keeps_top_k(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name)
    strict = await query(service, backend_name, "cats purring contentedly", score_threshold=0.5, top_k=6)
    assert strict and len(strict) < len(CORPUS)
    diverse = await query(service, backend_name, "cats and kittens", use_mmr=True, mmr_lambda=0.3, top_k=3)
    assert len(diverse) == 3 and len(set(diverse)) == 3
    keyword = await query(service, backend_name, "cats dogs kitten park", mode="keyword", use_mmr=True, top_k=2)
    assert len(keyword) == 2 and set(keyword) <= set(ANIMALS)


async def test_get_documents_pages_with_a_cursor_and_cuts_long_texts(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await service.get_documents(
            backend_name, "notes", ids=None, where=None, cursor=cursor, limit=4, max_text_chars=20
        )
        seen.extend(doc.id for doc in page.documents)
        assert all(doc.text_truncated and "more characters" in (doc.text or "") for doc in page.documents)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(content_id(t) for t in CORPUS)
    by_id = await service.get_documents(
        backend_name,
        "notes",
        ids=[content_id(CORPUS[0]), "absent"],
        where=None,
        cursor=None,
        limit=10,
        max_text_chars=2000,
    )
    assert [d.text for d in by_id.documents] == [CORPUS[0]] and by_id.missing_ids == ["absent"]


async def test_a_metadata_update_keeps_the_vector_and_a_text_update_embeds_again(
    service: VectorService, backend_name: str
) -> None:
    await made(service, backend_name)
    engine = await service.backend(backend_name)
    first, second = content_id(CORPUS[0]), content_id(CORPUS[1])
    before = {d.id: d.vector for d in await engine.get("notes", [first, second], None, 0, 2, True)}
    await writes.update_documents(
        service,
        backend_name,
        "notes",
        [DocumentChange(id=first, metadata={"reviewed": True}), DocumentChange(id=second, text="Stocks and bonds.")],
    )
    after = {d.id: d for d in await engine.get("notes", [first, second], None, 0, 2, True)}
    assert numpy.allclose(after[first].vector, before[first]) and after[first].metadata["reviewed"] is True
    assert after[first].metadata["topic"] == "animals"
    assert not numpy.allclose(after[second].vector, before[second]) and after[second].text == "Stocks and bonds."


async def test_updating_an_unknown_document_changes_nothing(service: VectorService, backend_name: str) -> None:
    await made(service, backend_name)
    first = content_id(CORPUS[0])
    with pytest.raises(CodedToolError) as refused:
        await writes.update_documents(
            service,
            backend_name,
            "notes",
            [DocumentChange(id=first, metadata={"x": 1}), DocumentChange(id="absent", text="new")],
        )
    assert refused.value.code == "unknown_documents"
    engine = await service.backend(backend_name)
    assert "x" not in (await engine.get("notes", [first], None, 0, 1))[0].metadata


async def test_reembedding_moves_a_foreign_collection_to_the_local_model_with_progress(
    service: VectorService, backend_name: str
) -> None:
    from servers.vectorstore.backends import StoredDocument

    engine = await service.backend(backend_name)
    await engine.create_collection("legacy", CollectionRecord.new(embedder_kind="ollama", model="old", dimension=8))
    rng = numpy.random.default_rng(1)
    await engine.upsert(
        "legacy",
        [StoredDocument(id=f"d{i}", text=t, vector=rng.random(8).astype(numpy.float32)) for i, t in enumerate(CORPUS)],
    )
    seen: list[float] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        seen.append(done)

    moved = await writes.reembed_collection(service, backend_name, "legacy", None, progress=progress)
    assert moved.documents == len(CORPUS) and moved.previous_embedder.startswith("ollama:old")
    assert seen[-1] == 2 * len(CORPUS) and seen == sorted(seen)
    info = await service.describe(backend_name, "legacy")
    assert (info.model, info.dimension, info.count) == ("all-MiniLM-L6-v2", 384, len(CORPUS))
    hits = await service.query(
        backend_name,
        "legacy",
        text="stock market",
        vector=None,
        top_k=1,
        mode="dense",
        where=None,
        score_threshold=None,
        use_mmr=False,
        mmr_lambda=0.5,
        embedder=None,
        max_text_chars=200,
    )
    assert hits.hits[0].text == FINANCE[0]
