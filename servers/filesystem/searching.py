"""Searching: file names (``search_files``) and file contents (``grep``), both budgeted.

One deterministic walk serves both: sorted, depth-first, never following symbolic links (each
directory and file opened beneath its root, see :mod:`servers.filesystem.beneath`),
skipping what the policy denies and what the caller excludes, and stopping at the operator's
scan budget or deadline. Cursors count results already returned, so a page is the same walk
resumed.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from servers.filesystem.beneath import directory, open_beneath, stat_beneath
from servers.filesystem.errors import FsError
from servers.filesystem.models import EntryType, GrepMatch, GrepResult, SearchMatch, SearchResult
from servers.filesystem.textio import entry_type, is_binary
from servers.kit.cursors import fingerprint, offset_cursor, offset_of
from servers.kit.paths.globs import any_match, compile_glob, compile_globs
from servers.kit.paths.policy import Policy, Resolved

MAX_LINE_CHARS = 400
_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
StopReason = Literal["scan_budget", "time_budget"]


@dataclass
class Budget:
    max_entries: int
    deadline: float
    scanned: int = 0
    stopped: StopReason | None = None

    def spend(self) -> bool:
        """Count one entry; ``False`` (and ``stopped`` set) once the budget is gone."""
        self.scanned += 1
        if self.scanned > self.max_entries:
            self.stopped = "scan_budget"
        elif self.scanned % 256 == 0 and time.monotonic() > self.deadline:
            self.stopped = "time_budget"
        return self.stopped is None


@dataclass(frozen=True)
class Found:
    path: str
    relative: str
    name: str
    type: EntryType
    size: int | None


def walk(policy: Policy, start: Resolved, excludes: list[str] | None, budget: Budget) -> Iterator[Found]:
    """Every visible entry under ``start`` (not ``start`` itself), sorted, depth-first."""
    matchers = compile_globs(excludes)
    stack: list[tuple[str, str, str]] = [(start.path, start.relative, "")]
    while stack:
        path, root_relative, relative = stack.pop()
        try:
            with directory(start.anchor, path, shown=path) as fd, os.scandir(fd) as scan:
                items = [(item.name, _lstat(item)) for item in sorted(scan, key=lambda e: e.name)]
        except (OSError, FsError):
            continue
        directories: list[tuple[str, str, str]] = []
        for name, info in items:
            if not budget.spend():
                return
            child_relative = f"{relative}/{name}" if relative else name
            item_path = os.path.join(path, name)
            if not policy.child_allowed(root_relative, name, item_path):
                continue
            if any_match(matchers, child_relative, name) or info is None:
                continue
            kind = entry_type(info.st_mode)
            yield Found(item_path, child_relative, name, kind, info.st_size if kind == "file" else None)
            if kind == "directory":
                child_root_relative = f"{root_relative}/{name}" if root_relative else name
                directories.append((item_path, child_root_relative, child_relative))
        stack.extend(reversed(directories))


def _lstat(item: os.DirEntry[str]) -> os.stat_result | None:
    try:
        return item.stat(follow_symlinks=False)
    except OSError:
        return None


def _is_directory(start: Resolved, shown: str) -> bool:
    try:
        return stat.S_ISDIR(stat_beneath(start.anchor, start.path, shown=shown).st_mode)
    except FsError as exc:
        if exc.code == "path_changed":
            raise
        return False


def search_files(
    policy: Policy,
    start: Resolved,
    shown: str,
    *,
    pattern: str,
    exclude_patterns: list[str] | None,
    kinds: Literal["files", "directories", "all"],
    case_sensitive: bool,
    max_results: int,
    cursor: str | None,
    max_entries: int,
    timeout: float,
) -> SearchResult:
    if not _is_directory(start, shown):
        raise FsError("not_a_directory", f"{shown!r} is not a directory to search in")
    query = fingerprint("search_files", start.path, pattern, exclude_patterns, kinds, case_sensitive)
    skip = offset_of(cursor, query)
    matcher = compile_glob(
        pattern if any(c in pattern for c in "*?[{") else f"*{pattern}*", case_sensitive=case_sensitive
    )
    budget = Budget(max_entries=max_entries, deadline=time.monotonic() + timeout)
    matches: list[SearchMatch] = []
    seen = 0
    more = False
    for found in walk(policy, start, exclude_patterns, budget):
        if kinds == "files" and found.type == "directory":
            continue
        if kinds == "directories" and found.type != "directory":
            continue
        if not matcher(found.relative, found.name):
            continue
        seen += 1
        if seen <= skip:
            continue
        if len(matches) >= max_results:
            more = True
            break
        matches.append(SearchMatch(path=found.path, type=found.type, size=found.size))
    reason: Literal["max_results", "scan_budget", "time_budget"] | None = "max_results" if more else budget.stopped
    return SearchResult(
        path=start.path,
        pattern=pattern,
        matches=matches,
        scanned_entries=min(budget.scanned, max_entries),
        truncated=reason is not None,
        truncated_reason=reason,
        next_cursor=offset_cursor(skip + len(matches), query) if more else None,
    )


@dataclass
class GrepQuery:
    pattern: str
    literal: bool
    case: Literal["sensitive", "insensitive", "smart"]
    context_lines: int
    include: list[str] | None
    exclude_patterns: list[str] | None
    max_results: int
    max_bytes: int


def _compile(query: GrepQuery) -> re.Pattern[str]:
    text = re.escape(query.pattern) if query.literal else query.pattern
    insensitive = query.case == "insensitive" or (query.case == "smart" and query.pattern == query.pattern.lower())
    try:
        return re.compile(text, re.IGNORECASE if insensitive else 0)
    except re.error as exc:
        raise FsError(
            "invalid_argument",
            f"the pattern is not a valid regular expression ({exc}); pass literal=true to match it as text",
        ) from None


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


def grep(
    policy: Policy,
    start: Resolved,
    shown: str,
    query: GrepQuery,
    *,
    cursor: str | None,
    max_entries: int,
    max_file_bytes: int,
    timeout: float,
) -> GrepResult:
    regex = _compile(query)
    grep_query = fingerprint("grep", start.path, vars(query))
    skip = offset_of(cursor, grep_query)
    includes = compile_globs(query.include)
    budget = Budget(max_entries=max_entries, deadline=time.monotonic() + timeout)
    if _is_directory(start, shown):
        files: Iterator[Found] = (f for f in walk(policy, start, query.exclude_patterns, budget) if f.type == "file")
    else:
        try:
            info = stat_beneath(start.anchor, start.path, shown=shown)
        except FsError as exc:
            if exc.code == "path_changed":
                raise
            raise FsError("not_found", f"{shown!r} does not exist") from None
        if not stat.S_ISREG(info.st_mode):
            raise FsError("not_a_file", f"{shown!r} is neither a directory nor a regular file")
        name = os.path.basename(start.path)
        files = iter([Found(start.path, name, name, "file", info.st_size)])
    result = GrepResult(
        pattern=query.pattern,
        matches=[],
        files_scanned=0,
        files_matched=0,
        skipped_binary=0,
        skipped_large=0,
        truncated=False,
    )
    seen = used = 0
    stop: Literal["max_results", "max_bytes"] | None = None
    for found in files:
        if includes and not any_match(includes, found.relative, found.name):
            continue
        if (found.size or 0) > max_file_bytes:
            result.skipped_large += 1
            continue
        try:
            fd = open_beneath(start.anchor, found.path, _READ, shown=found.path)
        except FsError:
            continue
        try:
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(max_file_bytes + 1)
        except OSError:
            continue
        result.files_scanned += 1
        if is_binary(data):
            result.skipped_binary += 1
            continue
        text = data.decode("utf-8", errors="replace")
        if regex.search(text) is None:
            continue
        lines = text.split("\n")
        matched_here = False
        for index, line in enumerate(lines):
            line = line.removesuffix("\r")
            hit = regex.search(line)
            if hit is None:
                continue
            seen += 1
            if seen <= skip:
                continue
            if len(result.matches) >= query.max_results:
                stop = "max_results"
                break
            before = [_clip(x.removesuffix("\r")) for x in lines[max(0, index - query.context_lines) : index]]
            after = [_clip(x.removesuffix("\r")) for x in lines[index + 1 : index + 1 + query.context_lines]]
            match = GrepMatch(
                path=found.path, line=index + 1, column=hit.start() + 1, text=_clip(line), before=before, after=after
            )
            cost = len(match.text) + len(match.path) + sum(len(x) for x in before + after) + 32
            if used + cost > query.max_bytes and result.matches:
                stop = "max_bytes"
                break
            used += cost
            result.matches.append(match)
            matched_here = True
            if time.monotonic() > budget.deadline:
                budget.stopped = "time_budget"
                break
        result.files_matched += matched_here
        if stop or budget.stopped == "time_budget":
            break
    reason = stop or budget.stopped
    result.truncated = reason is not None
    result.truncated_reason = reason
    if stop:
        result.next_cursor = offset_cursor(skip + len(result.matches), grep_query)
    return result
