"""The structured results of the filesystem tools (each becomes the tool's outputSchema)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

EntryType = Literal["file", "directory", "symlink", "other"]
LineEnding = Literal["lf", "crlf", "mixed", "none"]
MatchKind = Literal["exact", "line_endings", "whitespace"]


class TextFile(BaseModel):
    """A window of a text file's lines, with enough facts to page on and to guard a later edit."""

    path: str
    content: str = Field(description="the selected lines, verbatim (line endings kept)")
    total_lines: int
    start_line: int = Field(description="1-based number of the first line returned (0 when none)")
    end_line: int = Field(description="1-based number of the last line returned (0 when none)")
    truncated: bool = Field(description="true when the window stopped before the end of the requested lines")
    truncated_reason: Literal["max_bytes"] | None = None
    next_offset: int | None = Field(default=None, description="pass as offset to read the next lines")
    size_bytes: int
    sha256: str = Field(description="hash of the whole file: pass to edit_file/write_file as expected_sha256")
    line_ending: LineEnding
    replaced_invalid_utf8: bool = False
    hint: str | None = None


class MediaFile(BaseModel):
    """A binary file as base64 with its MIME type; ``data`` is omitted when an image/audio block carries it."""

    path: str
    mime_type: str
    kind: Literal["image", "audio", "other"]
    size_bytes: int
    sha256: str
    data: str | None = Field(default=None, description="base64 bytes, when no image/audio content block holds them")


class FileReadResult(BaseModel):
    """One file of read_multiple_files: its text, or the error that kept it from being read."""

    path: str
    ok: bool
    content: str | None = None
    total_lines: int | None = None
    truncated: bool = False
    sha256: str | None = None
    error: str | None = None


class MultipleFiles(BaseModel):
    files: list[FileReadResult]
    succeeded: int
    failed: int
    truncated: bool = Field(description="true when the byte budget cut at least one file short")


class WriteResult(BaseModel):
    path: str
    created: bool
    bytes_written: int
    sha256: str
    previous_sha256: str | None = None


class EditOperation(BaseModel):
    """One replacement: the text to find and what to put in its place (``oldText``/``newText`` as upstream)."""

    model_config = ConfigDict(populate_by_name=True)

    old_text: str = Field(
        alias="oldText",
        validation_alias=AliasChoices("oldText", "old_text"),
        min_length=1,
        description="text to find; whitespace and line-ending differences are tolerated",
    )
    new_text: str = Field(
        alias="newText",
        validation_alias=AliasChoices("newText", "new_text"),
        description="replacement text",
    )


class AppliedEdit(BaseModel):
    index: int
    match: MatchKind = Field(description="exact, or tolerant of line endings, or of whitespace/indentation")
    start_line: int
    lines_removed: int
    lines_added: int


class EditResult(BaseModel):
    path: str
    applied: bool = Field(description="false for a dry run: nothing was written")
    diff: str = Field(description="git-style unified diff of the change")
    edits: list[AppliedEdit]
    sha256_before: str
    sha256_after: str
    line_ending: LineEnding


class DirectoryCreated(BaseModel):
    path: str
    created: bool


class DirectoryEntry(BaseModel):
    name: str
    type: EntryType
    size: int | None = None
    modified: str | None = None
    symlink_target: str | None = None


class DirectoryListing(BaseModel):
    path: str
    entries: list[DirectoryEntry]
    total_entries: int
    files: int
    directories: int
    total_size: int
    hidden_by_policy: int = Field(description="entries not shown because a deny glob matches them")
    next_cursor: str | None = None


class TreeNode(BaseModel):
    name: str
    type: EntryType
    size: int | None = None
    children: list[TreeNode] | None = None
    truncated: bool | None = Field(default=None, description="true when deeper entries were not walked")


class DirectoryTree(BaseModel):
    path: str
    tree: TreeNode
    entries: int
    truncated: bool
    truncated_reason: Literal["max_entries", "depth"] | None = None
    hint: str | None = None


class MoveResult(BaseModel):
    source: str
    destination: str
    type: EntryType


class TrashEntry(BaseModel):
    trash_id: str
    original_path: str
    deleted_at: str
    type: EntryType
    size: int


class DeleteResult(BaseModel):
    path: str
    trash_id: str
    type: EntryType
    hint: str


class TrashListing(BaseModel):
    entries: list[TrashEntry]
    total_entries: int
    next_cursor: str | None = None


class RestoreResult(BaseModel):
    trash_id: str
    restored_to: str
    type: EntryType


class SearchMatch(BaseModel):
    path: str
    type: EntryType
    size: int | None = None


class SearchResult(BaseModel):
    path: str
    pattern: str
    matches: list[SearchMatch]
    scanned_entries: int
    truncated: bool
    truncated_reason: Literal["max_results", "scan_budget", "time_budget"] | None = None
    next_cursor: str | None = None


class GrepMatch(BaseModel):
    path: str
    line: int
    column: int
    text: str
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)


class GrepResult(BaseModel):
    pattern: str
    matches: list[GrepMatch]
    files_scanned: int
    files_matched: int
    skipped_binary: int
    skipped_large: int
    truncated: bool
    truncated_reason: Literal["max_results", "max_bytes", "scan_budget", "time_budget"] | None = None
    next_cursor: str | None = None


class FileInfo(BaseModel):
    path: str
    type: EntryType
    size: int
    created: str | None = None
    modified: str
    accessed: str
    permissions: str = Field(description="e.g. rw-r--r--")
    mode_octal: str = Field(description="e.g. 0644")
    is_symlink: bool
    symlink_target: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    line_count: int | None = None
    writable: bool = Field(description="whether the operator's policy allows writing here")


class AllowedDirectory(BaseModel):
    path: str
    mode: Literal["rw", "ro"]
    configured: str
    source: Literal["operator", "client"]
    exists: bool


class ClientRootStatus(BaseModel):
    uri: str
    status: Literal["applied", "ignored"]
    reason: str


class AllowedDirectories(BaseModel):
    directories: list[AllowedDirectory]
    narrowed_by_client: bool
    client_roots: list[ClientRootStatus]
    deny: list[str]
    relative_paths_resolve_against: str
