"""The structured query a client sends, and the checked form every backend compiles.

A client sends text (see :mod:`.query_text`), the text fields to search, filters on keyword,
number and date fields, a sort, the fields to return, the fields to highlight and the keyword
fields to facet on. :func:`plan_query` checks every name and value against the index's schema and
gives a :class:`QueryPlan`: what a backend needs, and nothing it must check again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from servers.search.errors import invalid_query
from servers.search.query_text import Node, has_fuzzy, parse_text
from servers.search.schema import IndexSchema, parse_date

FilterValue = str | float


class FilterClause(BaseModel):
    field: str = Field(min_length=1, max_length=48, description="a keyword, number or date field")
    equals: FilterValue | None = Field(default=None, description="keyword: exactly this value")
    any_of: list[FilterValue] | None = Field(default=None, max_length=256, description="keyword: one of these")
    gte: FilterValue | None = Field(default=None, description="number/date: at least (dates as ISO 8601)")
    gt: FilterValue | None = Field(default=None, description="number/date: more than")
    lte: FilterValue | None = Field(default=None, description="number/date: at most")
    lt: FilterValue | None = Field(default=None, description="number/date: less than")
    negate: bool = Field(default=False, description="keep the documents that do NOT match this filter")


class SortKey(BaseModel):
    field: str = Field(min_length=1, max_length=48, description="a keyword, number or date field, or _score")
    order: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True)
class KeywordFilter:
    field: str
    values: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True)
class RangeFilter:
    field: str
    kind: Literal["number", "date"]
    lower: float | datetime | None
    upper: float | datetime | None
    include_lower: bool
    include_upper: bool
    negate: bool = False


Filter = KeywordFilter | RangeFilter


@dataclass(frozen=True)
class QueryPlan:
    """A checked query: ``text`` (``None`` matches every document) over ``fields``, with ``filters``."""

    text: Node | None
    fields: tuple[str, ...]
    filters: tuple[Filter, ...] = ()
    fuzzy: bool = False


@dataclass(frozen=True)
class PagePlan:
    """What one page of ``search`` returns: order, window, fields, snippets and facets."""

    sort: tuple[tuple[str, Literal["asc", "desc"]], ...] = ()
    offset: int = 0
    limit: int = 10
    return_fields: tuple[str, ...] = ()
    highlight: tuple[str, ...] = ()
    snippet_chars: int = 200
    facets: tuple[str, ...] = ()
    facet_size: int = 10
    extra: dict[str, str] = field(default_factory=dict)


def _range_value(schema: IndexSchema, clause: FilterClause, value: FilterValue) -> float | datetime:
    kind = schema.type_of(clause.field)
    if kind == "date":
        return parse_date(value, f"filter on {clause.field!r}") if isinstance(value, str) else _number_as_date(clause)
    if isinstance(value, str):
        raise invalid_query(f"the filter on {clause.field!r} is a number field: give numbers, not strings")
    return float(value)


def _number_as_date(clause: FilterClause) -> datetime:
    raise invalid_query(f"the filter on {clause.field!r} is a date field: give ISO 8601 strings such as 2024-05-01")


def plan_filter(schema: IndexSchema, clause: FilterClause) -> Filter:
    """One checked filter.

    Raises:
        SearchError: ``unknown_field``, ``wrong_field_type`` or ``invalid_query`` naming what to change.
    """
    kind = schema.require(clause.field, ("keyword", "number", "date"), "a filter")
    bounds = [clause.gte, clause.gt, clause.lte, clause.lt]
    if kind == "keyword":
        if any(b is not None for b in bounds):
            raise invalid_query(f"{clause.field!r} is a keyword field: filter it with equals or any_of, not ranges")
        values = [clause.equals] if clause.equals is not None else list(clause.any_of or [])
        if not values or (clause.equals is not None and clause.any_of is not None):
            raise invalid_query(f"the filter on {clause.field!r} needs exactly one of equals or any_of")
        return KeywordFilter(clause.field, tuple(str(v) for v in values), clause.negate)
    if clause.equals is not None or clause.any_of is not None:
        if clause.any_of is not None or any(b is not None for b in bounds):
            raise invalid_query(f"{clause.field!r} is a {kind} field: filter it with equals or gte/gt/lte/lt")
        bounds = [clause.equals, None, clause.equals, None]
    if all(b is None for b in bounds):
        raise invalid_query(f"the filter on {clause.field!r} needs a bound: gte, gt, lte or lt")
    if (clause.gte is not None and clause.gt is not None) or (clause.lte is not None and clause.lt is not None):
        raise invalid_query(f"the filter on {clause.field!r} has two lower or two upper bounds: keep one of each")
    lower, upper = bounds[0] if bounds[0] is not None else bounds[1], bounds[2] if bounds[2] is not None else bounds[3]
    return RangeFilter(
        clause.field,
        "date" if kind == "date" else "number",
        None if lower is None else _range_value(schema, clause, lower),
        None if upper is None else _range_value(schema, clause, upper),
        include_lower=bounds[1] is None,
        include_upper=bounds[3] is None,
        negate=clause.negate,
    )


def plan_query(
    schema: IndexSchema,
    text: str | None,
    fields: list[str] | None,
    filters: list[FilterClause] | None,
    operator: Literal["and", "or"] = "and",
) -> QueryPlan:
    """The checked query of a ``search`` / ``count`` / ``explain`` call.

    Raises:
        SearchError: ``invalid_query``, ``unknown_field`` or ``wrong_field_type`` naming what to change.
    """
    searched = tuple(fields) if fields else tuple(schema.text_fields)
    for name in searched:
        schema.require(name, ("text",), "the fields searched")
    tree = parse_text(text, operator) if text is not None and text.strip() else None
    planned = tuple(plan_filter(schema, clause) for clause in filters or [])
    return QueryPlan(tree, searched, planned, fuzzy=tree is not None and has_fuzzy(tree))


def plan_sort(schema: IndexSchema, sort: list[SortKey] | None) -> tuple[tuple[str, Literal["asc", "desc"]], ...]:
    keys: list[tuple[str, Literal["asc", "desc"]]] = []
    for key in sort or []:
        if key.field != "_score":
            schema.require(key.field, ("keyword", "number", "date"), "sort")
        keys.append((key.field, key.order))
    if keys and keys[0][0] == "_score" and len(keys) == 1:
        return ()
    return tuple(keys)
