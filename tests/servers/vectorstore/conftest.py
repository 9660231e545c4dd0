"""Fixtures of the vectorstore server tests (the backend behaviour suite has its own under backends/)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from servers.vectorstore.service import VectorService
from tests.servers.vectorstore.support import BACKENDS, MODES, service_for
from tests.support.chroma_server import chroma_server

__all__ = ["chroma_server"]


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[VectorService]:
    opened = service_for(tmp_path / "data", upsert_batch_size=2)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close_backends()
