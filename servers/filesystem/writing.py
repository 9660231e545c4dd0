"""Writing: atomic file writes, directory creation and moves that never overwrite.

A write goes to a temporary file in the target's own directory, is flushed and fsynced, takes
the old file's permission bits, and replaces the target with one ``rename``: a reader sees the
old content or the new, never a mix, and a crash leaves no half-written file behind. An
exclusive create links the finished temporary file into place, which fails atomically when the
name is taken.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile

from servers.filesystem.errors import FsError, os_errors
from servers.filesystem.models import DirectoryCreated, MoveResult, WriteResult
from servers.filesystem.policy import Resolved
from servers.filesystem.textio import entry_type, sha256_bytes, sha256_file

TEMP_SUFFIX = ".mcp-tmp"
PREVIOUS_HASH_CAP = 64 * 1024 * 1024


def _process_umask() -> int:
    """The process umask, read without changing it (``os.umask`` would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


NEW_FILE_MODE = 0o666 & ~_process_umask()


def fsync_directory(path: str) -> None:
    """Make a rename in ``path`` durable; best effort on file systems that cannot."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, *, exclusive: bool, shown: str, mode: int | None = None) -> None:
    """Replace (or, with ``exclusive``, create) ``path`` with ``data`` in one atomic step."""
    parent, name = os.path.split(path)
    with os_errors(shown):
        fd, temp = tempfile.mkstemp(prefix=f".{name[:200]}.", suffix=TEMP_SUFFIX, dir=parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), NEW_FILE_MODE if mode is None else mode)
        if exclusive:
            _link_exclusive(temp, path, shown)
        else:
            with os_errors(shown):
                os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(parent)


def _link_exclusive(temp: str, path: str, shown: str) -> None:
    try:
        os.link(temp, path, follow_symlinks=False)
    except FileExistsError:
        raise FsError("exists", f"{shown!r} already exists and exclusive=true; choose another name") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise FsError("io_error", f"{shown!r} cannot be created: {exc.strerror}") from None
        # No hard links on this file system: check, then rename (a narrow race, documented).
        if os.path.lexists(path):
            raise FsError("exists", f"{shown!r} already exists and exclusive=true; choose another name") from None
        os.replace(temp, path)
        return
    os.unlink(temp)


def _ensure_parent(target: Resolved, shown: str, create_parents: bool) -> None:
    parent = os.path.dirname(target.path)
    if os.path.isdir(parent):
        return
    if not create_parents:
        raise FsError(
            "not_found",
            f"the directory holding {shown!r} does not exist; pass create_parents=true or call `create_directory`",
        )
    with os_errors(shown):
        os.makedirs(parent, exist_ok=True)


def write_file(
    target: Resolved,
    shown: str,
    content: str,
    *,
    exclusive: bool,
    expected_sha256: str | None,
    max_bytes: int,
    create_parents: bool,
) -> WriteResult:
    data = content.encode("utf-8", "surrogateescape")
    if len(data) > max_bytes:
        raise FsError(
            "too_large",
            f"the content is {len(data)} bytes; `write_file` takes at most {max_bytes} "
            "(the operator's filesystem.max_write_bytes). Write it in parts with `edit_file` or split the file.",
        )
    _ensure_parent(target, shown, create_parents)
    previous: str | None = None
    mode: int | None = None
    try:
        info = os.stat(target.path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise FsError("io_error", f"{shown!r} cannot be examined: {exc.strerror}") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise FsError("is_directory", f"{shown!r} is a directory; give a file path")
        if not stat.S_ISREG(info.st_mode):
            raise FsError("not_a_file", f"{shown!r} is not a regular file (device, socket or pipe)")
        if exclusive:
            raise FsError("exists", f"{shown!r} already exists and exclusive=true; choose another name")
        mode = stat.S_IMODE(info.st_mode)
        if info.st_size <= PREVIOUS_HASH_CAP or expected_sha256:
            with os_errors(shown):
                previous = sha256_file(target.path)
    if expected_sha256 is not None:
        check_expected(shown, expected_sha256, previous)
    atomic_write(target.path, data, exclusive=exclusive, shown=shown, mode=mode)
    return WriteResult(
        path=target.path,
        created=info is None,
        bytes_written=len(data),
        sha256=sha256_bytes(data),
        previous_sha256=previous,
    )


def check_expected(shown: str, expected: str, current: str | None) -> None:
    """Refuse a write whose guard hash is not the file's current hash."""
    if current is None:
        raise FsError("stale", f"{shown!r} no longer exists, but expected_sha256 was given; read it again")
    if expected.strip().lower() != current:
        raise FsError(
            "stale",
            f"{shown!r} changed since it was read: expected sha256 {expected.strip()[:64]}, "
            f"current sha256 is {current}. Read the file again and redo the change against the new content.",
        )


def create_directory(target: Resolved, shown: str) -> DirectoryCreated:
    if os.path.isdir(target.path):
        return DirectoryCreated(path=target.path, created=False)
    if os.path.lexists(target.path):
        raise FsError("not_a_directory", f"{shown!r} exists and is not a directory")
    with os_errors(shown):
        os.makedirs(target.path, exist_ok=True)
    return DirectoryCreated(path=target.path, created=True)


def move(source: Resolved, destination: Resolved, shown_source: str, shown_destination: str) -> MoveResult:
    """Move or rename ``source`` to ``destination``; refuses to overwrite anything."""
    if source.is_root:
        raise FsError("is_root", f"{shown_source!r} is an allowed root itself and cannot be moved")
    with os_errors(shown_source):
        info = os.lstat(source.path)
    kind = entry_type(info.st_mode)
    if os.path.lexists(destination.path):
        raise FsError(
            "exists",
            f"{shown_destination!r} already exists; `move_file` never overwrites. Choose another destination "
            "or `delete_path` the existing one first.",
        )
    if kind == "directory" and (destination.path + os.sep).startswith(source.path.rstrip(os.sep) + os.sep):
        raise FsError("invalid_argument", f"cannot move directory {shown_source!r} into itself")
    if not os.path.isdir(os.path.dirname(destination.path)):
        raise FsError("not_found", f"the directory holding {shown_destination!r} does not exist; create it first")
    if kind != "directory":
        try:
            os.link(source.path, destination.path, follow_symlinks=False)
        except FileExistsError:
            raise FsError("exists", f"{shown_destination!r} already exists; `move_file` never overwrites") from None
        except OSError:
            _rename(source.path, destination.path, shown_destination)
        else:
            with os_errors(shown_source):
                os.unlink(source.path)
    else:
        _rename(source.path, destination.path, shown_destination)
    fsync_directory(os.path.dirname(destination.path))
    return MoveResult(source=source.path, destination=destination.path, type=kind)


def _rename(source: str, destination: str, shown: str) -> None:
    if os.path.lexists(destination):
        raise FsError("exists", f"{shown!r} already exists; `move_file` never overwrites")
    try:
        os.rename(source, destination)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise FsError("io_error", f"cannot move to {shown!r}: {exc.strerror}") from None
        with os_errors(shown):
            shutil.move(source, destination)
