"""The portable metadata filter language: parsed and validated into a small AST, compiled per backend.

The shape (a subset of Chroma's ``where``, chosen because it is the one agents already know)::

    {"field": value}                                  equality
    {"field": {"$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte": value}}
    {"field": {"$in" | "$nin": [value, ...]}}
    {"$and": [filter, ...]}   {"$or": [filter, ...]}   {"$not": filter}
    {"a": 1, "b": {"$gt": 2}}                          several keys: all of them ($and)

Values are ``str``, ``int``, ``float`` or ``bool``; the range operators take numbers only. A bad
shape raises :class:`FilterError` (``invalid_filter``) naming the place (``filter.$and[1].year``).

Semantics, the same on every backend (the behaviour suite checks it):

- numbers compare as numbers (``1`` equals ``1.0``); a bool is not a number (``true`` never equals ``1``);
- a document without the field matches no ``$eq``, ``$in`` or range, and matches every ``$ne`` and ``$nin``;
- ``$not`` is pushed down before compiling (:func:`push_not_down`, De Morgan): ``$not $eq`` is
  ``$ne``, ``$not $in`` is ``$nin``, ``$not $gt`` is ``$lte`` and so on. The range rewrite is where
  ``$not`` differs from a logical complement: ``{"$not": {"year": {"$gt": 2000}}}`` matches documents
  whose ``year`` is at most 2000, not documents without a ``year`` (Chroma cannot test for a missing
  field, so no backend is allowed to either).

What a backend cannot express (a field name it reserves, for instance) is refused by its compiler
with ``filter_unsupported`` (see ``backends/*_filters.py``) before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from servers.kit.tool_errors import CodedToolError

Scalar = str | int | float | bool
CompareOp = Literal["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]
MemberOp = Literal["$in", "$nin"]
RANGE_OPS: frozenset[str] = frozenset({"$gt", "$gte", "$lt", "$lte"})
COMPARE_OPS: frozenset[str] = frozenset({"$eq", "$ne"}) | RANGE_OPS
MEMBER_OPS: frozenset[str] = frozenset({"$in", "$nin"})

MAX_DEPTH = 16
MAX_NODES = 256
MAX_LIST = 1024
MAX_STRING = 1024

_NEGATED: dict[str, str] = {
    "$eq": "$ne",
    "$ne": "$eq",
    "$gt": "$lte",
    "$gte": "$lt",
    "$lt": "$gte",
    "$lte": "$gt",
    "$in": "$nin",
    "$nin": "$in",
}


class FilterError(CodedToolError):
    """A filter that does not parse: code ``invalid_filter``, the message names the place."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(
            "invalid_filter",
            f"{where}: {message}. A filter is {{field: value}}, {{field: {{$op: value}}}} with $eq $ne $gt $gte "
            "$lt $lte $in $nin, or $and/$or (a list of filters) and $not (one filter)",
        )


@dataclass(frozen=True)
class Compare:
    field: str
    op: CompareOp
    value: Scalar


@dataclass(frozen=True)
class Member:
    field: str
    op: MemberOp
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    item: Filter


Filter = Compare | Member | And | Or | Not


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Parser:
    def __init__(self) -> None:
        self.nodes = 0

    def node(self, raw: object, where: str, depth: int) -> Filter:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(where, f"the filter has more than {MAX_NODES} conditions")
        if depth > MAX_DEPTH:
            raise FilterError(where, f"the filter nests deeper than {MAX_DEPTH} levels")
        if not isinstance(raw, Mapping) or not raw:
            raise FilterError(where, "expected an object with at least one key")
        items = [self.entry(str(key), value, where, depth) for key, value in raw.items()]
        return items[0] if len(items) == 1 else And(tuple(items))

    def entry(self, key: str, value: object, where: str, depth: int) -> Filter:
        here = f"{where}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise FilterError(here, "expected a non-empty list of filters")
            items = tuple(self.node(item, f"{here}[{index}]", depth + 1) for index, item in enumerate(value))
            return And(items) if key == "$and" else Or(items)
        if key == "$not":
            return Not(self.node(value, here, depth + 1))
        if key.startswith("$"):
            raise FilterError(here, f"unknown operator {key!r}")
        if not key or len(key) > MAX_STRING:
            raise FilterError(here, "a field name must have 1 to 1024 characters")
        if isinstance(value, Mapping):
            if len(value) != 1:
                raise FilterError(here, 'expected exactly one operator, such as {"$gt": 3}')
            ((op, operand),) = value.items()
            return self.condition(key, str(op), operand, f"{here}.{op}")
        return Compare(key, "$eq", self.scalar(value, here))

    def condition(self, field: str, op: str, operand: object, here: str) -> Filter:
        if op in COMPARE_OPS:
            value = self.scalar(operand, here)
            if op in RANGE_OPS and not is_number(value):
                raise FilterError(here, f"{op} compares numbers only")
            return Compare(field, cast(CompareOp, op), value)
        if op in MEMBER_OPS:
            if not isinstance(operand, list) or not operand:
                raise FilterError(here, "expected a non-empty list of values")
            if len(operand) > MAX_LIST:
                raise FilterError(here, f"at most {MAX_LIST} values")
            values = tuple(self.scalar(item, f"{here}[{index}]") for index, item in enumerate(operand))
            return Member(field, cast(MemberOp, op), values)
        raise FilterError(here, f"unknown operator {op!r}")

    def scalar(self, value: object, here: str) -> Scalar:
        if isinstance(value, bool | int | str):
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise FilterError(here, f"a string value has at most {MAX_STRING} characters")
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise FilterError(here, "a number must be finite")
            return value
        raise FilterError(here, f"expected a string, number or boolean, not {type(value).__name__}")


def parse_filter(raw: Mapping[str, Any] | None, where: str = "filter") -> Filter | None:
    """The AST of ``raw`` (``None`` for no filter).

    Raises:
        FilterError: ``invalid_filter``, naming the place of the first fault.
    """
    if raw is None:
        return None
    return _Parser().node(raw, where, 0)


def push_not_down(node: Filter, negate: bool = False) -> Filter:
    """``node`` without any :class:`Not`: negations moved onto the conditions (see the module docstring)."""
    if isinstance(node, Not):
        return push_not_down(node.item, not negate)
    if isinstance(node, And | Or):
        items = tuple(push_not_down(item, negate) for item in node.items)
        flip = negate
        if isinstance(node, And) != flip:
            return And(items)
        return Or(items)
    if not negate:
        return node
    if isinstance(node, Compare):
        return Compare(node.field, cast(CompareOp, _NEGATED[node.op]), node.value)
    return Member(node.field, cast(MemberOp, _NEGATED[node.op]), node.values)


def fields_of(node: Filter) -> set[str]:
    """Every field name a filter tests."""
    if isinstance(node, Compare | Member):
        return {node.field}
    if isinstance(node, Not):
        return fields_of(node.item)
    return set().union(*(fields_of(item) for item in node.items))
