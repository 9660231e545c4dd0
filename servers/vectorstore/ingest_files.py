"""The files ``ingest_files`` may read: text files under the operator's ``vectorstore.ingest_roots``.

A path is resolved to its real path (symlinks followed) and must lie under one of the roots, else
``outside_roots``; any entry whose name or relative path matches a deny glob (``.env*``, ``.git/``,
keys: the filesystem server's defaults) is skipped, as are files that are not UTF-8 text or are
larger than ``vectorstore.max_file_bytes``. At most ``vectorstore.max_ingest_files`` files are taken.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from servers.vectorstore.errors import VectorError
from servers.vectorstore.ingestion import SourceText
from servers.vectorstore.settings import VectorstoreSettings


@dataclass
class FoundFiles:
    sources: list[SourceText] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def denied(relative: str, is_dir: bool, globs: Sequence[str]) -> bool:
    """Whether ``relative`` (a path under a root, ``/``-separated) matches a deny glob on any of its parts."""
    parts = relative.split("/")
    for glob in globs:
        dir_only = glob.endswith("/")
        pattern = glob.rstrip("/")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if dir_only and last and not is_dir:
                continue
            if fnmatch.fnmatchcase(part, pattern) or fnmatch.fnmatchcase("/".join(parts[: index + 1]), pattern):
                return True
    return False


def resolve(settings: VectorstoreSettings, path_text: str) -> tuple[Path, Path]:
    """(real path, root) of ``path_text``; ``outside_roots`` when no ingest root holds it."""
    if "\x00" in path_text:
        raise VectorError("invalid_path", "a path may not contain a NUL byte")
    if not settings.ingest_roots:
        raise VectorError(
            "no_ingest_roots",
            "the operator allowed no directory for ingestion (vectorstore.ingest_roots); use `ingest_text` instead",
        )
    first = settings.ingest_roots[0].path
    candidate = Path(os.path.expanduser(path_text))
    real = Path(os.path.realpath(candidate if candidate.is_absolute() else first / candidate))
    for root in settings.ingest_roots:
        base = Path(os.path.realpath(root.path))
        if real == base or base in real.parents:
            relative = real.relative_to(base).as_posix()
            if relative != "." and denied(relative, real.is_dir(), settings.ingest_deny):
                raise VectorError(
                    "denied", f"{path_text!r} matches the operator's deny globs (vectorstore.ingest_deny)"
                )
            if not real.exists():
                raise VectorError("not_found", f"{path_text!r} does not exist")
            return real, base
    roots = ", ".join(str(root.path) for root in settings.ingest_roots)
    raise VectorError("outside_roots", f"{path_text!r} is not under an ingest root ({roots}); ingest from those only")


def _read(path: Path, shown: str, settings: VectorstoreSettings, found: FoundFiles) -> None:
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            found.skipped.append(f"{shown}: {size} bytes, over vectorstore.max_file_bytes")
            return
        data = path.read_bytes()
    except OSError as exc:
        found.skipped.append(f"{shown}: unreadable ({exc.strerror})")
        return
    if b"\x00" in data[:8192]:
        found.skipped.append(f"{shown}: binary")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        found.skipped.append(f"{shown}: not UTF-8 text")
        return
    if text.strip():
        found.sources.append(SourceText(source=shown, text=text))


def walk(settings: VectorstoreSettings, path_text: str, patterns: Sequence[str]) -> FoundFiles:
    real, root = resolve(settings, path_text)
    found = FoundFiles()
    if real.is_file():
        _read(real, real.as_posix(), settings, found)
        return found
    for current, dirs, files in os.walk(real):
        here = Path(current)
        dirs[:] = sorted(
            d for d in dirs if not denied((here / d).relative_to(root).as_posix(), True, settings.ingest_deny)
        )
        for name in sorted(files):
            target = here / name
            relative = target.relative_to(root).as_posix()
            if denied(relative, False, settings.ingest_deny):
                found.skipped.append(f"{target.as_posix()}: denied by vectorstore.ingest_deny")
                continue
            if patterns and not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(relative, p) for p in patterns):
                continue
            if os.path.islink(target) and root not in Path(os.path.realpath(target)).parents:
                found.skipped.append(f"{target.as_posix()}: a link out of the ingest roots")
                continue
            if len(found.sources) >= settings.max_ingest_files:
                found.skipped.append(f"{target.as_posix()}: past vectorstore.max_ingest_files")
                return found
            _read(target, target.as_posix(), settings, found)
    return found


async def collect_files(settings: VectorstoreSettings, path_text: str, patterns: Sequence[str]) -> FoundFiles:
    """The text files to ingest under ``path_text`` (read off the event loop)."""
    return await anyio.to_thread.run_sync(walk, settings, path_text, list(patterns))
