"""The write tools and the trash: registered only when at least one allowed directory is read-write."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult, ToolAnnotations
from pydantic import AliasChoices, Field

from servers.filesystem.app import FilesystemApp, announce_changes
from servers.filesystem.editing import edit_file as edit_file_op
from servers.filesystem.models import (
    DeleteResult,
    DirectoryCreated,
    EditOperation,
    EditResult,
    MoveResult,
    RestoreResult,
    TrashListing,
    WriteResult,
)
from servers.filesystem.roots import roots_scoped
from servers.filesystem.writing import create_directory, move
from servers.filesystem.writing import write_file as write_file_op
from servers.kit.cursors import fingerprint, offset_cursor, offset_of
from servers.kit.paths.policy import Scope


def _hints(*, destructive: bool, idempotent: bool) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=False
    )


PathArg = Annotated[
    str,
    Field(description="file path: absolute, or relative to the first allowed directory; see list_allowed_directories"),
]
Sha = Annotated[
    str | None,
    Field(
        pattern=r"^\s*[0-9a-fA-F]{64}\s*$",
        description="sha256 of the file as you last read it (read_text_file/get_file_info return it); "
        "the change is refused if the file has changed since",
    ),
]


def register_write_tools(server: MCPServer[Any], app: FilesystemApp) -> None:
    policy = app.policy
    in_scope = roots_scoped(policy)
    settings = app.settings

    @server.tool(annotations=_hints(destructive=True, idempotent=True))
    @in_scope
    async def write_file(
        path: PathArg,
        content: Annotated[str, Field(description="the complete new content (UTF-8)")],
        ctx: Context[Any, Any],
        scope: Scope,
        exclusive: Annotated[bool, Field(description="only create: refuse if the file already exists")] = False,
        expected_sha256: Sha = None,
        create_parents: Annotated[bool, Field(description="create missing parent directories")] = False,
    ) -> WriteResult | InputRequiredResult:
        """Create or replace a file atomically (temp file + fsync + rename, permissions kept).

        exclusive=true refuses to touch an existing file; expected_sha256 refuses a stale overwrite.
        """
        target = policy.resolve(path, scope, write=True)
        async with app.locks.hold(target.path):
            result = await app.in_thread(
                "write",
                write_file_op,
                target,
                path,
                content,
                exclusive=exclusive,
                expected_sha256=expected_sha256,
                max_bytes=settings.max_write_bytes,
                create_parents=create_parents,
            )
        await announce_changes(ctx, [result.path])
        return result

    @server.tool(annotations=_hints(destructive=True, idempotent=False))
    @in_scope
    async def edit_file(
        path: PathArg,
        edits: Annotated[
            list[EditOperation],
            Field(min_length=1, max_length=100, description="edits applied in order: [{oldText, newText}, ...]"),
        ],
        ctx: Context[Any, Any],
        scope: Scope,
        dry_run: Annotated[
            bool,
            Field(
                validation_alias=AliasChoices("dry_run", "dryRun"),
                description="preview the diff without writing (also accepted as dryRun)",
            ),
        ] = False,
        expected_sha256: Sha = None,
    ) -> EditResult | InputRequiredResult:
        """Replace text in a file: each oldText must match exactly one place (whitespace, indentation and
        line-ending differences are tolerated; CRLF files stay CRLF). Returns a git-style diff."""
        target = policy.resolve(path, scope, write=True)
        async with app.locks.hold(target.path):
            result = await app.in_thread(
                "edit",
                edit_file_op,
                target,
                path,
                edits,
                dry_run=dry_run,
                expected_sha256=expected_sha256,
                max_bytes=settings.max_write_bytes,
            )
        if result.applied:
            await announce_changes(ctx, [result.path])
        return result

    @server.tool(name="create_directory", annotations=_hints(destructive=False, idempotent=True))
    @in_scope
    async def create_directory_tool(
        path: PathArg, ctx: Context[Any, Any], scope: Scope
    ) -> DirectoryCreated | InputRequiredResult:
        """Create a directory and any missing parents; succeeds quietly if it already exists."""
        target = policy.resolve(path, scope, write=True)
        result = await app.in_thread("mkdir", create_directory, target, path)
        if result.created:
            await announce_changes(ctx, [result.path])
        return result

    @server.tool(name="move_file", annotations=_hints(destructive=False, idempotent=False))
    @in_scope
    async def move_file(
        source: Annotated[str, Field(description="file or directory to move or rename")],
        destination: Annotated[str, Field(description="new path; must not exist (nothing is ever overwritten)")],
        ctx: Context[Any, Any],
        scope: Scope,
    ) -> MoveResult | InputRequiredResult:
        """Move or rename a file or directory, within or across writable directories. Never overwrites."""
        origin = policy.resolve(source, scope, write=True, follow=False, what="source")
        target = policy.resolve(destination, scope, write=True, follow=False, what="destination")
        async with app.locks.hold(origin.path, target.path):
            result = await app.in_thread("move", move, origin, target, source, destination)
        await announce_changes(ctx, [result.source, result.destination])
        return result

    @server.tool(annotations=_hints(destructive=True, idempotent=False))
    @in_scope
    async def delete_path(
        path: PathArg,
        ctx: Context[Any, Any],
        scope: Scope,
        recursive: Annotated[bool, Field(description="required to delete a directory that is not empty")] = False,
    ) -> DeleteResult | InputRequiredResult:
        """Move a file or directory to the server's trash (recoverable with restore_from_trash)."""
        target = policy.resolve(path, scope, write=True, follow=False)
        async with app.locks.hold(target.path):
            result = await app.in_thread("delete", app.trash.delete, target, path, recursive=recursive)
        await announce_changes(ctx, [result.path])
        return result

    @server.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    )
    @in_scope
    async def list_trash(
        ctx: Context[Any, Any],
        scope: Scope,
        cursor: Annotated[str | None, Field(description="next_cursor from the previous page")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="entries per page")] = 50,
    ) -> TrashListing | InputRequiredResult:
        """What delete_path moved to the trash from the allowed directories, newest first."""
        query = fingerprint("list_trash")
        offset = offset_of(cursor, query)
        entries = await app.in_thread("list_trash", app.trash.entries, scope)
        more = offset + limit < len(entries)
        return TrashListing(
            entries=entries[offset : offset + limit],
            total_entries=len(entries),
            next_cursor=offset_cursor(offset + limit, query) if more else None,
        )

    @server.tool(annotations=_hints(destructive=False, idempotent=False))
    @in_scope
    async def restore_from_trash(
        trash_id: Annotated[str, Field(description="id from delete_path or list_trash")],
        ctx: Context[Any, Any],
        scope: Scope,
        destination: Annotated[
            str | None, Field(description="where to restore instead of the original path (must not exist)")
        ] = None,
    ) -> RestoreResult | InputRequiredResult:
        """Put a deleted file or directory back where it was (or at destination). Never overwrites."""
        original = app.trash.original_path(trash_id, scope)
        shown = destination or original
        target = policy.resolve(shown, scope, write=True, follow=False, what="destination")
        async with app.locks.hold(target.path):
            result = await app.in_thread("restore", app.trash.restore, trash_id, target, shown, scope)
        await announce_changes(ctx, [result.restored_to])
        return result
