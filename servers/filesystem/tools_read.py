"""The read-only tools: always listed, on read-only and read-write servers alike."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    InputRequiredResult,
    TextContent,
    ToolAnnotations,
)
from pydantic import AliasChoices, Field

from servers.filesystem.app import FilesystemApp
from servers.filesystem.beneath import stat_beneath
from servers.filesystem.errors import FsError
from servers.filesystem.isolation import run_isolated
from servers.filesystem.listing import directory_tree
from servers.filesystem.listing import list_directory as list_directory_op
from servers.filesystem.models import (
    AllowedDirectories,
    AllowedDirectory,
    ClientRootStatus,
    DirectoryListing,
    DirectoryTree,
    FileInfo,
    FileReadResult,
    GrepResult,
    MediaFile,
    MultipleFiles,
    SearchResult,
    TextFile,
)
from servers.filesystem.reading import file_info, read_for_batch, read_media, read_text
from servers.filesystem.roots import roots_scoped
from servers.filesystem.searching import GrepQuery, grep, search_files
from servers.kit.budgets import capped
from servers.kit.paths.policy import Policy, Scope

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
INLINE_BYTES = 2 * 1024 * 1024

PathArg = Annotated[
    str,
    Field(description="file path: absolute, or relative to the first allowed directory; see list_allowed_directories"),
]
DirArg = Annotated[str, Field(description="directory path (absolute, or relative to the first allowed directory)")]
Excludes = Annotated[
    list[str] | None,
    Field(
        validation_alias=AliasChoices("exclude_patterns", "excludePatterns"),
        max_length=100,
        description="globs to skip: '*.log' matches names, 'build/**' relative paths (also accepted as excludePatterns)",
    ),
]
Cursor = Annotated[str | None, Field(description="next_cursor from the previous page; omit for the first page")]


def register_read_tools(server: MCPServer[Any], app: FilesystemApp) -> None:
    policy = app.policy
    in_scope = roots_scoped(policy)
    settings = app.settings

    def read_budget(requested: int | None) -> int:
        return capped(requested, settings.default_read_bytes, settings.max_read_bytes)

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def read_text_file(
        path: PathArg,
        ctx: Context[Any, Any],
        scope: Scope,
        offset: Annotated[int | None, Field(ge=1, description="1-based line to start at")] = None,
        limit: Annotated[int | None, Field(ge=1, le=1_000_000, description="number of lines to return")] = None,
        head: Annotated[int | None, Field(ge=1, le=1_000_000, description="return only the first N lines")] = None,
        tail: Annotated[int | None, Field(ge=1, le=1_000_000, description="return only the last N lines")] = None,
        max_bytes: Annotated[
            int | None,
            Field(ge=1, description="byte budget of the returned text (default 64 KiB, capped by the operator)"),
        ] = None,
    ) -> Annotated[CallToolResult, TextFile] | InputRequiredResult:
        """Read a UTF-8 text file, whole or a window of lines (offset/limit, head or tail).

        Reports total_lines, the sha256 of the whole file (pass it to edit_file/write_file as
        expected_sha256) and, when the byte budget cut the window short, next_offset to continue.
        """
        target = policy.resolve(path, scope)
        budget = read_budget(max_bytes)
        size = stat_beneath(target.anchor, target.path, shown=path).st_size
        kwargs: dict[str, Any] = {"offset": offset, "limit": limit, "head": head, "tail": tail, "max_bytes": budget}
        if size <= INLINE_BYTES:
            with app.disk("read"):
                text = read_text(target, path, **kwargs)
            return text_result(text)
        return text_result(await app.in_thread("read", read_text, target, path, **kwargs))

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def read_media_file(
        path: PathArg, ctx: Context[Any, Any], scope: Scope
    ) -> Annotated[CallToolResult, MediaFile] | InputRequiredResult:
        """Read an image, audio or other binary file as base64 with its MIME type (size capped by the operator)."""
        target = policy.resolve(path, scope)
        media = await app.in_thread("read", read_media, target, path, max_bytes=settings.max_media_bytes)
        data = media.data or ""
        if media.kind == "image":
            block: ImageContent | AudioContent | EmbeddedResource = ImageContent(data=data, mime_type=media.mime_type)
        elif media.kind == "audio":
            block = AudioContent(data=data, mime_type=media.mime_type)
        else:
            block = EmbeddedResource(
                resource=BlobResourceContents(uri=f"file://{target.path}", blob=data, mime_type=media.mime_type)
            )
        media.data = None
        return CallToolResult(content=[block], structured_content=media.model_dump(mode="json"))

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def read_multiple_files(
        paths: Annotated[list[str], Field(min_length=1, max_length=50, description="files to read (1 to 50)")],
        ctx: Context[Any, Any],
        scope: Scope,
        max_bytes: Annotated[
            int | None, Field(ge=1, description="byte budget shared by all files (default 64 KiB, operator-capped)")
        ] = None,
    ) -> MultipleFiles | InputRequiredResult:
        """Read several text files at once; a file that cannot be read reports its error without failing the rest."""
        budget = read_budget(max_bytes)
        share = max(1024, budget // len(paths))

        def run() -> MultipleFiles:
            results = []
            for raw in paths:
                try:
                    target = policy.resolve(raw, scope)
                except FsError as exc:
                    results.append(FileReadResult(path=raw, ok=False, error=str(exc)))
                    continue
                results.append(read_for_batch(target, raw, max_bytes=share))
            ok = sum(1 for item in results if item.ok)
            return MultipleFiles(
                files=results, succeeded=ok, failed=len(results) - ok, truncated=any(item.truncated for item in results)
            )

        return await app.in_thread("read", run)

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def list_directory(
        ctx: Context[Any, Any],
        scope: Scope,
        path: DirArg = ".",
        cursor: Cursor = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="entries per page")] = 200,
        sort_by: Annotated[
            Literal["name", "size", "modified"],
            Field(
                validation_alias=AliasChoices("sort_by", "sortBy"),
                description="name (directories first), size (largest first) or modified (newest first)",
            ),
        ] = "name",
    ) -> DirectoryListing | InputRequiredResult:
        """List one directory: names, types, sizes and times, a page at a time, with totals."""
        target = policy.resolve(path, scope)
        return await app.in_thread("list", list_directory_page, target, path, cursor, limit, sort_by)

    def list_directory_page(target: Any, path: str, cursor: str | None, limit: int, sort_by: Any) -> DirectoryListing:
        return list_directory_op(policy, target, path, cursor=cursor, limit=limit, sort_by=sort_by)

    @server.tool(name="directory_tree", annotations=READ_ONLY)
    @in_scope
    async def directory_tree_tool(
        ctx: Context[Any, Any],
        scope: Scope,
        path: DirArg = ".",
        depth: Annotated[int, Field(ge=1, le=20, description="levels to descend")] = 3,
        exclude_patterns: Excludes = None,
        max_entries: Annotated[int, Field(ge=1, le=10_000, description="entry budget of the whole tree")] = 500,
    ) -> DirectoryTree | InputRequiredResult:
        """A directory's tree as nested JSON, breadth-first within depth and an entry budget (says when cut)."""
        target = policy.resolve(path, scope)
        return await app.budgeted(
            "list",
            directory_tree,
            policy,
            target,
            path,
            depth=depth,
            exclude_patterns=exclude_patterns,
            max_entries=max_entries,
        )

    @server.tool(name="search_files", annotations=READ_ONLY)
    @in_scope
    async def search_files_tool(
        pattern: Annotated[
            str,
            Field(
                min_length=1,
                max_length=1000,
                description="glob on names ('*.py', 'test_*') or relative paths ('src/**/*.ts'); "
                "plain text matches names containing it",
            ),
        ],
        ctx: Context[Any, Any],
        scope: Scope,
        path: DirArg = ".",
        exclude_patterns: Excludes = None,
        kind: Annotated[Literal["files", "directories", "all"], Field(description="what to return")] = "all",
        case_sensitive: Annotated[bool, Field(description="match case exactly")] = False,
        max_results: Annotated[int, Field(ge=1, le=10_000, description="results per page")] = 100,
        cursor: Cursor = None,
    ) -> SearchResult | InputRequiredResult:
        """Find files and directories by name glob under a directory (recursive, budgeted, paginated)."""
        target = policy.resolve(path, scope)
        return await app.budgeted(
            "search",
            search_files,
            policy,
            target,
            path,
            pattern=pattern,
            exclude_patterns=exclude_patterns,
            kinds=kind,
            case_sensitive=case_sensitive,
            max_results=min(max_results, settings.max_results),
            cursor=cursor,
            max_entries=settings.max_scan_entries,
            timeout=settings.search_timeout_seconds,
        )

    @server.tool(name="grep", annotations=READ_ONLY)
    @in_scope
    async def grep_tool(
        pattern: Annotated[str, Field(min_length=1, max_length=1000, description="regular expression, or text")],
        ctx: Context[Any, Any],
        scope: Scope,
        path: Annotated[str, Field(description="directory to search recursively, or one file")] = ".",
        literal: Annotated[bool, Field(description="treat pattern as plain text, not a regex")] = False,
        case: Annotated[
            Literal["sensitive", "insensitive", "smart"],
            Field(description="smart: insensitive unless the pattern has an upper-case letter"),
        ] = "smart",
        context_lines: Annotated[int, Field(ge=0, le=10, description="lines of context before and after")] = 0,
        include: Annotated[
            list[str] | None, Field(max_length=50, description="file globs to search, e.g. ['*.py', 'src/**/*.ts']")
        ] = None,
        exclude_patterns: Excludes = None,
        max_results: Annotated[int, Field(ge=1, le=10_000, description="matches per page")] = 100,
        max_bytes: Annotated[int, Field(ge=1024, description="byte budget of the matches returned")] = 32 * 1024,
        cursor: Cursor = None,
    ) -> GrepResult | InputRequiredResult:
        """Search file contents: regex or literal, with context lines, file globs, and result/byte budgets."""
        target = policy.resolve(path, scope)
        query = GrepQuery(
            pattern=pattern,
            literal=literal,
            case=case,
            context_lines=context_lines,
            include=include,
            exclude_patterns=exclude_patterns,
            max_results=min(max_results, settings.max_results),
            max_bytes=min(max_bytes, settings.max_read_bytes),
        )
        kwargs: dict[str, Any] = {
            "cursor": cursor,
            "max_entries": settings.max_scan_entries,
            "max_file_bytes": settings.max_grep_file_bytes,
            "timeout": settings.search_timeout_seconds,
        }
        if literal:
            return await app.budgeted("grep", grep, policy, target, path, query, **kwargs)
        deadline = app.hard_deadline()
        return await app.in_thread("grep", run_isolated, grep, (policy, target, path, query), kwargs, deadline)

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def get_file_info(path: PathArg, ctx: Context[Any, Any], scope: Scope) -> FileInfo | InputRequiredResult:
        """Facts about a file or directory: type, size, times, permissions; for files also MIME type,
        sha256 and line count. A symbolic link is described itself (with its target), not followed."""
        target = policy.resolve(path, scope, follow=False)
        with app.disk("stat"):
            return file_info(target, path, writable=target.root.writable)

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def list_allowed_directories(
        ctx: Context[Any, Any], scope: Scope
    ) -> AllowedDirectories | InputRequiredResult:
        """The directories this server may touch, each rw or ro, after any narrowing by the client's roots."""
        return describe_scope(policy, scope)


def text_result(text: TextFile) -> CallToolResult:
    """The file's text as its own content block (not JSON inside JSON), the facts beside it, all structured too.

    Serialising a 100 KB file once instead of twice (structured and as an escaped JSON dump)
    is most of what makes large reads fast over stdio.
    """
    structured = text.model_dump(mode="json")
    facts = {key: value for key, value in structured.items() if key != "content" and value is not None}
    return CallToolResult(
        content=[TextContent(text=text.content), TextContent(text=json.dumps(facts, ensure_ascii=False))],
        structured_content=structured,
    )


def describe_scope(policy: Policy, scope: Scope) -> AllowedDirectories:
    """list_allowed_directories' answer for ``scope``."""
    return AllowedDirectories(
        directories=[
            AllowedDirectory(
                path=root.path,
                mode=root.mode,
                configured=root.configured,
                source=root.source,
                exists=os.path.isdir(root.path),
            )
            for root in scope.roots
        ],
        narrowed_by_client=scope.narrowed,
        client_roots=[
            ClientRootStatus(uri=note.uri, status=note.status, reason=note.reason) for note in scope.client_roots
        ],
        deny=list(policy.deny),
        relative_paths_resolve_against=scope.roots[0].path,
    )
