"""Reading: line-paged text reads, media reads, batches of files, and file facts.

Every function takes an already-resolved path (see :mod:`servers.kit.paths.policy`), opens it
beneath its root with no link followed (:mod:`servers.filesystem.beneath`), takes the path as the
client wrote it (``shown``), and raises :class:`FsError` for anything the client
can fix. They are synchronous: the tool layer runs the heavy ones in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections import deque
from collections.abc import Iterable
from typing import Literal

from servers.filesystem.beneath import lstat_at, lstat_beneath, open_at, open_beneath, parent
from servers.filesystem.errors import FsError, os_errors
from servers.filesystem.models import FileInfo, FileReadResult, LineEnding, MediaFile, TextFile
from servers.filesystem.textio import (
    SNIFF_BYTES,
    count_lines,
    entry_type,
    is_binary,
    iso_time,
    line_ending_of,
    mime_type_of,
    sha256_fd,
)
from servers.kit.paths.policy import Resolved

WHOLE_FILE_BYTES = 8 * 1024 * 1024
SMALL_FILE_BYTES = 64 * 1024
HASH_CAP_BYTES = 64 * 1024 * 1024


_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def _open_regular(target: Resolved, shown: str) -> tuple[int, os.stat_result]:
    fd = open_beneath(target.anchor, target.path, _READ, shown=shown)
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise FsError("io_error", f"{shown!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FsError("is_directory", f"{shown!r} is a directory: use `list_directory` or `directory_tree`")
        raise FsError("not_a_file", f"{shown!r} is not a regular file (device, socket or pipe)")
    return fd, info


def _window(numbered: Iterable[tuple[int, bytes]], max_bytes: int) -> tuple[list[bytes], int, int, bool, int | None]:
    """Take lines while they fit ``max_bytes``: (chunks, first, last, cut, next line number)."""
    chunks: list[bytes] = []
    used = 0
    first = last = 0
    for number, line in numbered:
        if used + len(line) > max_bytes:
            if not chunks:
                # One line longer than the whole budget: show its start rather than nothing.
                chunks.append(_trim_utf8(line[:max_bytes]))
                return chunks, number, number, True, number + 1
            return chunks, first, last, True, number
        chunks.append(line)
        used += len(line)
        if not first:
            first = number
        last = number
    return chunks, first, last, False, None


def _joined(numbered: Iterable[tuple[int, bytes]], max_bytes: int) -> tuple[bytes, int, int, bool, int | None]:
    """:func:`_window` with its chunks joined into the bytes of the window."""
    chunks, first, last, cut, next_line = _window(numbered, max_bytes)
    return b"".join(chunks), first, last, cut, next_line


def _trim_utf8(cut: bytes) -> bytes:
    """``cut`` without a multi-byte character split at its end."""
    for drop in range(4):
        candidate = cut[: len(cut) - drop] if drop else cut
        try:
            candidate.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(candidate) - 3:
                return cut
            continue
        return candidate
    return cut


def _split_lines(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _validate_window(offset: int | None, limit: int | None, head: int | None, tail: int | None) -> None:
    if head is not None and tail is not None:
        raise FsError("invalid_argument", "give head or tail, not both")
    if (head is not None or tail is not None) and (offset is not None or limit is not None):
        raise FsError("invalid_argument", "head/tail cannot be combined with offset/limit; use one style")


def read_text(
    target: Resolved,
    shown: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
    head: int | None = None,
    tail: int | None = None,
    max_bytes: int,
) -> TextFile:
    """A window of the text file at ``target``: by ``offset``/``limit`` (1-based lines), ``head`` or ``tail``."""
    _validate_window(offset, limit, head, tail)
    fd, info = _open_regular(target, shown)
    with os.fdopen(fd, "rb") as handle, os_errors(shown):
        if info.st_size <= WHOLE_FILE_BYTES:
            data = handle.read()
            if is_binary(data):
                raise FsError("binary", f"{shown!r} is a binary file: use `read_media_file` or `get_file_info`")
            digest = hashlib.sha256(data).hexdigest()
            lf = data.count(b"\n")
            ending = line_ending_of(data, lf)
            size = len(data)
            if offset is None and limit is None and head is None and tail is None and size <= max_bytes:
                # The whole file fits the budget: the window is every line, so it need not be walked line by line.
                total = count_lines(data, lf)
                raw, first, last, cut, next_line = data, 1 if total else 0, total, False, None
            else:
                lines = _split_lines(data)
                total = len(lines)
                raw, first, last, cut, next_line = _joined(_select_list(lines, offset, limit, head, tail), max_bytes)
        else:
            total, digest, ending, size, selected = _scan_large(handle, shown, offset, limit, head, tail)
            raw, first, last, cut, next_line = _joined(selected, max_bytes)
    try:
        content, replaced = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        content, replaced = raw.decode("utf-8", errors="replace"), True
    if first == 1 and content.startswith("\ufeff"):
        content = content[1:]
    if not cut and next_line is None and last and last < total and head is None and tail is None and limit:
        next_line = last + 1
    hint = None
    if cut:
        hint = (
            f"stopped at line {last} of {total} to stay within {max_bytes} bytes; "
            f"call `read_text_file` with offset={next_line} to continue (or raise max_bytes)"
        )
    elif next_line is not None:
        hint = f"{total - last} more lines; call `read_text_file` with offset={next_line} to continue"
    elif not first and total and offset:
        hint = f"offset {offset} is past the end: the file has {total} lines"
    return TextFile(
        path=target.path,
        content=content,
        total_lines=total,
        start_line=first,
        end_line=last,
        truncated=cut,
        truncated_reason="max_bytes" if cut else None,
        next_offset=next_line,
        size_bytes=size,
        sha256=digest,
        line_ending=ending,
        replaced_invalid_utf8=replaced,
        hint=hint,
    )


def _select_list(
    lines: list[bytes], offset: int | None, limit: int | None, head: int | None, tail: int | None
) -> list[tuple[int, bytes]]:
    total = len(lines)
    if head is not None:
        start, stop = 0, min(head, total)
    elif tail is not None:
        start, stop = max(0, total - tail), total
    else:
        start = (offset or 1) - 1
        stop = total if limit is None else min(total, start + limit)
    return [(index + 1, lines[index]) for index in range(start, stop)]


def _scan_large(
    handle: Iterable[bytes],
    shown: str,
    offset: int | None,
    limit: int | None,
    head: int | None,
    tail: int | None,
) -> tuple[int, str, LineEnding, int, list[tuple[int, bytes]]]:
    """Stream a big file once: hash, count, line endings, and the lines the window wants."""
    digest = hashlib.sha256()
    total = size = lf = crlf = 0
    start = 1 if head is not None or tail is not None else (offset or 1)
    stop = head if head is not None else (None if limit is None else start + limit - 1)
    kept: deque[tuple[int, bytes]] = deque(maxlen=tail) if tail is not None else deque()
    for number, line in enumerate(handle, start=1):
        if number == 1 and is_binary(line[:SNIFF_BYTES]):
            raise FsError("binary", f"{shown!r} is a binary file: use `read_media_file` or `get_file_info`")
        digest.update(line)
        size += len(line)
        total = number
        if line.endswith(b"\n"):
            lf += 1
            crlf += line.endswith(b"\r\n")
        if tail is not None or (number >= start and (stop is None or number <= stop)):
            kept.append((number, line))
    ending: LineEnding = "none" if lf == 0 else ("crlf" if crlf == lf else ("lf" if crlf == 0 else "mixed"))
    return total, digest.hexdigest(), ending, size, list(kept)


def read_media(target: Resolved, shown: str, *, max_bytes: int) -> MediaFile:
    """The file's bytes as base64 with its MIME type (``data`` always filled here)."""
    path = target.path
    fd, info = _open_regular(target, shown)
    if info.st_size > max_bytes:
        os.close(fd)
        raise FsError(
            "too_large",
            f"{shown!r} is {info.st_size} bytes; `read_media_file` returns at most {max_bytes} "
            "(the operator's filesystem.max_media_bytes). Use `get_file_info` for its facts.",
        )
    with os.fdopen(fd, "rb") as handle, os_errors(shown):
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FsError("too_large", f"{shown!r} grew past {max_bytes} bytes while being read")
    mime = mime_type_of(path, data[:64]) or "application/octet-stream"
    kind: Literal["image", "audio", "other"] = (
        "image" if mime.startswith("image/") else "audio" if mime.startswith("audio/") else "other"
    )
    return MediaFile(
        path=path,
        mime_type=mime,
        kind=kind,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=base64.b64encode(data).decode("ascii"),
    )


def read_for_batch(target: Resolved, shown: str, *, max_bytes: int) -> FileReadResult:
    """One file of a batch read; never raises for the file's own problems (they go in ``error``)."""
    try:
        text = read_text(target, shown, max_bytes=max_bytes)
    except FsError as exc:
        return FileReadResult(path=shown, ok=False, error=str(exc))
    return FileReadResult(
        path=target.path,
        ok=True,
        content=text.content,
        total_lines=text.total_lines,
        truncated=text.truncated,
        sha256=text.sha256,
    )


def file_info(target: Resolved, shown: str, *, writable: bool) -> FileInfo:
    """Size, times, type, permissions; for a regular file also MIME type, sha256 and line count."""
    path = target.path
    link = digest = mime = None
    lines: int | None = None
    if path == target.anchor:
        info = lstat_beneath(target.anchor, path, shown=shown)
        kind = entry_type(info.st_mode)
    else:
        # One walk to the parent serves the stat, the link and the hash.
        with parent(target.anchor, path, shown=shown) as (dir_fd, name):
            found = lstat_at(dir_fd, name, shown)
            if found is None:
                raise FsError("not_found", f"{shown!r} does not exist; list the parent directory to see what is there")
            info = found
            kind = entry_type(info.st_mode)
            if kind == "symlink":
                with os_errors(shown):
                    link = os.readlink(name, dir_fd=dir_fd)
            elif kind == "file":
                mime = mime_type_of(path)
                if info.st_size <= HASH_CAP_BYTES:
                    fd = open_at(dir_fd, name, _READ, path=path, shown=shown)
                    digest, lines, head = _hash_and_count(fd, shown, info.st_size)
                    mime = mime or mime_type_of(path, head)
    birth = getattr(info, "st_birthtime", None)
    return FileInfo(
        path=path,
        type=kind,
        size=info.st_size,
        created=iso_time(birth) if birth else None,
        modified=iso_time(info.st_mtime),
        accessed=iso_time(info.st_atime),
        permissions=stat.filemode(info.st_mode)[1:],
        mode_octal=f"{stat.S_IMODE(info.st_mode):04o}",
        is_symlink=kind == "symlink",
        symlink_target=link,
        mime_type=mime,
        sha256=digest,
        line_count=lines,
        writable=writable,
    )


def _hash_and_count(fd: int, shown: str, size: int) -> tuple[str, int | None, bytes]:
    """Hash and count the lines of the open file ``fd``, and close it."""
    with os_errors(shown):
        try:
            if size <= SMALL_FILE_BYTES:
                # The common case in one read, without a buffered file object.
                data = os.read(fd, SMALL_FILE_BYTES + 1)
                if len(data) <= SMALL_FILE_BYTES:
                    return hashlib.sha256(data).hexdigest(), None if is_binary(data) else count_lines(data), data[:64]
                os.lseek(fd, 0, os.SEEK_SET)
            if size <= WHOLE_FILE_BYTES:
                with os.fdopen(os.dup(fd), "rb") as handle:
                    data = handle.read()
                return hashlib.sha256(data).hexdigest(), None if is_binary(data) else count_lines(data), data[:64]
            head = os.pread(fd, SNIFF_BYTES, 0)
            return sha256_fd(fd), None, head[:64]
        finally:
            os.close(fd)
