"""Prompts: ready-made requests that put a file or a directory in front of the model.

* ``review_file`` embeds a file (as a resource) and asks for a review, optionally on one focus.
* ``summarize_directory`` embeds a directory tree and asks what the project is and how it is laid out.
* ``plan_safe_edit`` spells out the read → dry run → guarded edit workflow for one change.

They read through the same policy as the tools (with the operator's directories, or the
roots a 2025-11-25 connection already gave).
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.types import EmbeddedResource, TextResourceContents
from pydantic import Field

from servers.filesystem.app import FilesystemApp
from servers.filesystem.listing import directory_tree
from servers.filesystem.models import TreeNode
from servers.filesystem.reading import read_text
from servers.filesystem.resources import root_uri
from servers.filesystem.roots import cached_scope
from servers.filesystem.textio import mime_type_of


def _render(node: TreeNode, indent: str = "") -> list[str]:
    lines: list[str] = []
    for child in node.children or []:
        marker = "/" if child.type == "directory" else ""
        more = " …" if child.truncated else ""
        size = f"  ({child.size} bytes)" if child.size is not None else ""
        lines.append(f"{indent}{child.name}{marker}{size}{more}")
        lines.extend(_render(child, indent + "  "))
    return lines


def register_prompts(server: MCPServer[Any], app: FilesystemApp) -> None:
    policy = app.policy

    @server.prompt(title="Review a file")
    async def review_file(
        path: Annotated[str, Field(description="file to review")],
        ctx: Context[Any, Any],
        focus: Annotated[str, Field(description="what to look at: bugs, security, style...")] = "",
    ) -> list[Message]:
        """Review one file for bugs, risks and clarity, citing line numbers."""
        target = policy.resolve(path, cached_scope(ctx, policy))
        text = read_text(target, path, max_bytes=app.settings.default_read_bytes)
        note = ""
        if text.truncated:
            note = f" Only lines {text.start_line}-{text.end_line} of {text.total_lines} are included."
        numbered = "\n".join(
            f"{number:>5}  {line}" for number, line in enumerate(text.content.split("\n"), start=text.start_line)
        )
        resource = EmbeddedResource(
            resource=TextResourceContents(
                uri=root_uri(target.path), text=numbered, mime_type=mime_type_of(target.path) or "text/plain"
            )
        )
        ask = (
            f"Review {target.path} ({text.total_lines} lines).{note} "
            "List concrete problems first (bugs, unsafe behaviour, missing error handling), each with its line "
            "number and a suggested fix, then smaller improvements. Say so plainly if the file looks sound."
        )
        if focus.strip():
            ask += f" Focus on: {focus.strip()}."
        return [UserMessage(content=resource), UserMessage(content=ask)]

    @server.prompt(title="Summarize a directory")
    async def summarize_directory(
        ctx: Context[Any, Any],
        path: Annotated[str, Field(description="directory to summarize")] = ".",
        depth: Annotated[str, Field(description="levels to show, 1 to 6")] = "3",
    ) -> list[Message]:
        """Explain what a directory holds and how it is organised, from its tree."""
        try:
            levels = max(1, min(6, int(depth)))
        except ValueError:
            levels = 3
        target = policy.resolve(path, cached_scope(ctx, policy))
        tree = directory_tree(policy, target, path, depth=levels, exclude_patterns=None, max_entries=400)
        listing = "\n".join(_render(tree.tree)) or "(empty)"
        cut = " The tree was cut short (… marks unexplored directories)." if tree.truncated else ""
        return [
            UserMessage(
                content=(
                    f"Here is the tree of {tree.path} ({tree.entries} entries, {levels} levels).{cut}\n\n"
                    f"{listing}\n\n"
                    "Summarize what this directory contains: its purpose, the main parts and where they live, "
                    "entry points, tests and configuration. Name files to read next to understand it better."
                )
            )
        ]

    @server.prompt(title="Plan a safe edit")
    async def plan_safe_edit(
        path: Annotated[str, Field(description="file to change")],
        goal: Annotated[str, Field(description="the change to make")],
    ) -> list[Message]:
        """Walk through a guarded change: read with hash, preview with a dry run, apply with expected_sha256."""
        return [
            UserMessage(
                content=(
                    f"Make this change to {path}: {goal}\n\n"
                    "Work safely with the filesystem tools:\n"
                    "1. `read_text_file` the file; note its sha256 and the lines involved.\n"
                    "2. `edit_file` with dry_run=true and small, unique oldText blocks; check the diff.\n"
                    "3. `edit_file` again with dry_run=false and expected_sha256 set to the hash from step 1.\n"
                    "4. If it answers 'stale', the file changed meanwhile: read it again and redo the edit.\n"
                    "5. If you remove something by mistake, `delete_path` moved it to the trash: `restore_from_trash`."
                )
            )
        ]
