"""The argument types the search tools share, each with its bounds and description."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from servers.search.request import FilterClause, SortKey

Backend = Annotated[
    str | None,
    Field(
        default=None,
        max_length=64,
        description="a configured backend (`list_indexes` shows them); omit for the default",
    ),
]
IndexName = Annotated[
    str, Field(min_length=1, max_length=48, description="the index (lower-case letters, digits, _ -)")
]
QueryText = Annotated[
    str | None,
    Field(
        default=None,
        max_length=4096,
        description='words, "exact phrases", AND / OR / NOT, -word, (groups), word~1 or word~2 for fuzzy; '
        "omit to match every document",
    ),
]
FieldNames = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=48)]] | None,
    Field(default=None, max_length=64, description="the text fields to search; omit for all of them"),
]
Filters = Annotated[
    list[FilterClause] | None,
    Field(default=None, max_length=32, description="all must hold: keyword equals/any_of, number/date ranges"),
]
Operator = Annotated[
    Literal["and", "or"], Field(description="how words side by side combine: every word (and) or any (or)")
]
Sorting = Annotated[
    list[SortKey] | None,
    Field(default=None, max_length=4, description="order by fields (keyword, number, date); omit for relevance"),
]
Cursor = Annotated[str | None, Field(default=None, max_length=4096, description="next_cursor of the previous page")]
Ids = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=512)]],
    Field(min_length=1, max_length=10_000, description="document ids"),
]
