"""Opening beneath a root: the path the policy checked is the path opened, whatever changes meanwhile.

:meth:`~servers.kit.paths.policy.Policy.resolve` decides which real path a call may touch (every
symlink and ``..`` resolved, containment, deny globs). Between that check and the open, another
process could swap a directory of the path for a symbolic link to somewhere else; opening the checked
path by name would then follow the link out of the roots. So nothing here opens by name from ``/``:

* The walk starts at the handle of the operator root that holds the path (its *anchor*, resolved
  once when the policy was built), and goes down the checked path's components relative to it.
* No component is followed if it is a symbolic link, the last one included: the checked path has
  every link already resolved, so a link found now was put there after the check. The call is
  refused with ``path_changed`` (or ``symlink_loop`` when the path was a loop all along) and nothing
  is read or written.
* ``..`` is refused, and nothing outside the anchor can be named.

On Linux 5.6 and later one ``openat2`` call does the walk in the kernel, with ``RESOLVE_BENEATH``
(nothing above the anchor, also under a concurrent rename) and ``RESOLVE_NO_SYMLINKS``; elsewhere,
or where the kernel answers ``ENOSYS``, each component is opened in turn with ``O_NOFOLLOW |
O_DIRECTORY`` relative to the previous one. Operations on names (rename, link, unlink, mkdir, stat,
readlink) take the parent's handle from :func:`parent` and the final name, never a path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from servers.filesystem.errors import FsError, from_os_error

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# A handle to walk through needs search permission only (O_PATH), as opening by name did.
_WALK = (getattr(os, "O_PATH", 0) or os.O_RDONLY) | _DIRECTORY | _CLOEXEC
_LISTABLE = os.O_RDONLY | _DIRECTORY | _CLOEXEC

_SYS_OPENAT2 = 437  # the same number on every Linux architecture (the unified syscall table)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS
_EAGAIN_RETRIES = 16


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load_syscall() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.syscall
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_long
    syscall: Callable[..., int] = function
    return syscall


_syscall = _load_syscall()
#: Whether ``openat2`` is used; probed on first use, and set to ``False`` to force the per-component walk.
use_openat2: bool | None = None if _syscall is not None and os.uname().sysname == "Linux" else False


def _openat2(dir_fd: int, relative: str, flags: int, mode: int) -> int:
    """``openat2(dir_fd, relative)`` beneath ``dir_fd`` with no symlink followed; ``OSError`` as ``os.open``."""
    assert _syscall is not None
    how = _OpenHow(flags | _CLOEXEC, mode if flags & os.O_CREAT else 0, _RESOLVE)
    encoded = os.fsencode(relative)
    for _ in range(_EAGAIN_RETRIES):
        fd = int(_syscall(_SYS_OPENAT2, dir_fd, encoded, ctypes.byref(how), ctypes.sizeof(how)))
        if fd >= 0:
            return fd
        code = ctypes.get_errno()
        if code != errno.EAGAIN:  # EAGAIN: a rename or mount raced the walk; the kernel asks to retry
            raise OSError(code, os.strerror(code), relative)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), relative)


def _kernel_walks(dir_fd: int) -> bool:
    global use_openat2
    if use_openat2 is None:
        try:
            os.close(_openat2(dir_fd, ".", _WALK, 0))
            use_openat2 = True
        except OSError as exc:
            use_openat2 = False if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL) else None
    return bool(use_openat2)


def components(anchor: str, path: str) -> list[str]:
    """``path`` (absolute) as names below ``anchor``; :class:`FsError` for ``..`` or a path not under it."""
    if path == anchor:
        return []
    prefix = anchor.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        raise FsError("outside_roots", f"{path!r} is not under the allowed directory {anchor!r}")
    names = [name for name in path[len(prefix) :].split(os.sep) if name not in ("", ".")]
    if ".." in names:
        raise FsError("outside_roots", f"{path!r} climbs out with '..'; give the path without it")
    return names


def _refusal(exc: OSError, path: str, shown: str) -> FsError:
    """The error for a failed open: a link where the check saw none is ``path_changed``."""
    if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _has_link(path)):
        try:
            os.path.realpath(path, strict=True)
        except OSError as again:
            if again.errno == errno.ELOOP:
                return from_os_error(again, shown)
        return changed(shown)
    return from_os_error(exc, shown)


def changed(shown: str) -> FsError:
    """The refusal of a path that gained a symbolic link between the check and the operation."""
    return FsError(
        "path_changed",
        f"{shown!r} changed while it was being opened: a part of its path became a symbolic link "
        "after the path was checked. Nothing was read or written; call again.",
    )


def _has_link(path: str) -> bool:
    probe = path
    while probe not in ("", os.sep):
        try:
            if stat.S_ISLNK(os.lstat(probe).st_mode):
                return True
        except OSError:
            pass
        probe = os.path.dirname(probe)
    return False


def _walk(anchor_fd: int, names: list[str], flags: int, mode: int) -> int:
    """The per-component walk: every directory opened with ``O_NOFOLLOW`` relative to the last."""
    fd = anchor_fd
    try:
        for name in names[:-1]:
            child = os.open(name, _WALK | _NOFOLLOW, dir_fd=fd)
            if fd != anchor_fd:
                os.close(fd)
            fd = child
        return os.open(names[-1], flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=fd)
    finally:
        if fd != anchor_fd:
            os.close(fd)


def _open_names(anchor_fd: int, names: list[str], flags: int, mode: int) -> int:
    if not names:
        return os.open(".", flags | _CLOEXEC, dir_fd=anchor_fd)
    if _kernel_walks(anchor_fd):
        return _openat2(anchor_fd, os.sep.join(names), flags | _NOFOLLOW, mode)
    return _walk(anchor_fd, names, flags, mode)


def open_beneath(anchor: str, path: str, flags: int, mode: int = 0o666, *, shown: str) -> int:
    """A file descriptor for ``path``, opened beneath ``anchor`` with no symlink followed (see above).

    ``flags`` are ``os.open`` flags (``O_NOFOLLOW`` and ``O_CLOEXEC`` are always added); every
    failure is an :class:`FsError` naming ``shown``.
    """
    names = components(anchor, path)
    try:
        anchor_fd = os.open(anchor, _WALK)
    except OSError as exc:
        raise from_os_error(exc, shown) from None
    try:
        return _open_names(anchor_fd, names, flags, mode)
    except OSError as exc:
        raise _refusal(exc, path, shown) from None
    finally:
        os.close(anchor_fd)


@contextmanager
def directory(anchor: str, path: str, *, shown: str, create: bool = False, listable: bool = True) -> Iterator[int]:
    """A handle of the directory ``path``, closed on exit.

    ``listable`` handles can be read (``os.scandir`` takes them); the others only name entries in
    ``*at`` calls, which needs search permission alone. With ``create``, missing directories on
    the way are made (mode 0777 less the umask), each relative to its parent's handle.
    """
    if create:
        fd = _make_directories(anchor, path, shown)
    else:
        fd = open_beneath(anchor, path, _LISTABLE if listable else _WALK, shown=shown)
    try:
        yield fd
    finally:
        os.close(fd)


def _make_directories(anchor: str, path: str, shown: str) -> int:
    names = components(anchor, path)
    try:
        fd = os.open(anchor, _LISTABLE)
    except OSError as exc:
        raise from_os_error(exc, shown) from None
    try:
        for name in names:
            try:
                child = os.open(name, _LISTABLE | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                # Made meanwhile by someone else: opened (and checked) below like any other.
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, dir_fd=fd)
                child = os.open(name, _LISTABLE | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as exc:
        os.close(fd)
        raise _refusal(exc, path, shown) from None
    return fd


@contextmanager
def parent(anchor: str, path: str, *, shown: str, create: bool = False) -> Iterator[tuple[int, str]]:
    """``(handle of path's directory, path's final name)``: the pair ``*at`` calls take instead of ``path``."""
    if path == anchor:
        raise FsError("is_root", f"{shown!r} is an allowed root itself")
    folder, name = os.path.split(path)
    with directory(anchor, folder, shown=shown, create=create, listable=False) as fd:
        yield fd, name


def lstat_beneath(anchor: str, path: str, *, shown: str) -> os.stat_result:
    """``lstat(path)``, its directory reached beneath ``anchor``: a link at the end is described, not followed."""
    if path == anchor:
        fd = open_beneath(anchor, path, _WALK, shown=shown)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)
    with parent(anchor, path, shown=shown) as (fd, name):
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            raise from_os_error(exc, shown) from None


def open_at(dir_fd: int, name: str, flags: int, *, path: str, shown: str) -> int:
    """``name`` in the directory ``dir_fd`` (from :func:`parent`), opened without following a link."""
    try:
        return os.open(name, flags | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        raise _refusal(exc, path, shown) from None


def lstat_at(dir_fd: int, name: str, shown: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in the directory ``dir_fd``; ``None`` when nothing is there."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise from_os_error(exc, shown) from None


def stat_beneath(anchor: str, path: str, *, shown: str) -> os.stat_result:
    """The facts of ``path``, a path resolved with every link followed: a link found there now is a swap."""
    info = lstat_beneath(anchor, path, shown=shown)
    if stat.S_ISLNK(info.st_mode):
        raise changed(shown)
    return info


def lexists_beneath(anchor: str, path: str) -> bool:
    """Whether anything (a link included) is at ``path`` beneath ``anchor``; ``False`` when it cannot be reached."""
    try:
        lstat_beneath(anchor, path, shown=path)
    except FsError:
        return False
    return True


def fsync_directory_at(fd: int) -> None:
    """Make a rename in the directory ``fd`` (any handle, ``O_PATH`` too) durable; best effort."""
    try:
        readable = os.open(".", _LISTABLE, dir_fd=fd)
    except OSError:
        return
    try:
        os.fsync(readable)
    except OSError:
        pass
    finally:
        os.close(readable)
