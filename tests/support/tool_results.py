"""Reading a tool's result in a test: its text, and its structured content when it succeeded."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content
