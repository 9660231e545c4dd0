"""The trash: ``delete_path`` moves things here, ``restore_from_trash`` puts them back.

Layout: ``<trash>/<id>/item`` is the deleted file or directory as it was, and
``<trash>/<id>/meta.json`` says where it came from and when. Ids are
``YYYYMMDDTHHMMSS-<8 hex>``: validated before use, so an id can never name a path elsewhere.
Nothing here deletes for good; the operator empties the trash directory when they choose.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import time
from typing import Any

from servers.filesystem.beneath import directory, fsync_directory_at, lexists_beneath, lstat_at, parent
from servers.filesystem.errors import FsError, os_errors
from servers.filesystem.models import DeleteResult, EntryType, RestoreResult, TrashEntry, TrashListing
from servers.filesystem.textio import entry_type, iso_time
from servers.kit.paths.policy import Resolved, Scope

_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")
_SIZE_WALK_LIMIT = 10_000


class Trash:
    """One trash directory (created on first use, mode 0700)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _ensure(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def delete(self, target: Resolved, shown: str, *, recursive: bool) -> DeleteResult:
        if target.is_root:
            raise FsError("is_root", f"{shown!r} is an allowed root itself and cannot be deleted")
        with parent(target.anchor, target.path, shown=shown) as (dir_fd, name):
            info = lstat_at(dir_fd, name, shown)
            if info is None:
                raise FsError("not_found", f"{shown!r} does not exist; list the parent directory to see what is there")
            kind = entry_type(info.st_mode)
            if kind == "directory" and not recursive:
                with (
                    directory(target.anchor, target.path, shown=shown) as fd,
                    os_errors(shown),
                    os.scandir(fd) as items,
                ):
                    if next(items, None) is not None:
                        raise FsError(
                            "not_empty",
                            f"{shown!r} is a directory that is not empty; pass recursive=true to move it, "
                            "with everything in it, to the trash",
                        )
            size = _size_of(dir_fd, name, kind, info.st_size)
            trash_id, entry = self._new_entry(target.path, kind, size)
            try:
                with os_errors(shown):
                    self._move_in(dir_fd, name, target.path, entry)
            except BaseException:
                shutil.rmtree(entry, ignore_errors=True)
                raise
            fsync_directory_at(dir_fd)
        return DeleteResult(
            path=target.path,
            trash_id=trash_id,
            type=kind,
            hint=f"moved to the trash; `restore_from_trash`(trash_id={trash_id!r}) puts it back",
        )

    def _new_entry(self, original: str, kind: str, size: int) -> tuple[str, str]:
        self._ensure()
        trash_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
        entry = os.path.join(self.directory, trash_id)
        os.mkdir(entry, 0o700)
        meta = {"trash_id": trash_id, "original_path": original, "deleted_at": iso_time(time.time()), "type": kind}
        with open(os.path.join(entry, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump({**meta, "size": size}, handle)
        return trash_id, entry

    @staticmethod
    def _move_in(dir_fd: int, name: str, original: str, entry: str) -> None:
        entry_fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.rename(name, "item", src_dir_fd=dir_fd, dst_dir_fd=entry_fd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # the trash is on another file system: copied by path
                raise
            shutil.move(original, os.path.join(entry, "item"))
        finally:
            os.close(entry_fd)

    def _read_meta(self, trash_id: str) -> dict[str, Any] | None:
        try:
            with open(os.path.join(self.directory, trash_id, "meta.json"), encoding="utf-8") as handle:
                meta = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not os.path.lexists(os.path.join(self.directory, trash_id, "item")):
            return None
        return meta

    def entries(self, scope: Scope) -> list[TrashEntry]:
        """Everything in the trash that came from a directory of ``scope``, newest first."""
        try:
            names = sorted(os.listdir(self.directory), reverse=True)
        except FileNotFoundError:
            return []
        found: list[TrashEntry] = []
        for name in names:
            if not _ID.match(name):
                continue
            meta = self._read_meta(name)
            if meta is None or scope.root_for(str(meta.get("original_path", ""))) is None:
                continue
            found.append(
                TrashEntry(
                    trash_id=name,
                    original_path=str(meta["original_path"]),
                    deleted_at=str(meta.get("deleted_at", "")),
                    type=_entry_type(meta.get("type")),
                    size=int(meta.get("size", 0)),
                )
            )
        return found

    def listing(self, scope: Scope, offset: int, limit: int) -> TrashListing:
        entries = self.entries(scope)
        page = entries[offset : offset + limit]
        more = offset + limit < len(entries)
        return TrashListing(entries=page, total_entries=len(entries), next_cursor=str(offset + limit) if more else None)

    def original_path(self, trash_id: str, scope: Scope) -> str:
        meta = self._lookup(trash_id, scope)
        return str(meta["original_path"])

    def _lookup(self, trash_id: str, scope: Scope) -> dict[str, Any]:
        if not _ID.match(trash_id):
            raise FsError("invalid_argument", f"{trash_id[:80]!r} is not a trash id; `list_trash` shows them")
        meta = self._read_meta(trash_id)
        if meta is None or scope.root_for(str(meta.get("original_path", ""))) is None:
            raise FsError("not_found", f"nothing in the trash has id {trash_id!r}; `list_trash` shows what there is")
        return meta

    def restore(self, trash_id: str, destination: Resolved, shown: str, scope: Scope) -> RestoreResult:
        meta = self._lookup(trash_id, scope)
        if lexists_beneath(destination.anchor, destination.path):
            raise FsError(
                "exists",
                f"{shown!r} exists again; `restore_from_trash` never overwrites. Pass destination= another path.",
            )
        entry = os.path.join(self.directory, trash_id)
        with parent(destination.anchor, destination.path, shown=shown, create=True) as (dir_fd, name):
            if lstat_at(dir_fd, name, shown) is not None:
                raise FsError("exists", f"{shown!r} exists again; restore_from_trash never overwrites")
            entry_fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                with os_errors(shown):
                    try:
                        os.rename("item", name, src_dir_fd=entry_fd, dst_dir_fd=dir_fd)
                    except OSError as exc:
                        if exc.errno != errno.EXDEV:
                            raise
                        shutil.move(os.path.join(entry, "item"), destination.path)
            finally:
                os.close(entry_fd)
            fsync_directory_at(dir_fd)
        with contextlib.suppress(OSError):
            shutil.rmtree(entry)
        return RestoreResult(trash_id=trash_id, restored_to=destination.path, type=_entry_type(meta.get("type")))


def _entry_type(value: object) -> EntryType:
    for kind in ("file", "directory", "symlink", "other"):
        if value == kind:
            return kind
    return "other"


def _size_of(dir_fd: int, name: str, kind: str, size: int) -> int:
    if kind != "directory":
        return size
    total = seen = 0
    # fwalk goes through directory handles and never follows a link.
    for _folder, _dirs, files, folder_fd in os.fwalk(name, dir_fd=dir_fd):
        for child in files:
            seen += 1
            if seen > _SIZE_WALK_LIMIT:
                return total
            with contextlib.suppress(OSError):
                total += os.stat(child, dir_fd=folder_fd, follow_symlinks=False).st_size
    return total
