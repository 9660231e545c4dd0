"""Chroma never embeds by itself: no embedding function runs and nothing is downloaded, embedded or server.

Chroma's default embedding function downloads an ONNX model on first use. Every way it could
start (the download, the model check, the functions' calls) is made to fail loudly here, the
Hugging Face libraries are told to stay offline, and connections anywhere but loopback are
refused; the whole backend surface must still work.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import numpy
import pytest

from servers.vectorstore.backends import StoredDocument, VectorBackend
from servers.vectorstore.filters import parse_filter
from servers.vectorstore.record import CollectionRecord

pytestmark = pytest.mark.anyio


class DownloadAttempted(AssertionError):
    pass


def refuse(self: Any, input: Any) -> Any:  # Chroma checks an embedding function's signature
    raise DownloadAttempted("Chroma tried to run an embedding model")


def refuse_download(*args: Any, **kwargs: Any) -> Any:
    raise DownloadAttempted("Chroma tried to download an embedding model")


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.api import types
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

    for attribute in ("_download", "_download_model_if_not_exists"):
        monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, attribute, refuse_download)
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__call__", refuse)
    monkeypatch.setattr(types.DefaultEmbeddingFunction, "__call__", refuse)
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(variable, "1")
    connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
                raise DownloadAttempted(f"a connection to {host} was attempted")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


def test_the_guard_catches_chromas_default_embedding_function(no_downloads: None) -> None:
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    with pytest.raises(DownloadAttempted):
        DefaultEmbeddingFunction()(["a sentence"])
    with pytest.raises(DownloadAttempted):
        ONNXMiniLM_L6_V2()._download_model_if_not_exists()
    with pytest.raises(DownloadAttempted):
        socket.create_connection(("192.0.2.1", 443), timeout=1)


@pytest.mark.parametrize("backend", ["chroma-embedded", "chroma-server"], indirect=True)
async def test_every_operation_works_without_an_embedding_function(
    no_downloads: None, backend: VectorBackend, name: str
) -> None:
    await backend.create_collection(name, CollectionRecord.new(embedder_kind="local", model="m", dimension=4))
    vectors = numpy.eye(4, dtype=numpy.float32)
    await backend.upsert(name, [StoredDocument(f"d{i}", f"sentence {i}", {"i": i}, vectors[i]) for i in range(4)])
    hits = await backend.query(name, vectors[2], 2, parse_filter({"i": {"$gte": 1}}))
    assert hits[0].id == "d2"
    assert len(await backend.get(name, None, None, 0, 10)) == 4
    assert [doc.id async for batch in backend.scan(name) for doc in batch]
    assert await backend.delete(name, ["d0"], None) == 1
    assert (await backend.record(name)).model == "m"
    assert name in await backend.list_collections()
