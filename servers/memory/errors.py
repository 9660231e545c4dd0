"""The memory server's coded errors: the stable code first, then what was wrong and what to do."""

from __future__ import annotations

from servers.kit.tool_errors import CodedToolError


class MemoryToolError(CodedToolError):
    """A refusal or failure of a memory tool (``not_found``, ``forbidden``, ``version_conflict``...)."""


def entity_not_found(namespace: str, name: str) -> MemoryToolError:
    return MemoryToolError(
        "not_found",
        f"Entity with name {name} not found in namespace {namespace!r}; nothing was written. "
        "Create it first with `create_entities`",
    )


def store_unavailable(detail: str) -> MemoryToolError:
    return MemoryToolError(
        "store_unavailable", f"the memory store did not answer ({detail}); nothing was written, retry"
    )
