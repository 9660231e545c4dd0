"""Every path decision of a server that touches files (the filesystem's tools, the vectorstore's ingest).

The rules, in the order they are applied to a path a client sends:

1. The text itself: no NUL byte, no backslash or Windows drive/UNC form, at most ``PATH_MAX``
   bytes and ``NAME_MAX`` bytes per component. ``file://`` URIs and ``~`` are accepted and
   expanded; a relative path is joined to the first allowed root.
2. The real location: the path is resolved with ``realpath`` (every symlink and ``..``; for a
   target that does not exist yet, its nearest existing parent), so a symlink or ``..`` cannot
   lead out. ``follow=False`` resolves only the parent, for operations on a link itself. The
   filesystem server then opens files beneath the root holding the path, no link followed
   (its ``beneath`` module); :mod:`servers.kit.paths.walk` checks every file it opens against
   the path it checked.
3. Containment: the real path must be one of the scope's roots or lie under one. The operator's
   roots are the outer bound; a client's roots (``roots/list``) can only narrow them
   (:meth:`Policy.narrow`): the intersection, never a widening or a replacement.
4. Deny globs (default ``.env*``, ``.git/``, ``*.pem``, ``*.key``, ``id_*``): matched, case-
   insensitively, against every component of the path relative to its root (and the whole
   relative path for globs with an inner ``/``), on both the lexical and the real path. A denied
   path is never read, written, listed or searched; walkers skip denied entries.
5. Mode: the most specific root holding the path decides; a write under a ``ro`` root is refused.

Everything refused raises the policy's ``error`` (a :class:`~servers.kit.tool_errors.CodedToolError`
class chosen by the server, the filesystem's ``FsError``) naming what to do instead; the codes are
``invalid_path``, ``path_too_long``, ``outside_roots``, ``denied`` and ``read_only``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal
from urllib.parse import unquote, urlsplit

from servers.kit.tool_errors import CodedToolError

Mode = Literal["rw", "ro"]
ErrorFactory = Callable[[str, str], CodedToolError]
"""How a policy makes its errors from ``(code, message)``: a coded error class itself."""

PATH_MAX = 4096
NAME_MAX = 255

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class AllowedRoot:
    """One directory of a scope: its real path, its mode, and where it came from."""

    path: str
    mode: Mode
    configured: str
    source: Literal["operator", "client"] = "operator"

    @property
    def writable(self) -> bool:
        return self.mode == "rw"

    def contains(self, real: str) -> bool:
        return real == self.path or real.startswith(self.path.rstrip(os.sep) + os.sep)

    def relative(self, real: str) -> str:
        """``real`` relative to this root, with ``/`` separators; ``""`` for the root itself."""
        if real == self.path:
            return ""
        return real[len(self.path.rstrip(os.sep)) + 1 :].replace(os.sep, "/")


@dataclass(frozen=True)
class ClientRootNote:
    """What became of one root a client declared."""

    uri: str
    status: Literal["applied", "ignored"]
    reason: str


@dataclass(frozen=True)
class Scope:
    """The roots one request may touch: the operator's, or their intersection with the client's."""

    roots: tuple[AllowedRoot, ...]
    client_roots: tuple[ClientRootNote, ...] = ()
    narrowed: bool = False

    def describe(self) -> str:
        return ", ".join(f"{root.path} ({root.mode})" for root in self.roots)

    def root_for(self, real: str) -> AllowedRoot | None:
        """The most specific root holding ``real`` (its mode wins), or ``None``."""
        best: AllowedRoot | None = None
        for root in self.roots:
            if root.contains(real) and (best is None or len(root.path) > len(best.path)):
                best = root
        return best


@dataclass(frozen=True)
class Resolved:
    """A path that passed the policy: its real location, the root holding it, and whether it exists."""

    path: str
    root: AllowedRoot
    relative: str
    exists: bool
    anchor: str
    """The operator root holding ``path`` whose handle every open starts from (the outermost one)."""

    @property
    def is_root(self) -> bool:
        return self.relative == ""


@dataclass(frozen=True)
class _Glob:
    text: str
    pattern: str
    anchored: bool


@dataclass
class Policy:
    """The operator's roots, deny globs and internal (hidden) directories, and the checks that use them."""

    roots: tuple[AllowedRoot, ...]
    deny: tuple[str, ...]
    hidden: tuple[str, ...] = ()
    error: ErrorFactory = CodedToolError
    roots_hint: str = ""
    """Appended to ``outside_roots``: how the client can see the roots (the tool to call)."""
    hidden_hint: str = "is inside a directory the server keeps for itself; choose another path"
    """Why a path under ``hidden`` is ``denied``, and what to use instead (follows the path in the message)."""
    _globs: tuple[_Glob, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("a path policy needs at least one allowed root")
        globs: list[_Glob] = []
        for text in self.deny:
            pattern = text.strip().strip("/").lower()
            if pattern:
                globs.append(_Glob(text=text, pattern=pattern, anchored="/" in pattern))
        self._globs = tuple(globs)
        self.hidden = tuple(os.path.realpath(path) for path in self.hidden)

    @classmethod
    def build(
        cls,
        roots: Iterable[tuple[str, Mode]],
        deny: Sequence[str],
        hidden: Sequence[str] = (),
        *,
        error: ErrorFactory = CodedToolError,
        roots_hint: str = "",
        hidden_hint: str | None = None,
    ) -> Policy:
        """A policy over ``roots`` (path, mode) pairs; each root is resolved with ``realpath`` once, here."""
        allowed: list[AllowedRoot] = []
        seen: set[str] = set()
        for configured, mode in roots:
            real = os.path.realpath(os.path.expanduser(configured))
            if real in seen:
                continue
            seen.add(real)
            allowed.append(AllowedRoot(path=real, mode=mode, configured=configured))
        policy = cls(roots=tuple(allowed), deny=tuple(deny), hidden=tuple(hidden), error=error, roots_hint=roots_hint)
        if hidden_hint is not None:
            policy.hidden_hint = hidden_hint
        return policy

    @property
    def operator_scope(self) -> Scope:
        return Scope(roots=self.roots)

    @property
    def read_only(self) -> bool:
        return not any(root.writable for root in self.roots)

    # -- client roots -------------------------------------------------------------------------

    def narrow(self, client_roots: Sequence[tuple[str, str | None]] | None) -> Scope:
        """The operator's roots intersected with a client's roots (``(uri, name)`` pairs).

        A client root inside an operator root narrows to it (keeping the operator's mode); an
        operator root inside a client root is kept; a client root that overlaps none is ignored.
        When no client root applies, the operator's roots stand unchanged (never widened).
        """
        if not client_roots:
            return self.operator_scope
        narrowed: list[AllowedRoot] = []
        notes: list[ClientRootNote] = []
        for uri, _name in client_roots:
            real = _client_root_path(uri)
            if real is None:
                notes.append(ClientRootNote(uri, "ignored", "not a local file:// URI of an absolute path"))
                continue
            applied: list[AllowedRoot] = []
            holder = self.operator_scope.root_for(real)
            if holder is not None:
                applied.append(AllowedRoot(path=real, mode=holder.mode, configured=uri, source="client"))
            for root in self.roots:
                if root.path != real and AllowedRoot(real, "ro", uri).contains(root.path):
                    applied.append(root)
            if applied:
                notes.append(ClientRootNote(uri, "applied", "narrows the operator's allowed directories"))
                narrowed.extend(item for item in applied if item not in narrowed)
            else:
                notes.append(ClientRootNote(uri, "ignored", "outside every directory the operator allows"))
        if not narrowed:
            return Scope(roots=self.roots, client_roots=tuple(notes), narrowed=False)
        return Scope(roots=tuple(narrowed), client_roots=tuple(notes), narrowed=True)

    # -- paths --------------------------------------------------------------------------------

    def resolve(
        self,
        raw: str,
        scope: Scope,
        *,
        write: bool = False,
        follow: bool = True,
        what: str = "path",
    ) -> Resolved:
        """Check ``raw`` against the whole policy and return where it really is, or raise the policy's error."""
        expanded = _expand(raw, what, self.error)
        joined = os.path.join(scope.roots[0].path, expanded)
        lexical = os.path.normpath(joined)
        if follow:
            real = os.path.realpath(joined)
        else:
            parent, name = os.path.split(lexical)
            real = os.path.join(os.path.realpath(parent), name) if name else os.path.realpath(lexical)
        root = scope.root_for(real)
        if root is None:
            hint = f"relative paths resolve against {scope.roots[0].path}"
            see = f"; {self.roots_hint}" if self.roots_hint else ""
            raise self.error(
                "outside_roots",
                f"{raw!r} resolves to {real!r}, which is outside the allowed directories: {scope.describe()}. "
                f"Use a path under one of them ({hint}){see}.",
            )
        relative = root.relative(real)
        self._check_denied(raw, relative, real)
        lexical_root = scope.root_for(lexical)
        if lexical_root is not None and lexical != real:
            self._check_denied(raw, lexical_root.relative(lexical), lexical)
        if write and not root.writable:
            raise self.error(
                "read_only",
                f"{raw!r} is under {root.path}, which the operator allows read-only; "
                f"writable directories: {', '.join(r.path for r in scope.roots if r.writable) or 'none'}.",
            )
        anchor = min((r.path for r in self.roots if r.contains(real)), key=len, default=root.path)
        return Resolved(path=real, root=root, relative=relative, exists=os.path.lexists(real), anchor=anchor)

    def denied_by(self, relative: str) -> str | None:
        """The deny glob ``relative`` (a ``/``-separated path under a root) matches, or ``None``."""
        if not relative or not self._globs:
            return None
        lowered = relative.lower()
        parts = lowered.split("/")
        for glob in self._globs:
            if glob.anchored:
                if fnmatchcase(lowered, glob.pattern) or (
                    glob.pattern.startswith("**/") and fnmatchcase(lowered, glob.pattern[3:])
                ):
                    return glob.text
                continue
            for part in parts:
                if fnmatchcase(part, glob.pattern):
                    return glob.text
        return None

    def is_hidden(self, real: str) -> bool:
        """Whether ``real`` is one of the server's own directories (the filesystem's trash), never shown to clients."""
        return any(real == hidden or real.startswith(hidden + os.sep) for hidden in self.hidden)

    def child_allowed(self, parent_relative: str, name: str, real: str) -> bool:
        """Whether a walker may show the entry ``name`` of a directory that already passed the policy."""
        relative = f"{parent_relative}/{name}" if parent_relative else name
        return self.denied_by(relative) is None and not self.is_hidden(real)

    def _check_denied(self, raw: str, relative: str, real: str) -> None:
        glob = self.denied_by(relative)
        if glob is not None:
            raise self.error(
                "denied",
                f"{raw!r} matches the deny glob {glob!r} set by the operator; such paths are never read, "
                "written, listed or searched. Choose another file.",
            )
        if self.is_hidden(real):
            raise self.error("denied", f"{raw!r} {self.hidden_hint}.")


def _expand(raw: str, what: str, error: ErrorFactory = CodedToolError) -> str:
    """The client's text as a POSIX path (``file://`` and ``~`` expanded), or ``error``."""
    if not raw:
        raise error("invalid_path", f"the {what} is empty; give a path under an allowed directory")
    if "\x00" in raw:
        raise error("invalid_path", f"the {what} contains a NUL byte, which no file name may contain")
    if "\\" in raw or _WINDOWS_DRIVE.match(raw):
        raise error(
            "invalid_path",
            f"the {what} {raw[:200]!r} looks like a Windows path (backslash, drive letter or UNC share); "
            "this server runs on POSIX: use forward slashes",
        )
    if raw.startswith("file:"):
        parts = urlsplit(raw)
        if parts.netloc not in ("", "localhost"):
            raise error("invalid_path", f"the {what} {raw[:200]!r} names a remote host; only local files are served")
        raw = unquote(parts.path)
        if not raw or "\x00" in raw:
            raise error("invalid_path", f"the {what} is not a usable file:// URI")
    encoded = raw.encode("utf-8", "surrogateescape")
    if len(encoded) > PATH_MAX:
        raise error("path_too_long", f"the {what} is {len(encoded)} bytes long; at most {PATH_MAX} are allowed")
    for part in raw.split("/"):
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise error(
                "path_too_long", f"a component of the {what} is longer than {NAME_MAX} bytes ({part[:40]!r}...)"
            )
    if raw.startswith("~"):
        raw = os.path.expanduser(raw)
    return raw


def _client_root_path(uri: str) -> str | None:
    """The real local path of a client root URI, or ``None`` when it is not a usable ``file://`` URI."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    if not path.startswith("/") or "\x00" in path or "\\" in path or len(path) > PATH_MAX:
        return None
    return os.path.realpath(path)
