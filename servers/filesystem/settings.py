"""The filesystem server's settings: the ``filesystem:`` section of the suite's configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mesh.config import ServerSettings, Settings, section
from servers.kit.paths.settings import DEFAULT_DENY_GLOBS, PathRoot
from servers.runtime.definition import BodyLimit

SECTION = "filesystem"
FILESYSTEM_PORT = 8501


FilesystemRoot = PathRoot


class FilesystemSettings(ServerSettings):
    port: int = Field(default=FILESYSTEM_PORT, ge=0, le=65535)
    roots: tuple[FilesystemRoot, ...] = ()
    deny: tuple[str, ...] = DEFAULT_DENY_GLOBS
    max_read_bytes: int = Field(default=256 * 1024, ge=1024)
    max_media_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_write_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_results: int = Field(default=500, ge=1)
    trash_dir: Path | None = None
    default_read_bytes: int = Field(default=64 * 1024, ge=1024)
    max_scan_entries: int = Field(default=100_000, ge=100)
    max_grep_file_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    search_timeout_seconds: float = Field(default=20.0, gt=0, le=600)


def filesystem_settings(settings: Settings) -> FilesystemSettings:
    """The ``filesystem:`` section of ``settings``."""
    return section(settings, SECTION, FilesystemSettings)


JSON_TEXT_OVERHEAD = 3
"""Bytes of JSON per byte of UTF-8 text at most, control characters aside: ``\\uXXXX`` spells a two-byte
character in six bytes, a four-byte one as a surrogate pair in twelve."""
ENVELOPE_BYTES = 64 * 1024
"""Room for the JSON-RPC envelope, the path and the other arguments of the largest write."""


def body_limit(settings: Settings) -> BodyLimit:
    """The HTTP body limit: a ``write_file`` of ``max_write_bytes`` fits whatever JSON escaping it needs."""
    own = filesystem_settings(settings)
    return BodyLimit(own.max_write_bytes * JSON_TEXT_OVERHEAD + ENVELOPE_BYTES, "filesystem.max_write_bytes")
