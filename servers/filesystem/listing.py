"""Listing: one directory page by page, or a tree walked breadth-first within a budget.

Entries a deny glob matches (and the server's own trash) are skipped, and counted, never named.
Symbolic links are shown as links and never descended into; every directory is opened beneath
its root with no link followed (:mod:`servers.filesystem.beneath`).
"""

from __future__ import annotations

import os
import stat
from collections import deque
from typing import Literal

from servers.filesystem.beneath import directory, stat_beneath
from servers.filesystem.errors import FsError, os_errors
from servers.filesystem.models import DirectoryEntry, DirectoryListing, DirectoryTree, EntryType, TreeNode
from servers.filesystem.textio import entry_type, iso_time
from servers.kit.cursors import fingerprint, offset_cursor, offset_of
from servers.kit.paths.globs import any_match, compile_globs
from servers.kit.paths.policy import Policy, Resolved

SortKey = Literal["name", "size", "modified"]


def _require_directory(target: Resolved, shown: str) -> None:
    try:
        info = stat_beneath(target.anchor, target.path, shown=shown)
    except FsError as exc:
        if exc.code == "not_found":
            raise FsError("not_found", f"{shown!r} does not exist") from None
        raise
    if not stat.S_ISDIR(info.st_mode):
        raise FsError("not_a_directory", f"{shown!r} is not a directory: use `get_file_info` or `read_text_file`")


def _scan(policy: Policy, target: Resolved, shown: str) -> tuple[list[DirectoryEntry], int]:
    visible: list[DirectoryEntry] = []
    hidden = 0
    with directory(target.anchor, target.path, shown=shown) as fd, os_errors(shown), os.scandir(fd) as entries:
        for entry in entries:
            if policy.child_allowed(target.relative, entry.name, os.path.join(target.path, entry.name)):
                visible.append(_entry(entry, fd))
            else:
                hidden += 1
    return visible, hidden


def _entry(item: os.DirEntry[str], dir_fd: int) -> DirectoryEntry:
    try:
        info = item.stat(follow_symlinks=False)
    except OSError:
        return DirectoryEntry(name=item.name, type="other")
    kind = entry_type(info.st_mode)
    target = None
    if kind == "symlink":
        try:
            target = os.readlink(item.name, dir_fd=dir_fd)
        except OSError:
            target = None
    return DirectoryEntry(
        name=item.name,
        type=kind,
        size=info.st_size if kind == "file" else None,
        modified=iso_time(info.st_mtime),
        symlink_target=target,
    )


def list_directory(
    policy: Policy, target: Resolved, shown: str, *, cursor: str | None, limit: int, sort_by: SortKey
) -> DirectoryListing:
    _require_directory(target, shown)
    query = fingerprint("list_directory", target.path, sort_by)
    offset = offset_of(cursor, query)
    entries, hidden = _scan(policy, target, shown)
    if sort_by == "size":
        entries.sort(key=lambda e: (-(e.size or 0), e.name.casefold()))
    elif sort_by == "modified":
        entries.sort(key=lambda e: e.modified or "", reverse=True)
    else:
        entries.sort(key=lambda e: (e.type != "directory", e.name.casefold()))
    page = entries[offset : offset + limit]
    more = offset + limit < len(entries)
    return DirectoryListing(
        path=target.path,
        entries=page,
        total_entries=len(entries),
        files=sum(1 for e in entries if e.type == "file"),
        directories=sum(1 for e in entries if e.type == "directory"),
        total_size=sum(e.size or 0 for e in entries),
        hidden_by_policy=hidden,
        next_cursor=offset_cursor(offset + limit, query) if more else None,
    )


def _has_entries(anchor: str, path: str) -> bool:
    try:
        with directory(anchor, path, shown=path) as fd, os.scandir(fd) as entries:
            return next(entries, None) is not None
    except (OSError, FsError):
        return False


def _lstat(item: os.DirEntry[str]) -> os.stat_result | None:
    """The entry's own facts, read while its directory's handle is still open."""
    try:
        return item.stat(follow_symlinks=False)
    except OSError:
        return None


def directory_tree(
    policy: Policy,
    target: Resolved,
    shown: str,
    *,
    depth: int,
    exclude_patterns: list[str] | None,
    max_entries: int,
) -> DirectoryTree:
    """The tree under ``target`` to ``depth`` levels, breadth-first, at most ``max_entries`` entries."""
    _require_directory(target, shown)
    excludes = compile_globs(exclude_patterns)
    top = TreeNode(name=os.path.basename(target.path) or target.path, type="directory", children=[])
    queue: deque[tuple[TreeNode, str, str, str, int]] = deque([(top, target.path, target.relative, "", 1)])
    count = 0
    reason: Literal["max_entries", "depth"] | None = None
    while queue:
        node, path, root_relative, tree_relative, level = queue.popleft()
        try:
            with directory(target.anchor, path, shown=shown) as fd, os.scandir(fd) as scan:
                items = sorted(scan, key=lambda e: (not e.is_dir(follow_symlinks=False), e.name.casefold()))
                infos = [_lstat(item) for item in items]
        except (OSError, FsError):
            node.children = []
            continue
        children: list[TreeNode] = []
        for item, info in zip(items, infos, strict=True):
            relative = f"{tree_relative}/{item.name}" if tree_relative else item.name
            item_path = os.path.join(path, item.name)
            if not policy.child_allowed(root_relative, item.name, item_path) or any_match(
                excludes, relative, item.name
            ):
                continue
            if count >= max_entries:
                node.truncated = True
                reason = "max_entries"
                break
            count += 1
            kind: EntryType = "other" if info is None else entry_type(info.st_mode)
            size = info.st_size if info is not None and kind == "file" else None
            child = TreeNode(name=item.name, type=kind, size=size)
            if kind == "directory":
                if level < depth:
                    child.children = []
                    child_root_relative = f"{root_relative}/{item.name}" if root_relative else item.name
                    queue.append((child, item_path, child_root_relative, relative, level + 1))
                elif _has_entries(target.anchor, item_path):
                    child.truncated = True
                    reason = reason or "depth"
            children.append(child)
        node.children = children
        if reason == "max_entries":
            break
    hint = None
    if reason == "max_entries":
        hint = f"stopped after {max_entries} entries; raise max_entries or list a subdirectory"
    elif reason == "depth":
        hint = f"directories marked truncated go deeper than depth={depth}; raise depth or list them"
    return DirectoryTree(
        path=target.path, tree=top, entries=count, truncated=reason is not None, truncated_reason=reason, hint=hint
    )
