"""Files as ``file://`` resources: one resource per allowed root, one URI template per root.

Reading a directory URI returns its listing as JSON; reading a file returns text (UTF-8 text
within ``max_read_bytes``) or a blob (within ``max_media_bytes``), with the file's own MIME type.
Every read goes through the same policy as the tools. Resources cannot ask the client for its
roots, so they honour the roots a 2025-11-25 connection already gave and otherwise the
operator's directories.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import Resource as MCPResource
from mcp.types import ResourceTemplate as MCPResourceTemplate

from servers.filesystem.app import FilesystemApp
from servers.filesystem.beneath import open_beneath
from servers.filesystem.errors import FsError
from servers.filesystem.listing import list_directory
from servers.filesystem.textio import is_binary, is_textual_mime, mime_type_of
from servers.kit.paths.policy import Resolved, Scope

DIRECTORY_MIME = "application/json"


def root_uri(path: str) -> str:
    return Path(path).as_uri()


def root_resources(app: FilesystemApp) -> list[MCPResource]:
    return [
        MCPResource(
            uri=root_uri(root.path),
            name=os.path.basename(root.path) or root.path,
            title=f"{root.path} ({'read-write' if root.writable else 'read-only'})",
            description="an allowed directory; reading it returns its listing as JSON",
            mime_type=DIRECTORY_MIME,
        )
        for root in app.policy.roots
    ]


def root_templates(app: FilesystemApp) -> list[MCPResourceTemplate]:
    return [
        MCPResourceTemplate(
            uri_template=f"{root_uri(root.path)}/{{+path}}",
            name=f"files in {os.path.basename(root.path) or root.path}",
            title=f"Files under {root.path}",
            description="a file (text or blob, with its MIME type) or directory (JSON listing) under this root",
        )
        for root in app.policy.roots
    ]


def read_file_uri(app: FilesystemApp, scope: Scope, uri: str) -> list[ReadResourceContents]:
    """The contents of a ``file://`` URI, after the policy; errors become resource errors."""
    try:
        target = app.policy.resolve(uri, scope, what="resource URI")
        if os.path.isdir(target.path):
            listing = list_directory(
                app.policy, target, uri, cursor=None, limit=app.settings.max_results, sort_by="name"
            )
            text = json.dumps(listing.model_dump(mode="json"), ensure_ascii=False)
            return [ReadResourceContents(content=text, mime_type=DIRECTORY_MIME)]
        return [_read_file(app, target, uri)]
    except FsError as exc:
        if exc.code == "not_found":
            raise ResourceNotFoundError(str(exc)) from None
        raise ResourceError(str(exc)) from None


def _read_file(app: FilesystemApp, target: Resolved, uri: str) -> ReadResourceContents:
    path = target.path
    fd = open_beneath(target.anchor, path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0), shown=uri)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FsError("not_a_file", f"{uri!r} is not a regular file (device, socket or pipe)")
        size = info.st_size
        if size > app.settings.max_media_bytes:
            raise FsError(
                "too_large",
                f"{uri!r} is {size} bytes; resources return at most {app.settings.max_media_bytes}. "
                "Use the `read_text_file` tool with offset/limit instead.",
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(app.settings.max_media_bytes + 1)
    except FileNotFoundError:
        raise FsError("not_found", f"{uri!r} does not exist") from None
    except IsADirectoryError:
        raise FsError("is_directory", f"{uri!r} is a directory") from None
    except OSError as exc:
        raise FsError("io_error", f"{uri!r} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    mime = mime_type_of(path, data[:64])
    if not is_binary(data) and (mime is None or is_textual_mime(mime)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            if len(data) > app.settings.max_read_bytes:
                raise FsError(
                    "too_large",
                    f"{uri!r} is {len(data)} bytes of text; resources return at most {app.settings.max_read_bytes}. "
                    "Use the `read_text_file` tool with offset/limit to page through it.",
                )
            return ReadResourceContents(content=text, mime_type=mime or "text/plain")
    return ReadResourceContents(content=data, mime_type=mime or "application/octet-stream")
