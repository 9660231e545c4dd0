"""Chunking with overlap and offsets, and ingest_files under the operator's roots with the deny globs."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from servers.vectorstore.chunking import chunk_text, content_id
from tests.servers.vectorstore.support import CORPUS, connect, data, suite_settings, text_of

pytestmark = pytest.mark.anyio

TEXT = " ".join(CORPUS * 4)


def test_chunks_stay_within_the_size_keep_their_offsets_and_overlap() -> None:
    chunks = chunk_text(TEXT, 120, 30)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(chunk.text) <= 120 and TEXT[chunk.start : chunk.end] == chunk.text
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # they overlap
        assert after.start > before.start
        assert TEXT[after.start - 1].isspace()  # a chunk starts at a word


def test_chunks_end_at_a_sentence_when_one_ends_in_their_second_half() -> None:
    chunks = chunk_text(TEXT, 120, 0)
    assert sum(chunk.text.endswith(".") for chunk in chunks[:-1]) >= len(chunks[:-1]) // 2


def test_a_word_longer_than_the_chunk_is_cut() -> None:
    chunks = chunk_text("x" * 250, 100, 10)
    assert [len(c.text) for c in chunks][:2] == [100, 100]


def test_an_overlap_as_large_as_the_chunk_is_refused() -> None:
    with pytest.raises(ValueError):
        chunk_text("text", 10, 10)


def test_content_ids_depend_on_the_content_only() -> None:
    assert content_id("a") == content_id("a") != content_id("b")
    assert len(content_id("a")) == 32


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    base = tmp_path / "docs"
    (base / "guides").mkdir(parents=True)
    (base / "guides" / "cats.md").write_text(CORPUS[0] + "\n" + CORPUS[2], encoding="utf-8")
    (base / "markets.txt").write_text(" ".join(CORPUS[3:5]), encoding="utf-8")
    (base / ".env").write_text("SECRET=hunter2\n", encoding="utf-8")
    (base / ".git").mkdir()
    (base / ".git" / "config").write_text("[core] secret\n", encoding="utf-8")
    (base / "server.key").write_text("-----BEGIN KEY-----\n", encoding="utf-8")
    (base / "image.bin").write_bytes(b"\x00\x01\x02" * 10)
    return base


async def test_ingest_files_takes_the_text_files_and_skips_denied_and_binary_ones(
    tmp_path: Path, folder: Path, mode: str
) -> None:
    settings = suite_settings(tmp_path / "data", ingest_roots=[{"path": folder}])
    async with connect(settings, mode) as client:
        data(await client.call_tool("create_collection", {"collection": "docs"}))
        first = data(await client.call_tool("ingest_files", {"collection": "docs", "path": str(folder)}))
        again = data(await client.call_tool("ingest_files", {"collection": "docs", "path": "."}))
        count = data(await client.call_tool("count_documents", {"collection": "docs"}))["count"]
        found = data(await client.call_tool("get_documents", {"collection": "docs", "limit": 50}))
    sources = sorted(Path(s).name for s in first["sources"])
    assert sources == ["cats.md", "markets.txt"]
    assert any("server.key" in s and "denied" in s for s in first["skipped"])
    assert any("image.bin" in s and "binary" in s for s in first["skipped"])
    texts = " ".join(doc["text"] for doc in found["documents"])
    assert "hunter2" not in texts and "secret" not in texts
    assert again["ids"] == first["ids"] and count == first["written"]  # ingesting again adds nothing


async def test_ingest_files_refuses_a_path_outside_the_roots_and_writes_nothing(
    tmp_path: Path, folder: Path, mode: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret", encoding="utf-8")
    (folder / "escape").symlink_to(outside)
    settings = suite_settings(tmp_path / "data", ingest_roots=[{"path": folder}])
    async with connect(settings, mode) as client:
        data(await client.call_tool("create_collection", {"collection": "docs"}))
        refused = await client.call_tool("ingest_files", {"collection": "docs", "path": str(outside)})
        through_link = await client.call_tool("ingest_files", {"collection": "docs", "path": "escape"})
        denied = await client.call_tool("ingest_files", {"collection": "docs", "path": ".env"})
        count = data(await client.call_tool("count_documents", {"collection": "docs"}))["count"]
    assert text_of(refused).startswith("outside_roots:")
    assert text_of(through_link).startswith("outside_roots:")
    assert text_of(denied).startswith("denied:")
    assert count == 0


async def test_ingest_files_without_roots_points_to_ingest_text(tmp_path: Path) -> None:
    async with connect(suite_settings(tmp_path / "data")) as client:
        data(await client.call_tool("create_collection", {"collection": "docs"}))
        refused = await client.call_tool("ingest_files", {"collection": "docs", "path": "/"})
    assert text_of(refused).startswith("no_ingest_roots:") and "`ingest_text`" in text_of(refused)
