"""Two vectorstore server processes writing into one collection of one real Chroma server lose nothing.

Both run ``mcp-suite serve vectorstore --transport http`` on free ports against the same ``chroma
run`` (:mod:`tests.support.chroma_server`). Through the SDK client each sends several upserts at
once: a batch of ids of its own, and a batch of ids both send, with its own version of each text
(and a ``writer`` field naming it). Afterwards every document is there once, and every shared id
holds exactly one writer's version: its text and its metadata from the same writer, never a mix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from suite.bench.vectorstore_load import vectorstore_server
from tests.support.chroma_server import chroma_server

__all__ = ["chroma_server"]

pytestmark = pytest.mark.anyio
OWN = 120  # ids only one writer sends, per writer
SHARED = 80  # ids both writers send
CALL = 20  # documents per upsert call
READY_SECONDS = 120.0


@contextmanager
def vectorstore_process(tmp_path: Path, name: str, chroma_url: str) -> Iterator[str]:
    """One ``mcp-suite serve vectorstore`` child against ``chroma_url``, as the bench starts it; yields its MCP URL."""
    backend = {"kind": "chroma", "url": chroma_url}
    with vectorstore_server(tmp_path, name, backend, ready_seconds=READY_SECONDS) as (url, _pid):
        yield url


def own_documents(writer: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{writer}-{n}",
            "text": f"note {n} kept by writer {writer} about the harbour",
            "metadata": {"writer": writer},
        }
        for n in range(OWN)
    ]


def shared_documents(writer: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"shared-{n}",
            "text": f"shared note {n} in the version of writer {writer}",
            "metadata": {"writer": writer},
        }
        for n in range(SHARED)
    ]


def calls_of(writer: str) -> list[list[dict[str, Any]]]:
    """The writer's upsert calls: its own and the shared documents, interleaved call by call."""
    own, shared = own_documents(writer), shared_documents(writer)
    chunks = [own[i : i + CALL] for i in range(0, len(own), CALL)]
    shared_chunks = [shared[i : i + CALL] for i in range(0, len(shared), CALL)]
    calls: list[list[dict[str, Any]]] = []
    for index in range(max(len(chunks), len(shared_chunks))):
        calls.extend(part[index] for part in (chunks, shared_chunks) if index < len(part))
    return calls


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content}"
    return dict(result.structured_content or {})


async def every_document(client: Client, collection: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        arguments: dict[str, Any] = {"collection": collection, "limit": 100}
        if cursor:
            arguments["cursor"] = cursor
        page = await structured(client, "get_documents", arguments)
        for document in page["documents"]:
            assert document["id"] not in found, f"{document['id']} listed twice"
            found[document["id"]] = document
        cursor = page.get("next_cursor")
        if not cursor:
            return found


async def test_two_server_processes_upserting_into_one_chroma_collection_lose_nothing_and_mix_no_versions(
    tmp_path: Path, chroma_server: str
) -> None:
    collection = f"shared-{uuid.uuid4().hex[:10]}"
    with ExitStack() as stack:
        url_a = stack.enter_context(vectorstore_process(tmp_path, "a", chroma_server))
        url_b = stack.enter_context(vectorstore_process(tmp_path, "b", chroma_server))
        async with Client(url_a) as a, Client(url_b) as b:
            await structured(a, "create_collection", {"collection": collection, "metadata_fields": ["writer"]})
            described = await structured(b, "describe_collection", {"collection": collection})
            assert described["count"] == 0, "the second process does not see the collection the first made"

            async def write(client: Client, writer: str) -> None:
                async with anyio.create_task_group() as tg:
                    for documents in calls_of(writer):
                        tg.start_soon(
                            structured, client, "upsert_documents", {"collection": collection, "documents": documents}
                        )

            async with anyio.create_task_group() as tg:
                tg.start_soon(write, a, "a")
                tg.start_soon(write, b, "b")

            counted_a = await structured(a, "count_documents", {"collection": collection})
            counted_b = await structured(b, "count_documents", {"collection": collection})
            held = await every_document(b, collection)

    expected = 2 * OWN + SHARED
    assert counted_a["count"] == counted_b["count"] == expected, (counted_a, counted_b)
    assert len(held) == expected
    for writer in ("a", "b"):
        for document in own_documents(writer):
            assert held[document["id"]]["text"] == document["text"]
            assert held[document["id"]]["metadata"] == {"writer": writer}
    versions = {writer: {d["id"]: d["text"] for d in shared_documents(writer)} for writer in ("a", "b")}
    winners = {"a": 0, "b": 0}
    for n in range(SHARED):
        document = held[f"shared-{n}"]
        writer = document["metadata"].get("writer")
        assert writer in versions, f"shared-{n} holds metadata of no writer: {document['metadata']}"
        assert document["text"] == versions[writer][f"shared-{n}"], f"shared-{n} mixes the versions: {document}"
        winners[writer] += 1
    assert sum(winners.values()) == SHARED
