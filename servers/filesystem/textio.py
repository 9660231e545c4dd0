"""Bytes-level helpers shared by the readers, writers and searchers: hashing, line endings, MIME, times."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
from datetime import UTC, datetime

from servers.filesystem.models import EntryType, LineEnding

SNIFF_BYTES = 8192
HASH_CHUNK = 1024 * 1024

mimetypes.init()
_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".py": "text/x-python",
    ".ts": "text/x-typescript",
    ".toml": "application/toml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".webp": "image/webp",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".opus": "audio/opus",
}
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"WAVE", 8, "audio/wav"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
)
_TEXTUAL_APPLICATION = frozenset(
    {"application/json", "application/xml", "application/toml", "application/yaml", "application/javascript"}
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_fd(fd: int) -> str:
    """The sha256 of the open file ``fd`` from its start (its offset is left at the end; not closed)."""
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def is_binary(sample: bytes) -> bool:
    """A NUL byte in the first few KiB marks a file as binary (what git and grep do)."""
    return b"\x00" in sample[:SNIFF_BYTES]


def line_ending_of(data: bytes, lf: int | None = None) -> LineEnding:
    """The file's line endings; ``lf``: ``data.count(b"\\n")`` if the caller has it already."""
    lf = data.count(b"\n") if lf is None else lf
    if lf == 0:
        return "none"
    if b"\r" not in data:  # one memchr, where counting CRLF pairs searches the whole text again
        return "lf"
    crlf = data.count(b"\r\n")
    if crlf == lf:
        return "crlf"
    return "lf" if crlf == 0 else "mixed"


def text_line_ending(text: str) -> LineEnding:
    lf = text.count("\n")
    if lf == 0:
        return "none"
    crlf = text.count("\r\n")
    if crlf == lf:
        return "crlf"
    return "lf" if crlf == 0 else "mixed"


def count_lines(data: bytes, lf: int | None = None) -> int:
    """Lines as editors count them: a final newline does not start another line (``lf`` as for
    :func:`line_ending_of`)."""
    if not data:
        return 0
    return (data.count(b"\n") if lf is None else lf) + (0 if data.endswith(b"\n") else 1)


def mime_type_of(path: str, head: bytes = b"") -> str | None:
    """The MIME type from the extension, else from the first bytes; ``None`` when neither tells."""
    extension = os.path.splitext(path)[1].lower()
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed:
        return guessed
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    return None


def is_textual_mime(mime: str | None) -> bool:
    if mime is None:
        return False
    essence = mime.split(";")[0].strip().lower()
    return essence.startswith("text/") or essence.endswith(("+json", "+xml")) or essence in _TEXTUAL_APPLICATION


def decode(data: bytes) -> tuple[str, bool]:
    """UTF-8 text (a leading BOM dropped) and whether invalid bytes had to be replaced."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", errors="replace"), True


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry_type(mode: int) -> EntryType:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"
