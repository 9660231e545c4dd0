"""Reads trust a collection's record for `record_cache_seconds`; two servers on one Chroma server show how.

The two services stand for two replicas behind the gateway: what one writes, the other reads from
the engine. Writes always read the record afresh; a query refused on a trusted record runs again on
a fresh one, so an operator sees the clear error of the collection as it now is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from servers.kit.tool_errors import CodedToolError
from servers.vectorstore import writes
from servers.vectorstore.service import VectorService
from servers.vectorstore.writes import NewDocument
from tests.servers.vectorstore.support import ANIMALS, QUERY_DEFAULTS, service_for

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def replica(tmp: Path, url: str, cache_seconds: float) -> AsyncIterator[VectorService]:
    service = service_for(tmp, backends={"chroma": {"kind": "chroma", "url": url}}, record_cache_seconds=cache_seconds)
    await service.open()
    try:
        yield service
    finally:
        await service.close_backends()


async def made(service: VectorService, name: str) -> None:
    await service.create_collection(
        "chroma", name, embedder=None, distance="cosine", metadata_fields=[], description=""
    )
    await writes.upsert_documents(service, "chroma", name, [NewDocument(text=t) for t in ANIMALS])


async def pin_elsewhere(service: VectorService, name: str, model: str) -> None:
    """The other replica re-pins the collection to another model of the same dimension."""
    engine, record = await service.collection("chroma", name)
    await engine.set_record(name, replace(record, model=model))


async def test_a_query_within_the_cache_time_trusts_the_record_it_read_before(
    tmp_path: Path, chroma_server: str
) -> None:
    async with replica(tmp_path / "a", chroma_server, 60) as one, replica(tmp_path / "b", chroma_server, 60) as two:
        await made(one, "trusted")
        assert (await one.query("chroma", "trusted", text="a cat", **QUERY_DEFAULTS)).hits
        await pin_elsewhere(two, "trusted", "another-model")
        answer = await one.query("chroma", "trusted", text="a cat", **QUERY_DEFAULTS)
    assert answer.hits, "the record read a moment ago was not trusted"


async def test_with_no_cache_time_a_query_reads_the_record_every_time(tmp_path: Path, chroma_server: str) -> None:
    async with replica(tmp_path / "a", chroma_server, 0) as one, replica(tmp_path / "b", chroma_server, 0) as two:
        await made(one, "fresh")
        assert (await one.query("chroma", "fresh", text="a cat", **QUERY_DEFAULTS)).hits
        await pin_elsewhere(two, "fresh", "another-model")
        with pytest.raises(CodedToolError) as refused:
            await one.query("chroma", "fresh", text="a cat", **QUERY_DEFAULTS)
    assert refused.value.code == "embedder_mismatch"
    assert "another-model" in str(refused.value)


async def test_a_write_reads_the_record_afresh_whatever_the_cache_time(tmp_path: Path, chroma_server: str) -> None:
    async with replica(tmp_path / "a", chroma_server, 60) as one, replica(tmp_path / "b", chroma_server, 60) as two:
        await made(one, "written")
        await pin_elsewhere(two, "written", "another-model")
        with pytest.raises(CodedToolError) as refused:
            await writes.upsert_documents(one, "chroma", "written", [NewDocument(text="A new line.")])
        count = (await one.count("chroma", "written", None)).count
    assert refused.value.code == "embedder_mismatch"
    assert count == len(ANIMALS), "a refused write changed the collection"


async def test_a_query_the_engine_refuses_on_a_trusted_record_runs_again_on_the_fresh_one(
    tmp_path: Path, chroma_server: str
) -> None:
    async with replica(tmp_path / "a", chroma_server, 60) as one, replica(tmp_path / "b", chroma_server, 60) as two:
        await made(one, "remade")
        assert (await one.query("chroma", "remade", text="a cat", **QUERY_DEFAULTS)).hits
        # The other replica drops the collection and makes it again with 3-dimensional vectors.
        engine, record = await two.collection("chroma", "remade")
        await engine.delete_collection("remade")
        small = replace(record, model="tiny", dimension=3)
        await engine.create_collection("remade", small)
        with pytest.raises(CodedToolError) as refused:
            await one.query("chroma", "remade", text="a cat", **QUERY_DEFAULTS)
    # Not the engine's dimension error: the record as it now is, and what this server would embed with.
    assert refused.value.code == "embedder_mismatch"
    assert "tiny" in str(refused.value)
