"""What a server package hands the runtime: how to build it, how to tell it is ready, how to read its arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from pydantic import BaseModel, Field

from mesh.config import Settings


class Readiness(BaseModel):
    """The backend's readiness as ``/health`` reports it: ``ready`` and one line per check."""

    ready: bool
    checks: dict[str, str] = Field(default_factory=dict)


def _no_arguments(settings: Settings, arguments: Sequence[str]) -> Settings:
    if arguments:
        raise ValueError(f"this server takes no positional arguments (got {' '.join(arguments)!r})")
    return settings


async def _always_ready(settings: Settings) -> Readiness:
    return Readiness(ready=True)


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes one HTTP request to the server may carry, and the setting an operator raises for more."""

    max_bytes: int
    setting: str


def _sdk_body_limit(settings: Settings) -> BodyLimit:
    return BodyLimit(DEFAULT_MAX_REQUEST_BODY_SIZE, "the server's request limit")


@dataclass(frozen=True)
class ServerDefinition:
    """One server of the suite, as the runtime sees it.

    ``build`` makes the MCP server from the settings; ``readiness`` checks its backend;
    ``apply_arguments`` folds extra command-line words (``mcp-suite serve filesystem DIR``) into the settings;
    ``body_limit`` is what one HTTP request may carry, derived from the server's own documented caps.
    """

    name: str
    build: Callable[[Settings], MCPServer[Any]]
    readiness: Callable[[Settings], Awaitable[Readiness]] = _always_ready
    apply_arguments: Callable[[Settings, Sequence[str]], Settings] = _no_arguments
    port_of: Callable[[Settings], int] = lambda settings: 0
    body_limit: Callable[[Settings], BodyLimit] = _sdk_body_limit
