"""The structured results of the filesystem tools (each becomes the tool's outputSchema)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, WithJsonSchema

EntryType = Literal["file", "directory", "symlink", "other"]
LineEnding = Literal["lf", "crlf", "mixed", "none"]
MatchKind = Literal["exact", "line_endings", "whitespace"]

# Nullable fields are published as ``{"type": [T, "null"]}`` rather than pydantic's ``anyOf``: the
# same meaning, and far cheaper for clients that validate structuredContent against outputSchema.
OptStr = Annotated[str | None, WithJsonSchema({"type": ["string", "null"]})]
OptInt = Annotated[int | None, WithJsonSchema({"type": ["integer", "null"]})]
OptBool = Annotated[bool | None, WithJsonSchema({"type": ["boolean", "null"]})]


def _opt_enum(*values: str) -> WithJsonSchema:
    return WithJsonSchema({"enum": [*values, None]})


class TextFile(BaseModel):
    """A window of a text file's lines, with enough facts to page on and to guard a later edit."""

    path: str
    content: str = Field(description="the selected lines, verbatim (line endings kept)")
    total_lines: int
    start_line: int = Field(description="1-based number of the first line returned (0 when none)")
    end_line: int = Field(description="1-based number of the last line returned (0 when none)")
    truncated: bool = Field(description="true when the window stopped before the end of the requested lines")
    truncated_reason: Annotated[Literal["max_bytes"] | None, _opt_enum("max_bytes")] = None
    next_offset: OptInt = Field(default=None, description="pass as offset to read the next lines")
    size_bytes: int
    sha256: str = Field(description="hash of the whole file: pass to edit_file/write_file as expected_sha256")
    line_ending: LineEnding
    replaced_invalid_utf8: bool = False
    hint: OptStr = None


class MediaFile(BaseModel):
    """A binary file as base64 with its MIME type; ``data`` is omitted when an image/audio block carries it."""

    path: str
    mime_type: str
    kind: Literal["image", "audio", "other"]
    size_bytes: int
    sha256: str
    data: OptStr = Field(default=None, description="base64 bytes, when no image/audio content block holds them")


class FileReadResult(BaseModel):
    """One file of read_multiple_files: its text, or the error that kept it from being read."""

    path: str
    ok: bool
    content: OptStr = None
    total_lines: OptInt = None
    truncated: bool = False
    sha256: OptStr = None
    error: OptStr = None


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
    previous_sha256: OptStr = None


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
    size: OptInt = None
    modified: OptStr = None
    symlink_target: OptStr = None


class DirectoryListing(BaseModel):
    path: str
    entries: list[DirectoryEntry]
    total_entries: int
    files: int
    directories: int
    total_size: int
    hidden_by_policy: int = Field(description="entries not shown because a deny glob matches them")
    next_cursor: OptStr = None


class TreeNode(BaseModel):
    name: str
    type: EntryType
    size: OptInt = None
    children: list[TreeNode] | None = None
    truncated: OptBool = Field(default=None, description="true when deeper entries were not walked")


class DirectoryTree(BaseModel):
    path: str
    tree: TreeNode
    entries: int
    truncated: bool
    truncated_reason: Annotated[Literal["max_entries", "depth"] | None, _opt_enum("max_entries", "depth")] = None
    hint: OptStr = None


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
    next_cursor: OptStr = None


class RestoreResult(BaseModel):
    trash_id: str
    restored_to: str
    type: EntryType


class SearchMatch(BaseModel):
    path: str
    type: EntryType
    size: OptInt = None


class SearchResult(BaseModel):
    path: str
    pattern: str
    matches: list[SearchMatch]
    scanned_entries: int
    truncated: bool
    truncated_reason: Annotated[
        Literal["max_results", "scan_budget", "time_budget"] | None,
        _opt_enum("max_results", "scan_budget", "time_budget"),
    ] = None
    next_cursor: OptStr = None


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
    truncated_reason: Annotated[
        Literal["max_results", "max_bytes", "scan_budget", "time_budget"] | None,
        _opt_enum("max_results", "max_bytes", "scan_budget", "time_budget"),
    ] = None
    next_cursor: OptStr = None


class FileInfo(BaseModel):
    path: str
    type: EntryType
    size: int
    created: OptStr = None
    modified: str
    accessed: str
    permissions: str = Field(description="e.g. rw-r--r--")
    mode_octal: str = Field(description="e.g. 0644")
    is_symlink: bool
    symlink_target: OptStr = None
    mime_type: OptStr = None
    sha256: OptStr = None
    line_count: OptInt = None
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
