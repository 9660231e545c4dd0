"""The text files under a directory, as a policy allows them: what an ingest reads, and why it skipped the rest.

:func:`walk_text_files` goes down from a resolved start (a directory, or one file) in name order
and returns the UTF-8 text files it may read, up to ``max_files``, with every entry it passed over
and the reason (:data:`SkipReason`):

* ``denied``: a deny glob of the operator matches it (its lexical or its real path), or it is one
  of the server's own (hidden) directories; nothing below a denied directory is visited;
* ``symlink_outside``: a symbolic link whose target lies outside every allowed directory, or a
  link to a directory outside the walked one (the walk never widens itself); any other link is
  followed (a directory once: ``symlink_loop`` for the rest);
* ``broken_symlink``, ``not_regular`` (a pipe, socket or device: never opened), ``unreadable``;
* ``too_large``: more than ``max_bytes_per_file`` bytes;
* ``not_text``: a NUL byte or invalid UTF-8 in its first bytes.

Files matching no ``include`` glob (or an ``exclude`` glob) are not skipped but not asked for:
they are only counted. :func:`read_text` then reads one walked file: opened without following a
link, checked to still be the file the walk saw (``path_changed`` otherwise), capped, decoded
(:func:`read_bytes` is the same read without the decoding, for media files).
Errors are the policy's error class. Everything here blocks: run it in a worker thread.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from servers.kit.paths.globs import Matcher, any_match, compile_globs
from servers.kit.paths.policy import Policy, Resolved, Scope

SkipReason = Literal[
    "denied", "symlink_outside", "symlink_loop", "broken_symlink", "not_regular", "unreadable", "too_large", "not_text"
]
SNIFF_BYTES = 8192
_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class WalkedFile:
    """A text file the walk allows: its real path, its path relative to the start, its size."""

    path: str
    relative: str
    size: int


@dataclass(frozen=True)
class SkippedEntry:
    """An entry the walk passed over, relative to the start, and why."""

    relative: str
    reason: SkipReason
    detail: str


@dataclass
class WalkResult:
    files: list[WalkedFile] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    """The first ``max_skipped`` entries passed over; ``skipped_total`` counts them all."""
    skipped_total: int = 0
    not_matched: int = 0
    """Files that ``include`` / ``exclude`` left out (not reported one by one)."""
    truncated: bool = False
    """Whether the walk stopped at ``max_files`` with more files left."""


@dataclass
class _Walk:
    policy: Policy
    scope: Scope
    max_files: int
    max_bytes: int
    include: list[Matcher]
    exclude: list[Matcher]
    max_skipped: int
    start: str = ""
    result: WalkResult = field(default_factory=WalkResult)
    seen_dirs: set[str] = field(default_factory=set)
    seen_files: set[str] = field(default_factory=set)

    def skip(self, relative: str, reason: SkipReason, detail: str) -> None:
        self.result.skipped_total += 1
        if len(self.result.skipped) < self.max_skipped:
            self.result.skipped.append(SkippedEntry(relative, reason, detail))

    def refused(self, real: str) -> str | None:
        """Why the policy hides the real path ``real`` (outside, denied, hidden), or ``None``."""
        root = self.scope.root_for(real)
        if root is None:
            return "outside"
        glob = self.policy.denied_by(root.relative(real))
        if glob is not None:
            return f"matches the deny glob {glob!r}"
        if self.policy.is_hidden(real):
            return "is one of the server's own directories"
        return None

    def wanted(self, relative: str, name: str) -> bool:
        if self.include and not any_match(self.include, relative, name):
            return False
        return not (self.exclude and any_match(self.exclude, relative, name))

    def add_file(self, real: str, relative: str, name: str, info: os.stat_result) -> bool:
        """Consider one regular file; ``False`` once ``max_files`` is reached (the walk stops)."""
        if real in self.seen_files:
            return True
        if not self.wanted(relative, name):
            self.result.not_matched += 1
            return True
        if info.st_size > self.max_bytes:
            self.skip(relative, "too_large", f"{info.st_size} bytes, more than the {self.max_bytes} allowed per file")
            return True
        problem = _sniff(real)
        if problem is not None:
            reason: SkipReason = "unreadable" if problem.startswith("cannot") else "not_text"
            self.skip(relative, reason, problem)
            return True
        if len(self.result.files) >= self.max_files:
            self.result.truncated = True
            return False
        self.seen_files.add(real)
        self.result.files.append(WalkedFile(path=real, relative=relative, size=info.st_size))
        return True

    def directory(self, real: str, relative: str) -> bool:
        """Walk one directory (already allowed) in name order; ``False`` when the walk must stop."""
        self.seen_dirs.add(real)
        try:
            with os.scandir(real) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            self.skip(relative or ".", "unreadable", f"cannot list it: {exc.strerror or exc}")
            return True
        for entry in entries:
            child = f"{relative}/{entry.name}" if relative else entry.name
            if not self.entry(entry, child):
                return False
        return True

    def entry(self, entry: os.DirEntry[str], relative: str) -> bool:
        lexical = entry.path
        why = self.refused(lexical)
        if why is not None and why != "outside":
            self.skip(relative, "denied", why)
            return True
        try:
            is_link = entry.is_symlink()
            info = os.stat(lexical, follow_symlinks=False)
        except OSError as exc:
            self.skip(relative, "unreadable", f"cannot stat it: {exc.strerror or exc}")
            return True
        real = lexical
        if is_link:
            real = os.path.realpath(lexical)
            why = self.refused(real)
            if why == "outside":
                self.skip(relative, "symlink_outside", "a symbolic link to a place outside the allowed directories")
                return True
            if why is not None:
                self.skip(relative, "denied", f"a symbolic link to a path that {why}")
                return True
            try:
                info = os.stat(real)
            except OSError:
                self.skip(relative, "broken_symlink", "a symbolic link to nothing")
                return True
        if stat.S_ISDIR(info.st_mode):
            if is_link and not (real == self.start or real.startswith(self.start.rstrip(os.sep) + os.sep)):
                self.skip(relative, "symlink_outside", "a symbolic link to a directory outside the walked one")
                return True
            if real in self.seen_dirs:
                self.skip(relative, "symlink_loop", "a directory already walked (reached through a symbolic link)")
                return True
            return self.directory(real, relative)
        if stat.S_ISREG(info.st_mode):
            return self.add_file(real, relative, os.path.basename(relative), info)
        self.skip(relative, "not_regular", "not a regular file (a pipe, socket or device); never opened")
        return True


def walk_text_files(
    policy: Policy,
    scope: Scope,
    start: Resolved,
    *,
    max_files: int,
    max_bytes_per_file: int,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    max_skipped: int = 100,
) -> WalkResult:
    """The text files at or under ``start`` (from :meth:`Policy.resolve`), in name order; see the module."""
    if max_files < 1 or max_bytes_per_file < 1 or max_skipped < 0:
        raise ValueError("max_files and max_bytes_per_file must be positive, max_skipped not negative")
    walk = _Walk(
        policy=policy,
        scope=scope,
        max_files=max_files,
        max_bytes=max_bytes_per_file,
        include=compile_globs(include),
        exclude=compile_globs(exclude),
        max_skipped=max_skipped,
        start=start.path,
    )
    try:
        info = os.stat(start.path)
    except FileNotFoundError:
        raise policy.error(
            "not_found", f"{start.path!r} does not exist; give an existing directory or file under the allowed ones"
        ) from None
    except OSError as exc:
        raise policy.error("unreadable", f"{start.path!r} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        walk.directory(start.path, "")
    elif stat.S_ISREG(info.st_mode):
        name = os.path.basename(start.path)
        walk.add_file(start.path, name, name, info)
    else:
        walk.skip(os.path.basename(start.path), "not_regular", "not a regular file or a directory; never opened")
    return walk.result


def _sniff(path: str) -> str | None:
    """Why ``path`` is not UTF-8 text, judged from its first bytes; ``None`` when it looks like text."""
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        return f"cannot open it: {exc.strerror or exc}"
    try:
        head = os.read(fd, SNIFF_BYTES)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    finally:
        os.close(fd)
    if b"\x00" in head:
        return "a NUL byte in its first bytes: binary, not text"
    try:
        # A cut multi-byte character at the end of a longer file is fine; at the end of the file it is not.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start} of its first bytes)"
    return None


def read_text(policy: Policy, file: WalkedFile, max_bytes: int) -> str:
    """The text of ``file`` (from :func:`walk_text_files`): at most ``max_bytes`` bytes, UTF-8."""
    data = read_bytes(policy, file, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise policy.error("not_text", f"{file.relative!r} is not UTF-8 text (byte {exc.start})") from None


def read_bytes(policy: Policy, file: WalkedFile, max_bytes: int) -> bytes:
    """The bytes of ``file`` (walked, or resolved by the policy): at most ``max_bytes`` (``too_large``).

    Opened without following a link; on Linux the open file is checked to be ``file.path`` still
    (``path_changed`` when a part of the path was swapped for a link since it was checked).
    """
    shown = file.relative
    try:
        fd = os.open(file.path, _OPEN)
    except FileNotFoundError:
        raise policy.error("not_found", f"{shown!r} was removed since it was listed; walk again") from None
    except OSError as exc:
        raise policy.error(
            "path_changed" if os.path.islink(file.path) else "unreadable",
            f"{shown!r} cannot be opened ({exc.strerror or exc}); walk again",
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise policy.error("not_regular", f"{shown!r} is no longer a regular file; walk again")
        proc = f"/proc/self/fd/{fd}"
        if os.path.exists(proc) and os.path.realpath(proc) != file.path:
            raise policy.error(
                "path_changed", f"{shown!r} changed since it was listed: a part of its path became a link; walk again"
            )
        if info.st_size > max_bytes:
            raise policy.error("too_large", f"{shown!r} has {info.st_size} bytes, more than the {max_bytes} allowed")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise policy.error("unreadable", f"{shown!r} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise policy.error("too_large", f"{shown!r} grew past the {max_bytes} bytes allowed since it was listed")
    return b"".join(chunks)
