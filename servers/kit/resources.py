"""What every server's per-backend resources share: one JSON resource per named thing of each backend.

A server whose backends hold named things (search indexes, vector collections) lists each as a
resource ``<scheme>://<backend>/<name>`` and reads it as the JSON of its description;
:class:`ListingServer` adds such a listing to ``resources/list``.
:func:`backend_resources` lists them over every backend as a :class:`Listing` says, leaving out a
backend that cannot answer (readiness reports it); :func:`described_json` reads one, a coded error becoming a ``ResourceError`` that carries its code and message.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import Resource as MCPResource
from pydantic import BaseModel

from servers.kit.tool_errors import CodedToolError

JSON_MIME = "application/json"


class ListingServer(MCPServer[Any]):
    """An ``MCPServer`` whose ``resources/list`` gives its registered resources, then those ``listed()`` finds at
    the time of the call (a server's indexes, collections or namespaces, which come and go)."""

    def __init__(self, listed: Callable[[], Awaitable[list[MCPResource]]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listed = listed

    async def list_resources(self) -> list[MCPResource]:
        return [*await super().list_resources(), *await self._listed()]


@dataclass(frozen=True)
class Listing:
    """How each listed resource reads: ``title`` is formatted with ``{backend}`` and ``{name}``."""

    title: str
    description: str


async def backend_resources(
    backends: Iterable[str],
    names_of: Callable[[str], Awaitable[Iterable[str]]],
    uri_of: Callable[[str, str], str],
    listing: Listing,
) -> list[MCPResource]:
    """A JSON resource ``uri_of(backend, name)`` for every name ``names_of(backend)`` gives, backends in name order."""
    resources: list[MCPResource] = []
    for backend in sorted(backends):
        try:
            names = await names_of(backend)
        except CodedToolError:
            continue  # an unreachable backend lists nothing; readiness reports it
        resources.extend(
            MCPResource(
                uri=uri_of(backend, name),
                name=f"{backend}/{name}",
                title=listing.title.format(backend=backend, name=name),
                description=listing.description,
                mime_type=JSON_MIME,
            )
            for name in names
        )
    return resources


async def described_json(describe: Awaitable[BaseModel]) -> str:
    """The JSON of the description ``describe`` gives.

    Raises:
        ResourceError: the description failed with a coded error (its ``code: message`` is the text).
    """
    try:
        info = await describe
    except CodedToolError as exc:
        raise ResourceError(str(exc)) from None
    return json.dumps(info.model_dump(mode="json"), ensure_ascii=False)
