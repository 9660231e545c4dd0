"""The filesystem server's errors: a stable code first, then what went wrong and what to do instead.

Every error a client can see is a :class:`FsError`, the server kit's coded tool error
(:mod:`servers.kit.tool_errors`); here are the codes of what the operating system refuses.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from servers.kit.tool_errors import CodedToolError


class FsError(CodedToolError):
    """An error of the filesystem server (``code`` stable, ``str()`` is ``"<code>: <message>"``)."""


_ERRNO_CODES: dict[int, tuple[str, str]] = {
    errno.ENOENT: ("not_found", "does not exist; list the parent directory to see what is there"),
    errno.EACCES: ("permission_denied", "the operating system denied access to it"),
    errno.EPERM: ("permission_denied", "the operating system does not permit this operation on it"),
    errno.EISDIR: ("is_directory", "is a directory, not a file"),
    errno.ENOTDIR: ("not_a_directory", "a component of the path is not a directory"),
    errno.ELOOP: ("symlink_loop", "has too many levels of symbolic links"),
    errno.ENAMETOOLONG: ("path_too_long", "is longer than the operating system allows"),
    errno.EEXIST: ("exists", "already exists"),
    errno.ENOTEMPTY: ("not_empty", "is a directory that is not empty"),
    errno.ENOSPC: ("no_space", "cannot be written: the disk is full"),
    errno.EROFS: ("read_only", "is on a read-only file system"),
    errno.EXDEV: ("cross_device", "cannot be moved across file systems"),
    errno.EINVAL: ("invalid_path", "is not valid for this operation"),
}


def from_os_error(exc: OSError, shown: str) -> FsError:
    """The :class:`FsError` for an ``OSError`` on ``shown`` (a path as the client should see it)."""
    code, text = _ERRNO_CODES.get(exc.errno or 0, ("io_error", f"failed: {exc.strerror or type(exc).__name__}"))
    return FsError(code, f"{shown!r} {text}")


@contextmanager
def os_errors(shown: str | os.PathLike[str]) -> Iterator[None]:
    """Turn any ``OSError`` raised inside into a client-readable :class:`FsError`."""
    try:
        yield
    except CodedToolError:
        raise
    except OSError as exc:
        raise from_os_error(exc, os.fspath(shown)) from None
