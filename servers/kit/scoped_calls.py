"""The scoped-call preamble of a tool, written once: resolve the request's scope, or ask the client first.

Some tools run within a scope that depends on the request: the filesystem's allowed directories
narrowed by the client's roots, a memory namespace, an index allow-list. Working it out may need
the client's input (a 2026-07-28 ``InputRequiredResult``), in which case the tool must answer with
that request and do nothing else. :func:`scoped` wraps a tool so that its body receives the
resolved ``scope`` as a keyword argument and never sees the input round trip::

    in_scope = scoped(lambda ctx: request_scope(ctx, policy))

    @server.tool(annotations=READ_ONLY)
    @in_scope
    async def read_text_file(path: PathArg, ctx: Context[Any, Any], scope: Scope) -> TextFile | InputRequiredResult:
        ...

The ``scope`` parameter is hidden from the tool's input schema; the tool must take a ``Context``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult

S = TypeVar("S")
ToolFunction = Callable[..., Awaitable[Any]]
ScopeResolver = Callable[[Context[Any, Any]], Awaitable[S | InputRequiredResult]]

SCOPE_PARAMETER = "scope"


def scoped(resolve: ScopeResolver[S]) -> Callable[[ToolFunction], ToolFunction]:
    """A decorator that runs ``resolve(ctx)`` before the tool and passes its result as ``scope``.

    When ``resolve`` answers with an ``InputRequiredResult`` the tool's body is not run and that
    result is the tool's answer; an exception from ``resolve`` is the tool's error.

    Raises:
        TypeError: (when decorating) the tool has no ``Context`` parameter or no ``scope`` parameter.
    """

    def decorate(tool: ToolFunction) -> ToolFunction:
        signature = inspect.signature(tool, eval_str=True)
        if SCOPE_PARAMETER not in signature.parameters:
            raise TypeError(f"{tool.__name__} is scoped but takes no {SCOPE_PARAMETER!r} parameter")
        context = _context_parameter(signature, tool.__name__)
        visible = [p for p in signature.parameters.values() if p.name != SCOPE_PARAMETER]

        @functools.wraps(tool)
        async def run_in_scope(*args: Any, **kwargs: Any) -> Any:
            scope = await resolve(kwargs[context])
            if isinstance(scope, InputRequiredResult):
                return scope
            return await tool(*args, **kwargs, **{SCOPE_PARAMETER: scope})

        # The SDK builds the input schema from the signature and finds the Context from the annotations.
        run_in_scope.__signature__ = signature.replace(parameters=visible)  # type: ignore[attr-defined]
        run_in_scope.__annotations__ = {p.name: p.annotation for p in visible} | {"return": signature.return_annotation}
        return run_in_scope

    return decorate


def _context_parameter(signature: inspect.Signature, name: str) -> str:
    for parameter in signature.parameters.values():
        annotation = parameter.annotation
        origin = getattr(annotation, "__origin__", annotation)
        if inspect.isclass(origin) and issubclass(origin, Context):
            return parameter.name
    raise TypeError(f"{name} is scoped but takes no Context parameter to resolve its scope from")
