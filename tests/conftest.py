"""Shared test set-up: anyio on asyncio, and settings that never touch the user's real data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data dir and no stray MCP_SUITE_* settings or config file from the host."""
    import os

    for key in list(os.environ):
        if key.startswith("MCP_SUITE_"):
            monkeypatch.delenv(key, raising=False)
    data_dir = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("MCP_SUITE_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    yield data_dir
