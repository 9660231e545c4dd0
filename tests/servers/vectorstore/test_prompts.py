"""The prompts: answering from a collection with citations, building a collection from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.vectorstore.support import connect, suite_settings

pytestmark = pytest.mark.anyio


async def test_the_answer_prompt_asks_for_a_hybrid_query_and_citations(tmp_path: Path, mode: str) -> None:
    async with connect(suite_settings(tmp_path), mode) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        prompt = await client.get_prompt(
            "answer_with_citations", {"question": "Why do cats purr?", "collection": "notes"}
        )
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert names == {"answer_with_citations", "build_collection_from_folder"}
    assert "`query`" in text and "hybrid" in text and "[id]" in text and "Why do cats purr?" in text


async def test_the_folder_prompt_walks_through_create_and_ingest_files(tmp_path: Path, mode: str) -> None:
    async with connect(suite_settings(tmp_path), mode) as client:
        prompt = await client.get_prompt(
            "build_collection_from_folder", {"folder": "docs", "collection": "handbook", "patterns": "*.md, *.rst"}
        )
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "`create_collection`" in text and "`ingest_files`" in text and "['*.md', '*.rst']" in text
