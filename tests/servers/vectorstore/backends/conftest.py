"""Every backend the behaviour suite runs on: Chroma embedded and as a server, Qdrant local, a Qdrant server (live)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from servers.vectorstore.backends import BackendError, BackendSettings, VectorBackend, open_backend
from tests.support.chroma_server import chroma_server

__all__ = ["chroma_server"]

BACKENDS = [
    "chroma-embedded",
    "chroma-server",
    "qdrant-local",
    pytest.param("qdrant-server", marks=pytest.mark.live),
]


def settings_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> BackendSettings:
    if kind == "chroma-embedded":
        return BackendSettings(kind="chroma", path=tmp_path / "chroma")
    if kind == "chroma-server":
        return BackendSettings(kind="chroma", url=request.getfixturevalue("chroma_server"))
    if kind == "qdrant-local":
        return BackendSettings(kind="qdrant", path=tmp_path / "qdrant")
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("set QDRANT_URL (and QDRANT_API_KEY if the server wants one) to run against a Qdrant server")
    key = os.environ.get("QDRANT_API_KEY")
    return BackendSettings(kind="qdrant", url=url, token=key or None)


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorBackend]:
    opened = open_backend(request.param, settings_for(request.param, request, tmp_path), tmp_path)
    await opened.open()
    made: list[str] = []
    opened.made = made
    try:
        yield opened
    finally:
        for name in made:
            with contextlib.suppress(BackendError):  # already gone: the test deleted it
                await opened.delete_collection(name)
        await opened.aclose()


@pytest.fixture
def name(backend: VectorBackend) -> str:
    """A collection name of this test alone (a shared server outlives it); removed afterwards."""
    chosen = f"t-{uuid.uuid4().hex[:12]}"
    backend.made.append(chosen)
    return chosen
