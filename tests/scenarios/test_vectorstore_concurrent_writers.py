"""Two vectorstore server processes writing into one collection of one real Chroma server lose nothing.

Both run ``mcp-suite serve vectorstore --transport http`` on free ports against the same ``chroma
run`` (:mod:`tests.support.chroma_server`). Through the SDK client each sends several upserts at
once: a batch of ids of its own, and a batch of ids both send, with its own version of each text
(and a ``writer`` field naming it). Afterwards every document is there once, and every shared id
holds exactly one writer's version: its text and its metadata from the same writer, never a mix.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from mcp import Client

from tests.support.chroma_server import chroma_server
from tests.support.upstreams import free_port

__all__ = ["chroma_server"]

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
OWN = 120  # ids only one writer sends, per writer
SHARED = 80  # ids both writers send
CALL = 20  # documents per upsert call
READY_SECONDS = 120.0


@contextmanager
def vectorstore_process(tmp_path: Path, name: str, chroma_url: str) -> Iterator[str]:
    """One ``mcp-suite serve vectorstore`` child against ``chroma_url``; yields its MCP URL once it is ready."""
    port = free_port()
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump({"vectorstore": {"backends": {"chroma": {"kind": "chroma", "url": chroma_url}}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_SUITE_")}
    env.update({"PYTHONPATH": str(ROOT), "MCP_SUITE_DATA_DIR": str(tmp_path / f"data-{name}")})
    log = (tmp_path / f"{name}.log").open("wb")
    argv = [sys.executable, "-m", "suite.cli", "serve", "vectorstore", "--transport", "http", "--port", str(port)]
    process = subprocess.Popen([*argv, "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process, tmp_path / f"{name}.log")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the vectorstore server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # the poll interval of a deadline loop, not a synchronisation
    raise RuntimeError(f"the vectorstore server was not ready within {READY_SECONDS:.0f}s: {log.read_text()[-2000:]}")


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
