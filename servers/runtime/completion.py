"""``completion/complete`` for every server: the arguments a server can complete, an empty list otherwise.

A server names what it can complete in its ``build`` with :func:`add_completer`: one async
function per argument name (``connection``, ``path``...), used for every prompt argument and every
resource-template variable of that name. It gets the partial value and the arguments already
given, and returns candidates; the runtime answers at most :data:`MAX_VALUES` of them with the
total. A known prompt argument or template variable with no completer answers an empty list. An
unknown prompt, template or argument is invalid params (``-32602``), as the spec asks. A server
that registered its own SDK completion handler (``@server.completion()``) keeps it.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CompleteRequestParams, CompleteResult, Completion, PromptReference

ArgumentCompleter = Callable[[str, Mapping[str, str]], Awaitable[Iterable[str]]]
"""``(partial value, arguments already given) -> candidates``."""

MAX_VALUES = 100
"""The most values one completion may carry (the spec's cap)."""

_VARIABLE = re.compile(r"\{[+#./;?&]?([^}]+)\}")
_completers: weakref.WeakKeyDictionary[MCPServer[Any], dict[str, ArgumentCompleter]] = weakref.WeakKeyDictionary()


def add_completer(server: MCPServer[Any], argument: str, completer: ArgumentCompleter) -> None:
    """Complete every prompt argument and template variable named ``argument`` of ``server`` with ``completer``."""
    _completers.setdefault(server, {})[argument] = completer


def template_variables(uri_template: str) -> set[str]:
    """The variable names of an RFC 6570 template: ``{+path}`` and ``{a,b*}`` included."""
    names: set[str] = set()
    for group in _VARIABLE.findall(uri_template):
        names.update(part.rstrip("*").split(":")[0] for part in group.split(","))
    return names


async def _argument_names(server: MCPServer[Any], params: CompleteRequestParams) -> tuple[str, set[str]]:
    ref = params.ref
    if isinstance(ref, PromptReference):
        prompts = {prompt.name: prompt for prompt in await server.list_prompts()}
        prompt = prompts.get(ref.name)
        if prompt is None:
            raise MCPError(INVALID_PARAMS, f"unknown prompt {ref.name!r}; `prompts/list` names the prompts")
        return f"prompt {ref.name!r}", {argument.name for argument in prompt.arguments or ()}
    templates = {template.uri_template for template in await server.list_resource_templates()}
    if ref.uri not in templates:
        raise MCPError(INVALID_PARAMS, f"unknown resource template {ref.uri!r}; `resources/templates/list` names them")
    return f"template {ref.uri!r}", template_variables(ref.uri)


def completion_handler(server: MCPServer[Any]) -> Callable[..., Awaitable[CompleteResult]]:
    """The ``completion/complete`` handler for ``server`` (see the module's docstring)."""

    async def complete(_ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams) -> CompleteResult:
        what, names = await _argument_names(server, params)
        name = params.argument.name
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise MCPError(INVALID_PARAMS, f"{what} has no argument {name!r}; its arguments: {known}")
        completer = _completers.get(server, {}).get(name)
        given = dict(params.context.arguments or {}) if params.context else {}
        values = list(dict.fromkeys(await completer(params.argument.value, given))) if completer else []
        return CompleteResult(
            completion=Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)
        )

    return complete
