"""The argument types the vectorstore's tools share: names, filters, bounds, each with its description."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

Backend = Annotated[
    str | None,
    Field(
        default=None,
        max_length=64,
        description="a configured backend (`list_collections` shows them); omit for the default",
    ),
]
CollectionName = Annotated[
    str, Field(min_length=3, max_length=63, description="the collection's name (3-63 letters, digits, . _ -)")
]
EmbedderName = Annotated[
    str | None,
    Field(
        default=None,
        max_length=64,
        description="a configured embedder; omit to use the one matching the collection's pinned model",
    ),
]
Where = Annotated[
    dict[str, Any] | None,
    Field(
        default=None,
        description='metadata filter: {"field": value}, {"field": {"$gt": 1}} ($eq $ne $gt $gte $lt $lte $in $nin), '
        '{"$and": [...]}, {"$or": [...]}, {"$not": {...}}',
    ),
]
Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=512)]] | None, Field(max_length=10_000)]
Cursor = Annotated[str | None, Field(max_length=4096, description="next_cursor of the previous page")]
MaxTextChars = Annotated[
    int | None,
    Field(ge=16, le=1_000_000, description="cut each text at this many characters (with a marker)"),
]
