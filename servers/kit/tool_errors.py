"""The one error a client sees from any server's tool: a stable code first, then what to do instead.

Raising a :class:`CodedToolError` (a ``ToolError``) makes the SDK answer with an ``is_error``
result carrying only its message, never a traceback. The code (``not_found``, ``refused``,
``invalid_cursor``...) is the part to test against; the rest is prose for the model. A server may
subclass it to name its own errors (``FsError``, ``DbError``); the behaviour lives here.

The SDK's ``Tool.run`` puts ``Error executing tool <name>:`` in front of every failure's text, and
a crash's own text stays on the server. :func:`code_tool_errors` makes every tool of a server answer
with the code first instead: the coded error's own text, ``invalid_arguments`` for arguments the
input schema refuses, ``unknown_tool``, and ``internal_error`` for a crash (still logged with its
traceback on the server, never shown). It acts on the tools themselves, so the SDK's ``tools/call``
handler and the runtime's fast path, which both run ``Tool.run``, answer alike.
"""

from __future__ import annotations

import re
from typing import Any, Self

from mcp.server import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.tools.tool_manager import ToolManager
from pydantic import ValidationError

CODE = re.compile(r"[a-z][a-z0-9_]*: ")
"""How a coded text starts: the stable code, a colon and a space."""


class CodedToolError(ToolError):
    """A refusal or failure the client can act on. ``code`` is stable; ``str()`` is ``"<code>: <message>"``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.detail = message

    def __reduce__(self) -> tuple[type[Self], tuple[str, str]]:
        # Rebuilt from its parts when it crosses a process boundary (a worker process's pickle).
        return (type(self), (self.code, self.detail))


def coded_failure(tool_name: str, failure: ToolError) -> ToolError:
    """``failure`` (what ``Tool.run`` raised) with a text that starts with its stable code.

    A crash stays an ``UnexpectedToolError`` and an argument refusal keeps its ``ValidationError``
    cause, so the SDK still logs the one with its traceback and the other by field names only.
    """
    cause = failure.__cause__
    if isinstance(failure, UnexpectedToolError):
        text = (
            f"internal_error: the tool `{tool_name}` failed unexpectedly; the server logged the details. "
            "The arguments were not at fault: retry later, or report it to the operator"
        )
        coded: ToolError = UnexpectedToolError(text)
    elif isinstance(cause, CodedToolError):
        coded = ToolError(str(cause))
    elif isinstance(cause, ValidationError):
        coded = ToolError(
            f"invalid_arguments: {_argument_errors(cause)}; tools/list gives the input schema of `{tool_name}`"
        )
    else:
        text = str(cause) if isinstance(cause, ToolError | ResourceError) else str(failure)
        coded = ToolError(text if CODE.match(text) else f"tool_error: {text}")
    coded.__cause__ = cause
    return coded


def _argument_errors(error: ValidationError) -> str:
    """One clause per refused argument: where and why, without the value (the caller's data)."""
    parts = []
    for detail in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in detail["loc"]) or "arguments"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)


class CodedTool(Tool):
    """A registered tool whose failures start with their stable code (see :func:`coded_failure`)."""

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as failure:
            raise coded_failure(self.name, failure) from failure.__cause__


class CodedToolManager(ToolManager):
    """The SDK's tool manager, with an unknown tool name answered as ``unknown_tool``."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        if self.get_tool(name) is None:
            raise ToolError(f"unknown_tool: this server has no tool {name!r}; tools/list names the tools it has")
        return await super().call_tool(name, arguments, context, convert_result=convert_result)


def code_tool_errors(server: MCPServer[Any]) -> None:
    """Make every tool ``server`` has registered answer its failures code first. Call it last in ``build``.

    The SDK builds its ``Tool`` and ``ToolManager`` itself, so their classes are switched in place to the
    subclasses above (which add behaviour, not fields); the ``tools/call`` handler and ``MCPServer.call_tool``
    stay the SDK's, which is what lets the runtime's fast path keep serving the server.
    """
    manager = server._tool_manager
    manager.__class__ = CodedToolManager
    for tool in manager.list_tools():
        tool.__class__ = CodedTool
