"""What the tools, resources and prompts share: settings, the policy, the trash, per-path locks.

Tracing: the tools' disk work goes through :meth:`FilesystemApp.in_thread` / :meth:`FilesystemApp.budgeted`
(or :meth:`FilesystemApp.disk` for the little done on the event loop), which open one
``filesystem <operation>`` backend span (``read``, ``write``, ``search``...): no path, no content.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context
from opentelemetry.trace import Span

from mesh import tracing
from mesh.config import Settings
from servers.filesystem.errors import FsError
from servers.filesystem.settings import FilesystemSettings, filesystem_settings
from servers.filesystem.trash import Trash
from servers.kit.keyed_locks import KeyedLocks
from servers.kit.paths.policy import Mode, Policy

T = TypeVar("T")
ROOTS_HINT = "call `list_allowed_directories` to see them"
TRASH_HINT = "is inside the server's own trash; use `list_trash` / `restore_from_trash`"


def effective_roots(settings: Settings) -> list[tuple[str, Mode]]:
    """The configured roots as (path, mode), or ``<data_dir>/files`` read-write when none is configured."""
    roots: list[tuple[str, Mode]] = [(str(root.path), root.mode) for root in filesystem_settings(settings).roots]
    if not roots:
        roots = [(str(settings.data_dir / "files"), "rw")]
    return roots


def trash_directory(settings: Settings) -> str:
    return str(filesystem_settings(settings).trash_dir or (settings.data_dir / "trash"))


@dataclass
class FilesystemApp:
    settings: FilesystemSettings
    policy: Policy
    trash: Trash
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    """One lock per real path, so a read-modify-write in this process is never interleaved."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FilesystemApp:
        roots = effective_roots(settings)
        if not filesystem_settings(settings).roots:
            os.makedirs(roots[0][0], exist_ok=True)
        trash = trash_directory(settings)
        policy = Policy.build(
            roots,
            filesystem_settings(settings).deny,
            hidden=[trash],
            error=FsError,
            roots_hint=ROOTS_HINT,
            hidden_hint=TRASH_HINT,
        )
        return cls(settings=filesystem_settings(settings), policy=policy, trash=Trash(trash))

    def disk(self, operation: str) -> AbstractContextManager[Span]:
        """The backend span ``filesystem <operation>`` (a flag check when tracing is off)."""
        return tracing.backend_span("filesystem", operation)

    async def in_thread(self, operation: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking disk work off the event loop (a worker thread), in the span of ``operation``."""
        with self.disk(operation):
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    def hard_deadline(self) -> float:
        """When a search that ignored its own time budget is abandoned: 1.5 x the budget plus a second."""
        return self.settings.search_timeout_seconds * 1.5 + 1

    async def budgeted(self, operation: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Like :meth:`in_thread`, but the call is abandoned at the search deadline (plus grace)."""
        limit = self.hard_deadline()
        try:
            with self.disk(operation), anyio.fail_after(limit):
                return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), abandon_on_cancel=True)
        except TimeoutError:
            raise FsError(
                "timeout",
                f"the search did not finish within {limit:g} seconds (a slow disk, or a regular expression that "
                "backtracks badly); narrow the path, add include globs, or pass literal=true",
            ) from None


async def announce_changes(ctx: Context[Any, Any], paths: Iterable[str]) -> None:
    """Tell ``subscriptions/listen`` streams (2026-07-28) that these files and their directories changed."""
    uris: set[str] = set()
    for path in paths:
        uris.add(Path(path).as_uri())
        uris.add(Path(os.path.dirname(path)).as_uri())
    for uri in sorted(uris):
        await ctx.notify_resource_updated(uri)
