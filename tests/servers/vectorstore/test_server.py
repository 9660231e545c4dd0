"""The server's definition: its place in the suite, readiness, settings bounds and the HTTP body limit."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError

from gateway.settings import gateway_settings
from servers.vectorstore.server import DEFINITION, build_server
from servers.vectorstore.settings import VectorstoreSettings
from suite.known import load_definition
from suite.settings import load_suite_settings
from tests.servers.vectorstore.support import connect, data, suite_settings

pytestmark = pytest.mark.anyio


def test_the_suite_knows_the_vectorstore_on_its_port() -> None:
    assert load_definition("vectorstore") is DEFINITION
    settings = load_suite_settings()
    assert DEFINITION.port_of(settings) == 8503
    assert DEFINITION.body_limit(settings).setting == "vectorstore.max_ingest_bytes"


def test_the_gateway_hashes_vectorstore_calls_on_the_collection_by_default() -> None:
    group = gateway_settings(load_suite_settings()).servers["vectorstore"]
    assert (group.strategy, group.hash_argument) == ("consistent_hash", "collection")


def test_unknown_defaults_and_out_of_bounds_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        VectorstoreSettings(default_backend="milvus")
    with pytest.raises(ValidationError):
        VectorstoreSettings(default_embedder="missing")
    with pytest.raises(ValidationError):
        VectorstoreSettings(max_top_k=0)
    with pytest.raises(ValidationError):
        VectorstoreSettings(backends={})


async def test_readiness_pings_every_backend_and_reports_the_warm_embedder(tmp_path: Path) -> None:
    settings = suite_settings(tmp_path)
    async with connect(settings) as client:
        data(await client.call_tool("list_collections", {}))
        with anyio.fail_after(60):  # the lifespan warms the embedder beside the serving
            while not (ready := await DEFINITION.readiness(settings)).ready:
                assert ready.checks["embedder default"].startswith(("cold", "warming")), ready.checks
                await anyio.sleep(0.05)
    assert set(ready.checks) == {"backend chroma", "backend qdrant", "embedder default"}
    assert ready.checks["embedder default"].startswith("warm (local:all-MiniLM-L6-v2")


async def test_an_unreachable_backend_makes_the_server_not_ready(tmp_path: Path) -> None:
    settings = suite_settings(tmp_path, backends={"remote": {"kind": "chroma", "url": "http://127.0.0.1:9"}})
    build_server(settings)
    ready = await DEFINITION.readiness(settings)
    assert not ready.ready and "backend remote" in ready.checks
    assert "127.0.0.1:9" in ready.checks["backend remote"]


async def test_the_tools_work_on_a_chroma_server(tmp_path: Path, chroma_server: str) -> None:
    settings = suite_settings(tmp_path, backends={"shared": {"kind": "chroma", "url": chroma_server}})
    async with connect(settings) as client:
        data(await client.call_tool("create_collection", {"collection": "served-notes"}))
        data(await client.call_tool("upsert_documents", {"collection": "served-notes", "documents": [{"text": "hi"}]}))
        hits = data(await client.call_tool("query", {"collection": "served-notes", "text": "hello", "mode": "hybrid"}))
        data(await client.call_tool("delete_collection", {"collection": "served-notes", "confirm": True}))
    assert hits["backend"] == "shared" and hits["hits"][0]["text"] == "hi"
