"""The tantivy backend: one writer at a time per index directory, and what a second writer is told."""

from __future__ import annotations

from pathlib import Path

import pytest
import tantivy

from servers.search.errors import SearchError
from servers.search.schema import IndexSchema
from servers.search.service import SearchService
from servers.search.settings import search_settings
from suite.settings import SuiteSettings

pytestmark = pytest.mark.anyio
SCHEMA = IndexSchema.model_validate({"fields": [{"name": "body", "type": "text"}]})


async def test_a_write_while_another_process_holds_the_writer_is_index_locked_and_writes_nothing(
    tmp_path: Path,
) -> None:
    service = SearchService(search_settings(SuiteSettings(data_dir=tmp_path)), tmp_path)
    try:
        await service.create_index(None, "notes", SCHEMA)
        await service.index_documents(None, "notes", [("a", {"body": "river"})])
        # What another process holding the directory's writer looks like: tantivy's lock file is taken.
        other = tantivy.Index.open(str(tmp_path / "search" / "tantivy" / "notes" / "tantivy"))
        holder = other.writer(15_000_000, 1)
        with pytest.raises(SearchError) as refused:
            await service.index_documents(None, "notes", [("b", {"body": "river"})])
        del holder
        counted = await service.count(None, "notes", None, None, None, "and")
        await service.index_documents(None, "notes", [("b", {"body": "river"})])
        after = await service.count(None, "notes", None, None, None, "and")
    finally:
        await service.close_backends()
    assert refused.value.code == "index_locked" and "postgres backend" in refused.value.detail
    assert counted.count == 1 and after.count == 2  # the lock freed, the same write goes through


async def test_many_writes_leave_few_segments(tmp_path: Path) -> None:
    service = SearchService(search_settings(SuiteSettings(data_dir=tmp_path, search={"batch_size": 20})), tmp_path)
    try:
        await service.create_index(None, "notes", SCHEMA)
        for call in range(4):
            await service.index_documents(None, "notes", [(f"{call}-{i}", {"body": "river"}) for i in range(100)])
        engine = await service.backend(None)
        opened = engine._open["notes"]  # type: ignore[attr-defined]
        segments = opened.index.searcher().num_segments
    finally:
        await service.close_backends()
    assert segments < 10  # 20 commits; the merges each one starts finish, so far fewer segments remain
