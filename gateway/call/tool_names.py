"""Tool names in an upstream's words, as the client sees them: `` `sql_query` `` becomes `` `database_sql_query` ``.

A server's prompts and error texts name its tools by its own names, but through ``/mcp`` the client
knows them as ``<server>_<name>``. A server marks a tool name in such a text as code, between
backticks (``run it with the `sql_query` tool``), and :class:`ToolNames` rewrites exactly those code
spans that are one of that server's tool names, in the texts meant for the model: prompt messages
and the text of an error result.

Only marked names: a prompt carries data (a schema whose table or column may be called
``sql_explain``), an error quotes it (``no such column: sql_query``), and a tool may be named like a
word (``grep``); none of those is a marked tool name, so none changes. A successful result is data
and is never touched; neither is anything on ``/servers/<name>/mcp``, where the client knows the
tools by the server's own names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CODE_SPAN = re.compile(r"`([A-Za-z0-9_-]{1,64})`")


class ToolNames:
    """Rewrites one server's tool names (``names`` maps its name to the client's) in texts for the model."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = {name: shown for name, shown in names.items() if name != shown}

    def text(self, text: str) -> str:
        """``text`` with the server's tool names as the client knows them."""
        if not self.names:
            return text
        return _CODE_SPAN.sub(lambda match: f"`{self.names.get(match.group(1), match.group(1))}`", text)

    def error_result(self, result: dict[str, Any]) -> dict[str, Any]:
        """A ``tools/call`` result with the text of an error rewritten; any other result as it is."""
        if not self.names or result.get("isError") is not True:
            return result
        return {**result, "content": [self._block(block) for block in result.get("content") or ()]}

    def prompt_result(self, result: dict[str, Any]) -> dict[str, Any]:
        """A ``prompts/get`` result with its description and its messages' text rewritten."""
        if not self.names:
            return result
        shown = dict(result)
        if isinstance(result.get("description"), str):
            shown["description"] = self.text(result["description"])
        messages = result.get("messages")
        if isinstance(messages, list):
            shown["messages"] = [self._message(message) for message in messages]
        return shown

    def _message(self, message: Any) -> Any:
        if not isinstance(message, dict):
            return message
        content = message.get("content")
        if isinstance(content, list):
            return {**message, "content": [self._block(block) for block in content]}
        return {**message, "content": self._block(content)}

    def _block(self, block: Any) -> Any:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            return {**block, "text": self.text(block["text"])}
        return block
