"""The annotated arguments the memory tools share."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from servers.memory.settings import NAMESPACE_PATTERN

Namespace = Annotated[
    str | None,
    Field(
        default=None,
        pattern=NAMESPACE_PATTERN,
        description="the namespace (a user, agent or project); omitted: the server's default; `list_namespaces` shows yours",
    ),
]
Cursor = Annotated[
    str | None,
    Field(default=None, max_length=4096, description="next_cursor of the previous page; omitted: the first page"),
]
MaxTokens = Annotated[
    int | None,
    Field(default=None, ge=100, le=1_000_000, description="the page's budget in tokens (capped by the operator)"),
]
PageLimit = Annotated[
    int | None, Field(default=None, ge=1, le=100_000, description="entities per page (capped by the operator)")
]
TtlSeconds = Annotated[
    int | None,
    Field(default=None, ge=1, description="forget what this call writes after this many seconds; omitted: keep it"),
]
EntityName = Annotated[str, Field(min_length=1, max_length=1000, description="the entity's name")]
