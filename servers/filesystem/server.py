"""The filesystem server: safe file tools over the operator's allowed directories.

``build_server(settings)`` wires the pieces together: the policy (:mod:`.policy`), the read tools
(:mod:`.tools_read`, always), the write and trash tools (:mod:`.tools_write`, only when some
directory is read-write), ``file://`` resources (:mod:`.resources`) and prompts
(:mod:`.prompts`). ``DEFINITION`` is what ``mcp-suite serve filesystem`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult
from mcp.types import Resource as MCPResource
from mcp.types import ResourceTemplate as MCPResourceTemplate
from pydantic import AnyUrl

from mesh.config import Settings
from servers.filesystem.app import FilesystemApp, effective_roots, trash_directory
from servers.filesystem.prompts import register_prompts
from servers.filesystem.resources import read_file_uri, root_resources, root_templates
from servers.filesystem.roots import RootsChangedMiddleware, cached_scope
from servers.filesystem.settings import FilesystemRoot, body_limit, filesystem_settings
from servers.filesystem.tools_read import register_read_tools
from servers.filesystem.tools_write import register_write_tools
from servers.kit.tool_errors import code_tool_errors
from servers.runtime.definition import Readiness, ServerDefinition

INSTRUCTIONS = """\
Files in the directories the operator allows (list_allowed_directories shows them, each rw or ro).
Relative paths resolve against the first one. Read with read_text_file (line windows, total_lines,
sha256); change with edit_file (dry_run first, expected_sha256 to refuse stale edits) or write_file.
delete_path moves to a trash that restore_from_trash undoes. grep searches contents, search_files
names. Paths matching the operator's deny globs (.env*, .git/, keys) are never shown or touched."""


class FilesystemServer(MCPServer[Any]):
    """An ``MCPServer`` whose ``file://`` resources are served by the policy, with per-file MIME types."""

    def __init__(self, app: FilesystemApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    async def list_resources(self) -> list[MCPResource]:
        return [*await super().list_resources(), *root_resources(self.app)]

    async def list_resource_templates(self) -> list[MCPResourceTemplate]:
        return [*await super().list_resource_templates(), *root_templates(self.app)]

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        text = str(uri)
        if not text.startswith("file:"):
            return await super().read_resource(uri, context)
        scope = cached_scope(context, self.app.policy)
        return read_file_uri(self.app, scope, text)


def build_server(settings: Settings) -> MCPServer[Any]:
    """The filesystem MCP server for ``settings`` (write tools only when some directory is read-write)."""
    app = FilesystemApp.from_settings(settings)
    server = FilesystemServer(
        app,
        name="filesystem",
        title="mcp-suite filesystem",
        instructions=INSTRUCTIONS,
        version="0.1.0",
    )
    server.middleware.append(RootsChangedMiddleware())
    register_read_tools(server, app)
    if not app.policy.read_only:
        register_write_tools(server, app)
    register_prompts(server, app)
    code_tool_errors(server)
    return server


async def readiness(settings: Settings) -> Readiness:
    """Ready when every allowed directory exists and is accessible in its mode (and the trash is writable)."""
    return await anyio.to_thread.run_sync(check_readiness, settings)


def check_readiness(settings: Settings) -> Readiness:
    checks: dict[str, str] = {}
    ready = True
    writable = False
    for path, mode in effective_roots(settings):
        need = os.R_OK | os.X_OK | (os.W_OK if mode == "rw" else 0)
        writable = writable or mode == "rw"
        if not os.path.isdir(path):
            checks[f"root {path}"] = "missing: not an existing directory"
            ready = False
        elif not os.access(path, need):
            checks[f"root {path}"] = f"not accessible for {mode}"
            ready = False
        else:
            checks[f"root {path}"] = f"ok ({mode})"
    if writable:
        trash = trash_directory(settings)
        probe = trash.rstrip(os.sep) or "/"
        while not os.path.isdir(probe) and probe != os.path.dirname(probe):
            probe = os.path.dirname(probe)  # the trash is created on first use under its nearest existing parent
        if os.path.isdir(probe) and os.access(probe, os.W_OK | os.X_OK):
            checks["trash"] = f"ok ({trash})"
        else:
            checks["trash"] = f"not writable: {trash}"
            ready = False
    return Readiness(ready=ready, checks=checks)


def parse_root(word: str) -> FilesystemRoot:
    """``DIR``, ``DIR:rw`` or ``DIR:ro`` as a root; the directory must exist."""
    path, mode = word, "rw"
    for suffix in (":ro", ":rw"):
        if word.endswith(suffix) and len(word) > len(suffix):
            path, mode = word[: -len(suffix)], suffix[1:]
            break
    if "\x00" in path:
        raise ValueError("an allowed directory may not contain a NUL byte")
    expanded = Path(os.path.expanduser(path)).absolute()
    if not expanded.is_dir():
        raise ValueError(f"allowed directory {path!r} does not exist or is not a directory")
    return FilesystemRoot(path=expanded, mode="ro" if mode == "ro" else "rw")


def apply_arguments(settings: Settings, words: Sequence[str]) -> Settings:
    """Command-line directories (``DIR``, ``DIR:ro``, ``DIR:rw``) replace the configured roots."""
    if not words:
        return settings
    roots = tuple(parse_root(word) for word in words)
    filesystem = filesystem_settings(settings).model_copy(update={"roots": roots})
    return settings.model_copy(update={"filesystem": filesystem})


def port_of(settings: Settings) -> int:
    return filesystem_settings(settings).port


DEFINITION = ServerDefinition(
    name="filesystem",
    build=build_server,
    readiness=readiness,
    apply_arguments=apply_arguments,
    port_of=port_of,
    body_limit=body_limit,
)
