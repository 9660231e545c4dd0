"""How the backends fail: an engine that cannot be reached, a locked local path, collections not made here."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from servers.vectorstore.backends import BackendError, BackendSettings, StoredDocument, VectorBackend, open_backend
from servers.vectorstore.record import CollectionRecord
from tests.support.chroma_server import free_port

pytestmark = pytest.mark.anyio


def record() -> CollectionRecord:
    return CollectionRecord.new(embedder_kind="local", model="m", dimension=2)


@pytest.mark.parametrize("kind", ["chroma", "qdrant"])
async def test_a_server_nobody_listens_on_is_unavailable(kind: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    backend = open_backend("remote", BackendSettings(kind=kind, url=url, timeout_seconds=2), tmp_path)  # type: ignore[arg-type]
    assert backend.location == url
    with pytest.raises(BackendError) as refused:
        await backend.open()
        await backend.ping()
    assert refused.value.code == "backend_unavailable"
    assert "remote" in refused.value.detail and url in refused.value.detail


async def test_a_qdrant_local_path_in_use_is_unavailable_to_a_second_client(tmp_path: Path) -> None:
    settings = BackendSettings(kind="qdrant", path=tmp_path / "q")
    first = open_backend("first", settings, tmp_path)
    await first.open()
    try:
        second = open_backend("second", settings, tmp_path)
        with pytest.raises(BackendError) as refused:
            await second.open()
        assert refused.value.code == "backend_unavailable"
        assert "another process" in refused.value.detail
    finally:
        await first.aclose()


def test_the_location_of_a_server_hides_its_credentials(tmp_path: Path) -> None:
    settings = BackendSettings(kind="chroma", url="https://user:pw@chroma.example:8443/base?token=x")
    assert open_backend("c", settings, tmp_path).location == "https://chroma.example:8443/base"
    assert open_backend("e", BackendSettings(), tmp_path).location == str(tmp_path / "vectorstore" / "e")


def test_settings_refuse_a_path_and_a_url_together() -> None:
    with pytest.raises(ValueError, match="either a path"):
        BackendSettings(path=Path("/tmp/x"), url="http://127.0.0.1:8000")
    with pytest.raises(ValueError, match="http"):
        BackendSettings(url="ftp://somewhere")


async def test_a_collection_made_elsewhere_is_reported_as_not_made_here(backend: VectorBackend, name: str) -> None:
    client = backend._client  # type: ignore[attr-defined]
    if backend.kind == "chroma":
        client.create_collection(name, embedding_function=None)
    else:
        from qdrant_client import models

        client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE))
    assert name in await backend.list_collections()
    with pytest.raises(BackendError) as refused:
        await backend.record(name)
    assert refused.value.code == "unknown_collection"
    assert "not made by this server" in refused.value.detail
    with pytest.raises(BackendError):
        await backend.upsert(name, [StoredDocument("a", None, {}, numpy.ones(2, dtype=numpy.float32))])


@pytest.mark.parametrize("backend", ["chroma-server"], indirect=True)
async def test_a_collection_recreated_by_another_client_is_found_again(
    backend: VectorBackend, name: str, chroma_server: str, tmp_path: Path
) -> None:
    other = open_backend("other", BackendSettings(kind="chroma", url=chroma_server), tmp_path)
    await other.open()
    vector = numpy.ones(2, dtype=numpy.float32)
    await backend.create_collection(name, record())
    await backend.upsert(name, [StoredDocument("old", None, {}, vector)])
    await other.delete_collection(name)
    await other.create_collection(name, record())
    await backend.upsert(name, [StoredDocument("new", None, {}, vector)])
    assert [doc.id for doc in await other.get(name, None, None, 0, 10)] == ["new"]
    await other.aclose()


async def test_a_chroma_server_that_never_answers_times_out_as_unavailable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        backend = open_backend("mute", BackendSettings(kind="chroma", url=url, timeout_seconds=0.5), tmp_path)
        with pytest.raises(BackendError) as refused:
            await backend.open()
        assert refused.value.code == "backend_unavailable"
        assert "did not answer within 0.5 s" in refused.value.detail
