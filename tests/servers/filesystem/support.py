"""Helpers and fixtures for the filesystem tests: a root with sample files, an outside sentinel, clients."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from mesh.config import Settings
from servers.filesystem.server import build_server
from servers.filesystem.settings import FilesystemRoot
from suite.settings import SuiteSettings
from tests.support.tool_results import data as data  # re-exported for the tests that import it from here
from tests.support.tool_results import text_of as text_of

warnings.filterwarnings("ignore", message=".*deprecated.*")

MODES = ("legacy", "auto")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An allowed directory with a few ordinary files and a few the default deny globs hide."""
    base = tmp_path / "root"
    (base / "src").mkdir(parents=True)
    (base / "docs").mkdir()
    (base / "notes.txt").write_text("alpha\nbeta\ngamma\n", encoding="utf-8")
    (base / "src" / "main.py").write_text("def main():\n    return 42\n", encoding="utf-8")
    (base / "docs" / "guide.md").write_text("# Guide\n\nUse the tools.\n", encoding="utf-8")
    (base / ".env").write_text("SECRET=hunter2\n", encoding="utf-8")
    (base / ".git").mkdir()
    (base / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (base / "server.key").write_text("-----BEGIN KEY-----\n", encoding="utf-8")
    (base / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n", encoding="utf-8")
    return base


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A sentinel directory next to the root that no call may read or change."""
    base = tmp_path / "outside"
    base.mkdir()
    (base / "secret.txt").write_text("outside secret\n", encoding="utf-8")
    return base


def settings_for(data_dir: Path, *roots: tuple[Path, str], **filesystem: Any) -> Settings:
    configured = tuple(FilesystemRoot(path=path, mode="ro" if mode == "ro" else "rw") for path, mode in roots)
    return SuiteSettings(data_dir=data_dir, filesystem={"roots": configured, **filesystem})


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(*roots: tuple[Path, str], **filesystem: Any) -> Settings:
        return settings_for(tmp_path / "data", *roots, **filesystem)

    return make


@asynccontextmanager
async def connect(settings: Settings, mode: str = "auto", **client: Any) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode, **client) as session:
        yield session


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def open_root(root: Path, mode: str = "auto", **filesystem: Any) -> AsyncIterator[Client]:
    settings = settings_for(root.parent / "data", (root, "rw"), **filesystem)
    async with connect(settings, mode) as session:
        yield session


def refused(result: CallToolResult, fragment: str) -> None:
    """An is_error result whose text carries ``fragment`` (an error code) and no traceback."""
    assert result.is_error, f"expected a refusal containing {fragment!r}, got {result.structured_content!r}"
    message = text_of(result)
    assert fragment in message, message
    assert "Traceback" not in message


def snapshot(*directories: Path) -> dict[str, str]:
    """Every entry under ``directories``: files by content hash, links by target, directories by name."""
    seen: dict[str, str] = {}
    for directory in directories:
        for folder, dirs, files in os.walk(directory):
            for name in dirs + files:
                path = os.path.join(folder, name)
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    seen[path] = "link:" + os.readlink(path)
                elif stat.S_ISDIR(mode):
                    seen[path] = "dir"
                elif not stat.S_ISREG(mode):
                    seen[path] = f"special:{stat.S_IFMT(mode)}"
                else:
                    with open(path, "rb") as handle:
                        seen[path] = hashlib.sha256(handle.read()).hexdigest()
    return seen
