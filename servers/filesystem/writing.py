"""Writing: atomic file writes, directory creation and moves that never overwrite.

A write goes to a temporary file in the target's own directory, is flushed and fsynced, takes
the old file's permission bits, and replaces the target with one ``rename``: a reader sees the
old content or the new, never a mix, and a crash leaves no half-written file behind. An
exclusive create links the finished temporary file into place, which fails atomically when the
name is taken. Every name is reached through its directory's handle, opened beneath the root
with no link followed (:mod:`servers.filesystem.beneath`): a directory swapped for a link after
the check sends nothing elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from dataclasses import dataclass

from servers.filesystem.beneath import changed, directory, fsync_directory_at, lstat_at, parent
from servers.filesystem.errors import FsError, os_errors
from servers.filesystem.models import DirectoryCreated, MoveResult, WriteResult
from servers.filesystem.textio import entry_type, sha256_bytes, sha256_fd
from servers.kit.paths.policy import Resolved

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


def _temporary(dir_fd: int, name: str, shown: str) -> tuple[int, str]:
    """A new private file next to ``name`` in the directory ``dir_fd``: (its descriptor, its name)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temp = f".{name[:200]}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            return os.open(temp, flags, 0o600, dir_fd=dir_fd), temp
        except FileExistsError:
            continue
        except OSError as exc:
            raise FsError("io_error", f"{shown!r} cannot be written: {exc.strerror}") from None
    raise FsError("io_error", f"{shown!r} cannot be written: no free temporary name next to it")


def replace_at(dir_fd: int, name: str, data: bytes, *, exclusive: bool, shown: str, mode: int | None = None) -> None:
    """Replace (or, with ``exclusive``, create) ``name`` in the directory ``dir_fd`` with ``data`` atomically."""
    fd, temp = _temporary(dir_fd, name, shown)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), NEW_FILE_MODE if mode is None else mode)
        if exclusive:
            _link_exclusive(dir_fd, temp, name, shown)
        else:
            with os_errors(shown):
                os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    fsync_directory_at(dir_fd)


def atomic_write(target: Resolved, data: bytes, *, exclusive: bool, shown: str, mode: int | None = None) -> None:
    """Replace (or, with ``exclusive``, create) the file at ``target`` with ``data`` in one atomic step."""
    with parent(target.anchor, target.path, shown=shown) as (dir_fd, name):
        replace_at(dir_fd, name, data, exclusive=exclusive, shown=shown, mode=mode)


def _link_exclusive(dir_fd: int, temp: str, name: str, shown: str) -> None:
    try:
        os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise FsError("exists", f"{shown!r} already exists and exclusive=true; choose another name") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise FsError("io_error", f"{shown!r} cannot be created: {exc.strerror}") from None
        # No hard links on this file system: check, then rename (a narrow race, documented).
        if lstat_at(dir_fd, name, shown) is not None:
            raise FsError("exists", f"{shown!r} already exists and exclusive=true; choose another name") from None
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(temp, dir_fd=dir_fd)


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
    with contextlib.ExitStack() as stack:
        try:
            dir_fd, name = stack.enter_context(parent(target.anchor, target.path, shown=shown, create=create_parents))
        except FsError as exc:
            if exc.code != "not_found":
                raise
            raise FsError(
                "not_found",
                f"the directory holding {shown!r} does not exist; pass create_parents=true or call `create_directory`",
            ) from None
        info, previous = _current(dir_fd, name, shown, exclusive=exclusive, hash_it=expected_sha256 is not None)
        if expected_sha256 is not None:
            check_expected(shown, expected_sha256, previous)
        mode = stat.S_IMODE(info.st_mode) if info is not None else None
        replace_at(dir_fd, name, data, exclusive=exclusive, shown=shown, mode=mode)
    return WriteResult(
        path=target.path,
        created=info is None,
        bytes_written=len(data),
        sha256=sha256_bytes(data),
        previous_sha256=previous,
    )


def _current(
    dir_fd: int, name: str, shown: str, *, exclusive: bool, hash_it: bool
) -> tuple[os.stat_result | None, str | None]:
    """The file a write replaces: its facts and (when small enough, or asked for) its sha256."""
    info = lstat_at(dir_fd, name, shown)
    if info is None:
        return None, None
    if stat.S_ISLNK(info.st_mode):
        raise changed(shown)
    if stat.S_ISDIR(info.st_mode):
        raise FsError("is_directory", f"{shown!r} is a directory; give a file path")
    if not stat.S_ISREG(info.st_mode):
        raise FsError("not_a_file", f"{shown!r} is not a regular file (device, socket or pipe)")
    if exclusive:
        raise FsError("exists", f"{shown!r} already exists and exclusive=true; choose another name")
    if info.st_size > PREVIOUS_HASH_CAP and not hash_it:
        return info, None
    with os_errors(shown):
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
        try:
            return info, sha256_fd(fd)
        finally:
            os.close(fd)


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
    try:
        with parent(target.anchor, target.path, shown=shown) as (dir_fd, name):
            info = lstat_at(dir_fd, name, shown)
    except FsError as exc:
        if exc.code != "not_found":
            raise
        info = None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            return DirectoryCreated(path=target.path, created=False)
        raise FsError("not_a_directory", f"{shown!r} exists and is not a directory")
    with directory(target.anchor, target.path, shown=shown, create=True):
        pass
    return DirectoryCreated(path=target.path, created=True)


def move(source: Resolved, destination: Resolved, shown_source: str, shown_destination: str) -> MoveResult:
    """Move or rename ``source`` to ``destination``; refuses to overwrite anything."""
    if source.is_root:
        raise FsError("is_root", f"{shown_source!r} is an allowed root itself and cannot be moved")
    with parent(source.anchor, source.path, shown=shown_source) as (source_fd, source_name):
        info = lstat_at(source_fd, source_name, shown_source)
        if info is None:
            raise FsError(
                "not_found", f"{shown_source!r} does not exist; list the parent directory to see what is there"
            )
        kind = entry_type(info.st_mode)
        if kind == "directory" and (destination.path + os.sep).startswith(source.path.rstrip(os.sep) + os.sep):
            raise FsError("invalid_argument", f"cannot move directory {shown_source!r} into itself")
        with contextlib.ExitStack() as stack:
            try:
                target_fd, target_name = stack.enter_context(
                    parent(destination.anchor, destination.path, shown=shown_destination)
                )
            except FsError as exc:
                if exc.code not in ("not_found", "not_a_directory"):
                    raise
                raise FsError(
                    "not_found", f"the directory holding {shown_destination!r} does not exist; create it first"
                ) from None
            if lstat_at(target_fd, target_name, shown_destination) is not None:
                raise FsError(
                    "exists",
                    f"{shown_destination!r} already exists; `move_file` never overwrites. Choose another destination "
                    "or `delete_path` the existing one first.",
                )
            pair = _Pair(source_fd, source_name, target_fd, target_name)
            if kind != "directory":
                _link_then_unlink(pair, source, destination, shown_source, shown_destination)
            else:
                _rename(pair, source.path, destination.path, shown_destination)
            fsync_directory_at(target_fd)
    return MoveResult(source=source.path, destination=destination.path, type=kind)


@dataclass(frozen=True)
class _Pair:
    """A source and a destination name, each in the directory handle it is reached through."""

    source_fd: int
    source: str
    target_fd: int
    target: str


def _link_then_unlink(pair: _Pair, source: Resolved, destination: Resolved, shown_source: str, shown: str) -> None:
    try:
        os.link(pair.source, pair.target, src_dir_fd=pair.source_fd, dst_dir_fd=pair.target_fd, follow_symlinks=False)
    except FileExistsError:
        raise FsError("exists", f"{shown!r} already exists; `move_file` never overwrites") from None
    except OSError:
        _rename(pair, source.path, destination.path, shown)
    else:
        with os_errors(shown_source):
            os.unlink(pair.source, dir_fd=pair.source_fd)


def _rename(pair: _Pair, source: str, destination: str, shown: str) -> None:
    if lstat_at(pair.target_fd, pair.target, shown) is not None:
        raise FsError("exists", f"{shown!r} already exists; `move_file` never overwrites")
    try:
        os.rename(pair.source, pair.target, src_dir_fd=pair.source_fd, dst_dir_fd=pair.target_fd)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise FsError("io_error", f"cannot move to {shown!r}: {exc.strerror}") from None
        # Across file systems no rename exists: shutil copies by path (see the filesystem docs).
        with os_errors(shown):
            shutil.move(source, destination)
